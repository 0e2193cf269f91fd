"""Windows desktops (ctypes, user32, kernel32 and wtsapi32).

A node run as the user who logged in reads that user's desktop: idle time from GetLastInputInfo,
the focused window's process from GetForegroundWindow and GetWindowThreadProcessId, and the lock
from the input desktop (the lock screen runs on the "Winlogon" desktop). A node run as SYSTEM with
scope = "all" sees no desktop of its own: it asks the WTS API for each logged-on user's last input
and lock state, and the focused window stays unknown.

The functions at the top interpret what Windows answers and are tested on every system; the
classes call Windows and have not been run outside it.
"""
from __future__ import annotations

import ctypes
import platform
from ctypes import wintypes

from node.presence.probe import ProbeUnavailable, Reading, Readings

TICK_WRAP = 1 << 32            # GetTickCount and LASTINPUTINFO.dwTime are 32-bit milliseconds
FILETIME_UNITS_PER_SECOND = 10_000_000
WTS_ACTIVE = 0                 # WTS_CONNECTSTATE_CLASS.WTSActive
WTS_SESSION_INFO_EX = 25       # WTS_INFO_CLASS.WTSSessionInfoEx
WTS_SESSIONSTATE_LOCK = 0
WTS_SESSIONSTATE_UNLOCK = 1
DESKTOP_READOBJECTS = 0x0001
UOI_NAME = 2


def idle_from_ticks(now_tick: int, last_input_tick: int) -> float:
    """Seconds since the last input. Both counters wrap to 0 every 2**32 ms (49.7 days of uptime);
    their difference modulo 2**32 stays right across a wrap, for any idle time shorter than that."""
    return ((now_tick - last_input_tick) % TICK_WRAP) / 1000.0


def locked_input_desktop(name: str | None) -> bool:
    """Whether the desktop that takes input is not the user's own: the lock screen, the sign-in
    screen and elevation prompts run on "Winlogon", which a user's process may not even open."""
    return name is None or name.casefold() != "default"


def wts_idle(current: int, last_input: int) -> float | None:
    """Seconds since a session's last input from WTSINFOEX's FILETIMEs; None when Windows left
    LastInputTime at 0, as it does for sessions whose input it does not track."""
    if last_input <= 0 or current <= 0:
        return None
    return max(0.0, (current - last_input) / FILETIME_UNITS_PER_SECOND)


def wts_locked(flags: int, version: tuple[int, int]) -> bool | None:
    """A session's lock state from WTSINFOEX's SessionFlags. Windows 7 and Server 2008 R2 report
    the two states the other way round; None when Windows does not know."""
    if flags not in (WTS_SESSIONSTATE_LOCK, WTS_SESSIONSTATE_UNLOCK):
        return None
    locked = flags == WTS_SESSIONSTATE_LOCK
    return not locked if version == (6, 1) else locked


def wts_reading(flags: int, current: int, last_input: int, version: tuple[int, int]) -> Reading | None:
    """One logged-on user's Reading from the WTS API, or None when it tells no last input."""
    idle = wts_idle(current, last_input)
    if idle is None:
        return None
    return Reading(idle, bool(wts_locked(flags, version)), focus_measured=False)


def windows_version() -> tuple[int, int]:
    major, minor, *_ = (int(part) for part in platform.version().split("."))
    return major, minor


def _library(name: str) -> ctypes.WinDLL:
    try:
        return ctypes.WinDLL(name, use_last_error=True)
    except (AttributeError, OSError) as exc:   # AttributeError: not on Windows
        raise ProbeUnavailable(f"cannot load {name}: {exc}") from None


class _LastInputInfo(ctypes.Structure):
    _fields_ = [("cbSize", wintypes.UINT), ("dwTime", wintypes.DWORD)]


class WindowsProbe:
    """The desktop of the user the node runs as."""

    description = ("Windows: idle time from GetLastInputInfo, the focused window from "
                   "GetForegroundWindow, the lock from the input desktop")

    def __init__(self) -> None:
        self._user32, self._kernel32 = _library("user32"), _library("kernel32")
        self._user32.GetForegroundWindow.restype = wintypes.HWND
        self._user32.GetWindowThreadProcessId.argtypes = [wintypes.HWND, ctypes.POINTER(wintypes.DWORD)]
        self._user32.OpenInputDesktop.restype = wintypes.HANDLE
        self._user32.OpenInputDesktop.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
        self._user32.GetUserObjectInformationW.argtypes = [
            wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD, ctypes.POINTER(wintypes.DWORD)]
        self._user32.CloseDesktop.argtypes = [wintypes.HANDLE]
        self._kernel32.GetTickCount.restype = wintypes.DWORD

    def read(self) -> Readings:
        info = _LastInputInfo(ctypes.sizeof(_LastInputInfo), 0)
        if not self._user32.GetLastInputInfo(ctypes.byref(info)):
            raise ProbeUnavailable(f"GetLastInputInfo failed: {ctypes.WinError(ctypes.get_last_error())}")
        idle = idle_from_ticks(self._kernel32.GetTickCount(), info.dwTime)
        return {None: Reading(idle, locked_input_desktop(self._input_desktop()), True, self._focused_pid())}

    def close(self) -> None:
        pass

    def _focused_pid(self) -> int | None:
        window = self._user32.GetForegroundWindow()
        if not window:
            return None
        pid = wintypes.DWORD(0)
        self._user32.GetWindowThreadProcessId(window, ctypes.byref(pid))
        return pid.value or None

    def _input_desktop(self) -> str | None:
        desktop = self._user32.OpenInputDesktop(0, False, DESKTOP_READOBJECTS)
        if not desktop:
            return None
        try:
            name = ctypes.create_unicode_buffer(256)
            needed = wintypes.DWORD(0)
            if not self._user32.GetUserObjectInformationW(desktop, UOI_NAME, name, ctypes.sizeof(name),
                                                          ctypes.byref(needed)):
                return None
            return name.value
        finally:
            self._user32.CloseDesktop(desktop)


class _SessionInfo(ctypes.Structure):
    _fields_ = [("SessionId", wintypes.DWORD), ("pWinStationName", wintypes.LPWSTR),
                ("State", ctypes.c_int)]


class _InfoExLevel1(ctypes.Structure):
    _fields_ = [("SessionId", wintypes.ULONG), ("SessionState", ctypes.c_int),
                ("SessionFlags", wintypes.LONG), ("WinStationName", wintypes.WCHAR * 33),
                ("UserName", wintypes.WCHAR * 21), ("DomainName", wintypes.WCHAR * 18),
                ("LogonTime", ctypes.c_longlong), ("ConnectTime", ctypes.c_longlong),
                ("DisconnectTime", ctypes.c_longlong), ("LastInputTime", ctypes.c_longlong),
                ("CurrentTime", ctypes.c_longlong), ("IncomingBytes", wintypes.DWORD),
                ("OutgoingBytes", wintypes.DWORD), ("IncomingFrames", wintypes.DWORD),
                ("OutgoingFrames", wintypes.DWORD), ("IncomingCompressedBytes", wintypes.DWORD),
                ("OutgoingCompressedBytes", wintypes.DWORD)]


class _InfoEx(ctypes.Structure):
    _fields_ = [("Level", wintypes.DWORD), ("Data", _InfoExLevel1)]


class WtsProbe:
    """Every logged-on user's last input and lock state, for a node run as SYSTEM (scope = "all")."""

    description = ("Windows sessions through the WTS API: each user's last input and lock state "
                   "(the focused window is not visible to a service)")

    def __init__(self) -> None:
        self._wts = _library("wtsapi32")
        self._version = windows_version()
        if not self.read():
            raise ProbeUnavailable("Windows reports no last input time for any logged-on session "
                                   "through WTS (WTSSessionInfoEx)")

    def read(self) -> Readings:
        readings: dict[str | None, Reading] = {}
        for session_id in self._active_sessions():
            info = self._session_info(session_id)
            if info is None or not info.UserName:
                continue
            reading = wts_reading(info.SessionFlags, info.CurrentTime, info.LastInputTime, self._version)
            if reading is not None:
                readings[info.UserName.casefold()] = reading
        return readings

    def close(self) -> None:
        pass

    def _active_sessions(self) -> list[int]:
        sessions = ctypes.POINTER(_SessionInfo)()
        count = wintypes.DWORD(0)
        if not self._wts.WTSEnumerateSessionsW(None, 0, 1, ctypes.byref(sessions), ctypes.byref(count)):
            raise ProbeUnavailable(f"WTSEnumerateSessions failed: {ctypes.WinError(ctypes.get_last_error())}")
        try:
            return [sessions[i].SessionId for i in range(count.value) if sessions[i].State == WTS_ACTIVE]
        finally:
            self._wts.WTSFreeMemory(sessions)

    def _session_info(self, session_id: int) -> _InfoExLevel1 | None:
        buffer = ctypes.c_void_p()
        size = wintypes.DWORD(0)
        if not self._wts.WTSQuerySessionInformationW(None, session_id, WTS_SESSION_INFO_EX,
                                                     ctypes.byref(buffer), ctypes.byref(size)):
            return None
        try:
            info = ctypes.cast(buffer, ctypes.POINTER(_InfoEx)).contents
            return _InfoExLevel1.from_buffer_copy(info.Data) if info.Level == 1 else None
        finally:
            self._wts.WTSFreeMemory(buffer)
