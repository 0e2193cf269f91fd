"""Everything on the node that differs between operating systems, so the rest stays portable."""
from __future__ import annotations

import getpass
import os
import socket
from typing import Callable

import psutil

OwnerCheck = Callable[[psutil.Process], bool]


def current_user() -> str:
    """Login name of the user this node runs as."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # getpass needs LOGNAME/USER/USERNAME or a passwd entry; services and containers may lack both.
        return _without_domain(psutil.Process().username())


def hostname() -> str:
    return socket.gethostname()


def owner_check() -> OwnerCheck:
    """A predicate telling whether a process belongs to the user this node runs as.

    The predicate may raise psutil.NoSuchProcess or psutil.AccessDenied like any process query.
    """
    if os.name == "posix":
        # Comparing numeric ids avoids a user-database lookup per process.
        my_uid = os.getuid()
        return lambda proc: proc.uids().real == my_uid
    # Windows account names compare case-insensitively; include the domain so that a local and a
    # domain account with the same name stay apart.
    me = psutil.Process().username().casefold()
    return lambda proc: proc.username().casefold() == me


def owner_name(proc: psutil.Process) -> str:
    """The account that owns proc, without a Windows `DOMAIN\\` prefix."""
    return _without_domain(proc.username())


def _without_domain(username: str) -> str:
    return username.rpartition("\\")[2]
