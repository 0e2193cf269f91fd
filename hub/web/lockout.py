"""Wrong passwords in a row lock a name (and the address they come from) for a while."""
from __future__ import annotations

import time
from typing import Callable

ATTEMPTS = 5
WINDOW_SECONDS = 900.0
LOCK_SECONDS = 300.0


class Lockout:
    """In memory: a restart forgets it, which costs an attacker a restart of the hub per 5 guesses."""

    def __init__(self, attempts: int = ATTEMPTS, window: float = WINDOW_SECONDS, lock: float = LOCK_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._attempts = attempts
        self._window = window
        self._lock = lock
        self._clock = clock
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}

    def wait_seconds(self, *keys: str) -> float:
        """How long the longest lock among ``keys`` lasts still; 0 when none is locked."""
        now = self._clock()
        return max([0.0, *(self._locked_until.get(key, now) - now for key in keys)])

    def failed(self, *keys: str) -> None:
        now = self._clock()
        for key in keys:
            recent = [t for t in self._failures.get(key, []) if now - t < self._window] + [now]
            if len(recent) >= self._attempts:
                self._locked_until[key] = now + self._lock
                recent = []
            self._failures[key] = recent
        self._forget_old(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _forget_old(self, now: float) -> None:
        # Bounded by the keys seen within the window: a scan of many names cannot grow it for ever.
        for key in [k for k, times in self._failures.items() if not times or now - times[-1] >= self._window]:
            del self._failures[key]
        for key in [k for k, until in self._locked_until.items() if until <= now]:
            del self._locked_until[key]
