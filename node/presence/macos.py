"""macOS desktops (ctypes, IOKit and CoreGraphics): idle time from the HID system's HIDIdleTime,
the lock from the login session's CGSSessionScreenIsLocked, and the focused application's process
from the window list: the frontmost window of the normal layer belongs to the frontmost application.

The window list is read instead of NSWorkspace's frontmostApplication, which a process without a
running Cocoa event loop (as the node is) may see only as it was when the process started.

The functions at the top interpret what macOS answers and are tested on every system; the class
calls macOS and has not been run on it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any, Mapping, Sequence

from node.presence.probe import ProbeUnavailable, Reading, Readings

NORMAL_WINDOW_LAYER = 0
K_CF_NUMBER_SINT64 = 4
K_CF_STRING_ENCODING_UTF8 = 0x08000100
K_CG_WINDOW_LIST_ON_SCREEN_ONLY = 1 << 0
K_CG_WINDOW_LIST_EXCLUDE_DESKTOP = 1 << 4


def idle_from_hid(nanoseconds: int) -> float:
    """HIDIdleTime counts nanoseconds since the last keyboard, mouse or trackpad event."""
    return max(0, nanoseconds) / 1e9


def locked_session(session: Mapping[str, Any] | None) -> bool:
    """The login session's dictionary has CGSSessionScreenIsLocked set while the screen is locked;
    without a session dictionary (no one at the console) nobody is at this screen either."""
    return session is None or bool(session.get("CGSSessionScreenIsLocked", False))


def frontmost_pid(windows: Sequence[Mapping[str, Any]]) -> int | None:
    """The owner of the first window of the normal layer in a front-to-back window list."""
    for window in windows:
        if window.get("kCGWindowLayer") == NORMAL_WINDOW_LAYER and window.get("kCGWindowOwnerPID"):
            return int(window["kCGWindowOwnerPID"])
    return None


class _CoreFoundation:
    """The few CoreFoundation calls needed to read numbers, booleans and dictionaries."""

    def __init__(self) -> None:
        self.lib = _load("CoreFoundation")
        lib = self.lib
        lib.CFStringCreateWithCString.restype = ctypes.c_void_p
        lib.CFStringCreateWithCString.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32]
        lib.CFDictionaryGetValue.restype = ctypes.c_void_p
        lib.CFDictionaryGetValue.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.CFNumberGetValue.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.CFBooleanGetValue.argtypes = [ctypes.c_void_p]
        lib.CFArrayGetCount.restype = ctypes.c_long
        lib.CFArrayGetCount.argtypes = [ctypes.c_void_p]
        lib.CFArrayGetValueAtIndex.restype = ctypes.c_void_p
        lib.CFArrayGetValueAtIndex.argtypes = [ctypes.c_void_p, ctypes.c_long]
        lib.CFRelease.argtypes = [ctypes.c_void_p]
        self._strings: dict[str, int] = {}

    def string(self, text: str) -> int:
        if text not in self._strings:
            self._strings[text] = self.lib.CFStringCreateWithCString(None, text.encode(), K_CF_STRING_ENCODING_UTF8)
        return self._strings[text]

    def number(self, ref: int | None) -> int | None:
        if not ref:
            return None
        value = ctypes.c_int64(0)
        return value.value if self.lib.CFNumberGetValue(ref, K_CF_NUMBER_SINT64, ctypes.byref(value)) else None

    def get(self, dictionary: int, key: str) -> int | None:
        return self.lib.CFDictionaryGetValue(dictionary, self.string(key))

    def items(self, array: int) -> list[int]:
        return [self.lib.CFArrayGetValueAtIndex(array, i) for i in range(self.lib.CFArrayGetCount(array))]


def _load(framework: str) -> ctypes.CDLL:
    path = ctypes.util.find_library(framework)
    if path is None:
        raise ProbeUnavailable(f"the {framework} framework is not available")
    return ctypes.CDLL(path)


class MacProbe:
    description = ("macOS: idle time from IOKit's HIDIdleTime, the lock from the login session, the "
                   "focused application from the window list")

    def __init__(self) -> None:
        self._cf = _CoreFoundation()
        self._iokit = _load("IOKit")
        self._cg = _load("CoreGraphics")
        self._iokit.IOServiceMatching.restype = ctypes.c_void_p
        self._iokit.IOServiceMatching.argtypes = [ctypes.c_char_p]
        self._iokit.IOServiceGetMatchingService.restype = ctypes.c_uint32
        self._iokit.IOServiceGetMatchingService.argtypes = [ctypes.c_uint32, ctypes.c_void_p]
        self._iokit.IORegistryEntryCreateCFProperty.restype = ctypes.c_void_p
        self._iokit.IORegistryEntryCreateCFProperty.argtypes = [
            ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32]
        self._cg.CGSessionCopyCurrentDictionary.restype = ctypes.c_void_p
        self._cg.CGWindowListCopyWindowInfo.restype = ctypes.c_void_p
        self._cg.CGWindowListCopyWindowInfo.argtypes = [ctypes.c_uint32, ctypes.c_uint32]
        # The IOKit main port is 0 (kIOMainPortDefault); the matching dictionary is consumed.
        self._hid = self._iokit.IOServiceGetMatchingService(0, self._iokit.IOServiceMatching(b"IOHIDSystem"))
        if not self._hid:
            raise ProbeUnavailable("IOKit has no IOHIDSystem service to read the idle time from")

    def read(self) -> Readings:
        ref = self._iokit.IORegistryEntryCreateCFProperty(self._hid, self._cf.string("HIDIdleTime"), None, 0)
        nanoseconds = self._cf.number(ref)
        if ref:
            self._cf.lib.CFRelease(ref)
        if nanoseconds is None:
            raise ProbeUnavailable("IOHIDSystem did not answer HIDIdleTime")
        return {None: Reading(idle_from_hid(nanoseconds), locked_session(self._session()), True,
                              frontmost_pid(self._windows()))}

    def close(self) -> None:
        self._iokit.IOObjectRelease(self._hid)

    def _session(self) -> dict[str, Any] | None:
        session = self._cg.CGSessionCopyCurrentDictionary()
        if not session:
            return None
        try:
            flag = self._cf.get(session, "CGSSessionScreenIsLocked")
            return {"CGSSessionScreenIsLocked": bool(flag and self._cf.lib.CFBooleanGetValue(flag))}
        finally:
            self._cf.lib.CFRelease(session)

    def _windows(self) -> list[dict[str, Any]]:
        array = self._cg.CGWindowListCopyWindowInfo(
            K_CG_WINDOW_LIST_ON_SCREEN_ONLY | K_CG_WINDOW_LIST_EXCLUDE_DESKTOP, 0)
        if not array:
            return []
        try:
            return [{key: self._cf.number(self._cf.get(window, key))
                     for key in ("kCGWindowLayer", "kCGWindowOwnerPID")}
                    for window in self._cf.items(array)]
        finally:
            self._cf.lib.CFRelease(array)
