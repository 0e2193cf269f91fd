"""The Windows-only modules, checked where no Windows runs: they type-check against the Windows
stubs of ctypes and pywin32 (so every call names a function and constant that exists, with the
right arguments), and no other platform ever imports them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.processes import REPO, python_env

WINDOWS_ONLY = sorted([*(str(p.relative_to(REPO)) for p in (REPO / "node" / "windows").glob("*.py")),
                       "node/presence/windows.py"])


def test_the_windows_modules_type_check_against_windows_stubs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--platform", "win32", "--python-version", "3.10",
         "--follow-imports=silent", "--cache-dir", str(tmp_path), "--check-untyped-defs", *WINDOWS_ONLY],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_windows_module_is_imported_on_other_systems(tmp_path: Path) -> None:
    code = ("import sys, node.cli, node.scanner, node.platform, node.agent, node.keys\n"
            "print(sorted(m for m in sys.modules if m.startswith('node.windows.')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=python_env(tmp_path),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
