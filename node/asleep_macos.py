"""Time asleep on macOS: mach_continuous_time counts on through sleep, mach_absolute_time does not
(both from macOS 10.12); their difference, in ticks that mach_timebase_info turns into nanoseconds,
is the time spent asleep since boot.

Written for macOS but not run there: the arithmetic is tested on Linux with given counter values.
"""
from __future__ import annotations

import ctypes
from typing import Callable

LIBSYSTEM = "/usr/lib/libSystem.B.dylib"


class _Timebase(ctypes.Structure):
    _fields_ = [("numer", ctypes.c_uint32), ("denom", ctypes.c_uint32)]


def asleep_seconds(continuous: int, absolute: int, numer: int, denom: int) -> float:
    return (continuous - absolute) * numer / denom / 1e9


def counter() -> Callable[[], float] | None:
    """A function returning the seconds spent asleep since boot, or None where it cannot be read."""
    try:
        libsystem = ctypes.CDLL(LIBSYSTEM)
        continuous, absolute = libsystem.mach_continuous_time, libsystem.mach_absolute_time
        timebase_info = libsystem.mach_timebase_info
    except (AttributeError, OSError):
        return None
    continuous.argtypes, continuous.restype = [], ctypes.c_uint64
    absolute.argtypes, absolute.restype = [], ctypes.c_uint64
    timebase = _Timebase()
    if timebase_info(ctypes.byref(timebase)) != 0 or timebase.denom == 0:
        return None
    numer, denom = timebase.numer, timebase.denom

    def read() -> float:
        return asleep_seconds(continuous(), absolute(), numer, denom)

    return read
