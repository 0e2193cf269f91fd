"""Clocks for tests: one moved by hand, and one that runs a fixed shift away from this computer's."""
from __future__ import annotations

import time
from pathlib import Path

import psutil

from node.clock import Clock, Reading

T0 = 1_790_000_000.0  # a wall time in 2026


class HandClock(Clock):
    """A clock that moves only when the test says: ``advance`` for time awake, ``suspend`` for time
    asleep (the monotonic clock stands still, as Linux's CLOCK_MONOTONIC does). With
    ``asleep=None`` it is a platform that cannot tell asleep from awake."""

    def __init__(self, wall: float = T0, asleep: float | None = 0.0) -> None:
        self._wall, self._monotonic, self._slept = wall, 1000.0, asleep

    def wall(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._monotonic

    def asleep(self) -> float | None:
        return self._slept

    def advance(self, seconds: float) -> Reading:
        self._wall += seconds
        self._monotonic += seconds
        return self.read()

    def suspend(self, seconds: float) -> Reading:
        self._wall += seconds
        if self._slept is not None:
            self._slept += seconds
        return self.read()

    def step_wall(self, seconds: float) -> Reading:
        """The wall clock set forward or back (NTP, a person); no time passes."""
        self._wall += seconds
        return self.read()


class SteeredClock(Clock):
    """This computer's clocks, steered by a test: the wall clock ``shift`` seconds ahead (negative:
    behind), process create times moved with it as on a computer whose clock is off, and, when
    ``asleep_file`` holds a number, that many seconds more spent asleep, as after a suspend."""

    def __init__(self, shift: float = 0.0, asleep_file: Path | None = None) -> None:
        super().__init__()
        self.shift = shift
        self.asleep_file = asleep_file

    def wall(self) -> float:
        return time.time() + self.shift

    def created(self, proc: psutil.Process) -> float:
        return proc.create_time() + self.shift

    def asleep(self) -> float | None:
        asleep = super().asleep() or 0.0
        if self.asleep_file is not None and self.asleep_file.exists():
            asleep += float(self.asleep_file.read_text() or 0)
        return asleep
