"""Everything on the node that differs between operating systems, so the rest stays portable."""
from __future__ import annotations

import os
import socket
import sys
from typing import Callable

import psutil

from node.accounts import owner_from_account, token_user

WINDOWS = sys.platform == "win32"

OwnerCheck = Callable[[psutil.Process], bool]


def current_user() -> str:
    """Login name of the user this node runs as, from the account the process runs as, never from
    environment variables (USER, USERNAME) that the user may set to anything."""
    if WINDOWS:
        from node.windows.account import process_account
        return token_user(process_account, lambda: psutil.Process().username())
    import pwd   # POSIX only, like this branch
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        # A uid without a passwd entry (containers): its number is all there is.
        return str(os.geteuid())


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


def owner_name(proc: psutil.Process) -> str | None:
    """The user proc counts for, without a Windows ``DOMAIN\\`` prefix; None for a service account
    (SYSTEM, LOCAL SERVICE, NETWORK SERVICE, ``*$``), which is nobody's use."""
    if WINDOWS:
        from node.windows.account import process_account
        return owner_from_account(process_account(proc.pid))
    return proc.username()
