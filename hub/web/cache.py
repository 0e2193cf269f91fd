"""Answers kept for a short while, so that a page opened by many people, or refreshed, asks once.

The range pages' questions (usage per day, hours of the week, peaks) cost the database seconds on a
year of data and change slowly; one computation per page and filter serves everyone for ``ttl``
seconds (viewers differ only in how names are shown, which is applied when rendering). Requests
for an answer that is being computed wait for it instead of asking the database again.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

T = TypeVar("T")
CAPACITY = 64


class AnswerCache:
    def __init__(self, capacity: int = CAPACITY, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = capacity
        self._clock = clock
        self._answers: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._computing: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, ttl: float, compute: Callable[[], T]) -> T:
        """The answer for ``key`` if computed less than ``ttl`` seconds ago, else ``compute()``."""
        if ttl <= 0:
            return compute()
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:   # one computation per key at a time; the others wait and take its answer
            with self._lock:
                kept = self._answers.get(key)
                if kept is not None and self._clock() - kept[0] < ttl:
                    self._answers.move_to_end(key)
                    return kept[1]  # type: ignore[return-value]
            answer = compute()
            with self._lock:
                self._answers[key] = (self._clock(), answer)
                self._answers.move_to_end(key)
                while len(self._answers) > self._capacity:
                    stale, _ = self._answers.popitem(last=False)
                    self._computing.pop(stale, None)
            return answer
