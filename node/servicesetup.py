"""The SYSTEM node as a Windows service: the rules of ``procmesh-node service``, portable so they
are tested everywhere; node.windows.service does the Windows calls.

The service runs ``python.exe -m node.windows.service NODE-ARGUMENTS`` as LocalSystem, starts at
boot, counts every user's programs (``--scope all``) and logs to ProgramData. Its settings come
from the machine-wide node.toml and from the arguments given to ``service install``.
"""
from __future__ import annotations

import ntpath
import subprocess
from pathlib import PureWindowsPath
from typing import Sequence

from common.settings import SettingsError

SERVICE_NAME = "procmesh-node"
SERVICE_MODULE = "node.windows.service"
LOG_NAME = "node-service.log"
# Restart 10 s after a first failure, then after 60 s; a day without failures starts the count anew.
RESTART_DELAYS_MS = (10_000, 60_000, 60_000)
FAILURE_RESET_SECONDS = 86_400
# How long Windows waits for the node at shutdown (PRESHUTDOWN) and at a stop: the bye takes ~2 s.
STOP_WAIT_SECONDS = 10.0
REFUSED_ARGUMENTS = ("--scope", "--once", "--node-id")


def check_node_arguments(args: Sequence[str]) -> None:
    """What the service must decide itself: it counts every user, runs for good, and is the
    machine's node (its id is HOST/system)."""
    for arg in args:
        if arg.split("=", 1)[0] in REFUSED_ARGUMENTS:
            raise SettingsError(f"procmesh-node service install: {arg.split('=', 1)[0]} is not for the "
                                "service, which always counts every user's programs (--scope all)")


def service_node_arguments(args: Sequence[str], log_folder: str) -> list[str]:
    """The node's command line inside the service; a --log-file among ``args`` wins (it comes later)."""
    return ["--scope", "all", "--log-file", ntpath.join(log_folder, LOG_NAME), *args]


def service_python(executable: str, prefix: str, base_prefix: str) -> str:
    """The python.exe the service runs. A virtual environment's python.exe only starts the real
    one as a child, and the service manager would wait for the wrong process."""
    if prefix != base_prefix:
        raise SettingsError("procmesh-node service install: this Python is a virtual environment; "
                            "install procmesh into a Python installed for all users and run it from there")
    path = PureWindowsPath(executable)
    if path.name.lower() == "pythonw.exe":
        path = path.with_name("python.exe")
    return str(path)


def service_arguments(node_args: Sequence[str]) -> str:
    """What follows python.exe on the service's command line, quoted for Windows."""
    return subprocess.list2cmdline(["-m", SERVICE_MODULE, *node_args])
