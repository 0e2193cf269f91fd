"""Who a process counts for: the rules, the same on every platform; the Windows facts they take
come from node.windows.account (the process token)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("procmesh.node")

# LocalSystem, LocalService, NetworkService; their names are translated on non-English Windows,
# their SIDs are not.
SERVICE_SIDS = frozenset({"S-1-5-18", "S-1-5-19", "S-1-5-20"})
# NT SERVICE\*, IIS APPPOOL\*, Window Manager\DWM-n, Font Driver Host\UMFD-n: accounts of programs.
SERVICE_SID_PREFIXES = ("S-1-5-80-", "S-1-5-82-", "S-1-5-90-", "S-1-5-96-")
SERVICE_NAMES = frozenset({"system", "local service", "network service"})


@dataclass(frozen=True)
class Account:
    sid: str      # "S-1-5-21-..."; "" where there are no SIDs
    domain: str   # "LAB", "NT AUTHORITY", the computer's name for local accounts
    name: str     # "" when Windows cannot map the SID to a name


def is_service_account(account: Account) -> bool:
    """Accounts that run services and system programs, never a person (scope "all" skips them);
    names ending in ``$`` are computer and managed service accounts."""
    if account.sid in SERVICE_SIDS or account.sid.startswith(SERVICE_SID_PREFIXES):
        return True
    return account.name.endswith("$") or (not account.sid and account.name.casefold() in SERVICE_NAMES)


def user_name(account: Account) -> str:
    """The name a person is counted under: without the domain, and case-folded, because Windows
    takes a logon name in any case; the SID when no name can be had."""
    return account.name.casefold() if account.name else account.sid


def owner_from_account(account: Account) -> str | None:
    """The user a process counts for, or None for a service account (nobody's use)."""
    return None if is_service_account(account) else user_name(account)


def token_user(lookup: Callable[[], Account], fallback: Callable[[], str]) -> str:
    """This process's user from its token; ``fallback`` (psutil's reading of the same token) only
    when the lookup fails, which Windows should never do for a process's own token."""
    try:
        return user_name(lookup())
    except OSError as exc:
        log.warning("cannot read this process's token (%s); taking the user name from psutil", exc)
        return fallback().rpartition("\\")[2].casefold()
