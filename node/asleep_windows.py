"""Time asleep on Windows: the interrupt time counts on through sleep and hibernation, the unbiased
interrupt time does not; their difference is the time spent asleep since boot.

QueryInterruptTime exists from Windows 10 and Server 2016; on older systems there is no counter and
the node falls back on its other clocks. Written for Windows but not run there: the arithmetic is
tested on Linux with given counter values.
"""
from __future__ import annotations

import ctypes
from typing import Callable

TICKS_PER_SECOND = 10_000_000  # both counters count units of 100 ns
LIBRARIES = ("kernel32", "kernelbase")


def asleep_seconds(interrupt_time: int, unbiased_interrupt_time: int) -> float:
    return (interrupt_time - unbiased_interrupt_time) / TICKS_PER_SECOND


def counter() -> Callable[[], float] | None:
    """A function returning the seconds spent asleep since boot, or None where it cannot be read."""
    for name in LIBRARIES:
        try:
            library = ctypes.WinDLL(name)  # type: ignore[attr-defined]  # Windows only
            query_interrupt, query_unbiased = library.QueryInterruptTime, library.QueryUnbiasedInterruptTime
        except (AttributeError, OSError):
            continue
        break
    else:
        return None
    counter_type = ctypes.POINTER(ctypes.c_ulonglong)
    query_interrupt.argtypes, query_interrupt.restype = [counter_type], None
    query_unbiased.argtypes, query_unbiased.restype = [counter_type], ctypes.c_int
    interrupt, unbiased = ctypes.c_ulonglong(), ctypes.c_ulonglong()

    def read() -> float:
        query_unbiased(ctypes.byref(unbiased))
        query_interrupt(ctypes.byref(interrupt))
        return asleep_seconds(interrupt.value, unbiased.value)

    return read
