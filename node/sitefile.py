"""The machine-wide node.toml: where it is, and whether it may act as the administrator's policy.

Its keys outrank a user's environment and own settings file (common.settings.resolve), so a file
a user can write must not pass for it. On Linux the places to look come from ``XDG_CONFIG_DIRS``,
which a user can set for their own session: every entry is searched in order, ``/etc/xdg`` is
searched last in any case, and a file counts only when it and its folder belong to root and only
root may write them. On Windows the place is ProgramData as Windows reports it (not from the
environment); who may write there is the folder's ACL, which docs/deploy.md has the technician set.
"""
from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path
from typing import Callable, Mapping, Sequence

import platformdirs

log = logging.getLogger("procmesh.node")

APP = "procmesh"
FILE_NAME = "node.toml"
XDG_DEFAULT = "/etc/xdg"


def candidates(system: str = sys.platform, environ: Mapping[str, str] = os.environ) -> list[Path]:
    """The places a machine-wide node.toml may be, in the order they are searched."""
    if system.startswith("linux") or "bsd" in system:
        entries = [e for e in environ.get("XDG_CONFIG_DIRS", "").split(":") if os.path.isabs(e)]
        folders = list(dict.fromkeys([*entries, XDG_DEFAULT]))   # in order, each once
        return [Path(folder) / APP / FILE_NAME for folder in folders]
    return [Path(platformdirs.site_config_dir(APP, appauthor=False)) / FILE_NAME]


def owned_by_root(path: Path) -> bool:
    """A POSIX file (and its folder) that only root can have written or can replace."""
    for item in (path, path.parent):
        info = item.stat()
        if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return False
    return True


def trust_rule(system: str = sys.platform) -> Callable[[Path], bool]:
    if system == "win32":
        return lambda path: True
    return owned_by_root


def find(places: Sequence[Path], trusted: Callable[[Path], bool]) -> Path | None:
    """The first file in ``places`` that exists and is trusted; the skipped ones are logged."""
    for place in places:
        try:
            if not place.is_file():
                continue
            if trusted(place):
                return place
        except OSError as exc:
            log.warning("ignored the machine-wide settings file %s: %s", place, exc.strerror or exc)
            continue
        log.warning("ignored the machine-wide settings file %s: it and its folder must belong to "
                    "root and be writable by root only", place)
    return None


def machine_settings_file() -> Path | None:
    return find(candidates(), trust_rule())
