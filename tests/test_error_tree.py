"""The README's tree of errors lists every ProcmeshError subclass the code defines, and no other."""
from __future__ import annotations

import importlib
import re

from common.errors import ProcmeshError
from tests.processes import REPO

PACKAGES = ("common", "hub", "node")
# Windows-only modules (pywin32, ctypes.windll) do not import elsewhere; none defines an error.
WINDOWS_ONLY = ("node", "windows")


def subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | subclasses(sub)
    return found


def test_the_readme_lists_every_error_class() -> None:
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            if parts[:2] != WINDOWS_ONLY and parts[-1] != "__main__":
                importlib.import_module(".".join(parts).removesuffix(".__init__"))
    defined = {cls.__name__ for cls in subclasses(ProcmeshError) if cls.__module__.split(".")[0] in PACKAGES}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    tree = readme.split("## Errors", 1)[1].split("```", 2)[1]
    listed = set(re.findall(r"(?:├──|└──)\s+(\w+)", tree))
    assert listed == defined
