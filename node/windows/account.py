"""Which account a process runs as, read from its access token (pywin32). Windows only.

``USERNAME`` and the other environment variables are the user's to change (``setx`` needs no
administrator); the token is not.
"""
from __future__ import annotations

import pywintypes
import win32api
import win32con
import win32security

from node.accounts import Account

PROCESS_QUERY_LIMITED_INFORMATION = 0x1000


def process_account(pid: int | None = None) -> Account:
    """The account of process ``pid`` (this process when None); PermissionError when Windows
    refuses to open it."""
    try:
        if pid is None:
            process = win32api.GetCurrentProcess()
        else:
            process = win32api.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
        token = win32security.OpenProcessToken(process, win32con.TOKEN_QUERY)
        sid = win32security.GetTokenInformation(token, win32security.TokenUser)[0]
    except pywintypes.error as exc:
        raise PermissionError(exc.winerror, exc.strerror) from None
    sid_text = win32security.ConvertSidToStringSid(sid)
    try:
        name, domain, _kind = win32security.LookupAccountSid(None, sid)
    except pywintypes.error:
        # A domain account while no domain controller answers: the SID still tells people apart.
        return Account(sid_text, "", "")
    return Account(sid_text, domain, name)
