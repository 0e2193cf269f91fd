"""Linux namespaces for tests that need a system that lacks something: inotify instances, a
writable folder, a name with IPv6 addresses only. Each is a command prefix that sets the lack up
in new user (and mount) namespaces and then runs the program under test; nothing outside that
process changes, and no privilege is needed where unprivileged user namespaces are enabled (the
default on Debian and Ubuntu)."""
from __future__ import annotations

import functools
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@functools.lru_cache(maxsize=None)
def namespaces_refused() -> str:
    """Why user and mount namespaces cannot be made here; empty when they can."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return "needs Linux and unshare (util-linux)"
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                           capture_output=True, text=True)
    return "" if probe.returncode == 0 else f"cannot create user namespaces: {probe.stderr.strip()}"


def require_namespaces() -> None:
    reason = namespaces_refused()
    if reason:
        pytest.skip(reason)


def _inside(setup: str) -> list[str]:
    require_namespaces()
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-ec", f'{setup}\nexec "$@"', "sh"]


def without_inotify() -> list[str]:
    """A prefix under which no inotify instance can be created (the per-user limit is 0)."""
    return _inside("echo 0 > /proc/sys/user/max_inotify_instances")


def read_only(folder: Path) -> list[str]:
    """A prefix under which ``folder`` is a read-only mount."""
    where = shlex.quote(str(folder))
    return _inside(f"mount --bind {where} {where}\nmount -o remount,ro,bind {where} {where}")


def with_hosts_file(hosts: Path) -> list[str]:
    """A prefix under which ``hosts`` is /etc/hosts, so names resolve as it says."""
    return _inside(f"mount --bind {shlex.quote(str(hosts))} /etc/hosts")
