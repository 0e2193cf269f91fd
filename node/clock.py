"""The node's clocks: the wall clock its numbers are told in, and the monotonic clock and the time
spent asleep that tell whether the time between two scans was watched at all.

Everything the node's accounting knows about time comes through one ``Clock``, which ``NodeAgent``
and ``node.cli.main`` take as an argument: tests give it a wall clock ten minutes ahead, or a
suspend of ten seconds, without any hook in this code.

Time asleep (suspend, hibernation) is a cumulative counter since boot, read where the operating
system keeps one: Linux counts CLOCK_BOOTTIME on through a suspend and CLOCK_MONOTONIC not, and
Windows and macOS have the same pair of counters (``node.asleep_windows``, ``node.asleep_macos``).
"""
from __future__ import annotations

import sys
import time
from typing import Callable, NamedTuple

import psutil

# Two reads of two counters are not one instant: Windows' interrupt times move in clock ticks of
# about 16 ms. A real suspend lasts seconds; a smaller growth of the counter is reading noise.
ASLEEP_NOISE = 0.1  # seconds

AsleepCounter = Callable[[], float]


class Reading(NamedTuple):
    """The clocks as one scan read them."""

    wall: float              # seconds since the epoch, on this computer's clock
    monotonic: float         # seconds from an arbitrary point, never stepped
    asleep: float | None     # seconds spent suspended since boot; None where unknown


def watched_between(earlier: Reading, later: Reading, grace: float) -> bool:
    """Whether the node watched the time between two scans: they are at most ``grace`` apart on
    either clock (a stepped wall clock or a monotonic clock that stops in a suspend must not hide a
    gap), and the computer did not sleep in between."""
    if max(later.wall - earlier.wall, later.monotonic - earlier.monotonic) > grace:
        return False
    if earlier.asleep is None or later.asleep is None:
        return True
    return later.asleep - earlier.asleep <= ASLEEP_NOISE


def _linux_asleep() -> float:
    awake = time.clock_gettime(time.CLOCK_MONOTONIC)
    return time.clock_gettime(time.CLOCK_BOOTTIME) - awake


def system_asleep_counter() -> AsleepCounter | None:
    """This operating system's time-asleep counter, or None where it keeps none we can read."""
    if sys.platform.startswith("linux"):
        return _linux_asleep
    if sys.platform == "win32":
        from node import asleep_windows
        return asleep_windows.counter()
    if sys.platform == "darwin":
        from node import asleep_macos
        return asleep_macos.counter()
    return None


class Clock:
    """This computer's clocks. Subclass it to run a node on other ones."""

    def __init__(self) -> None:
        self._asleep = system_asleep_counter()

    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def asleep(self) -> float | None:
        return self._asleep() if self._asleep is not None else None

    def created(self, proc: psutil.Process) -> float:
        """When ``proc`` started, on this clock; may raise what psutil raises."""
        return proc.create_time()

    def read(self) -> Reading:
        return Reading(self.wall(), self.monotonic(), self.asleep())
