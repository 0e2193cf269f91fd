"""Answers kept for a short while, so that a page opened by many people, or refreshed, asks once.

The range pages' questions (usage per day, hours of the week, peaks) cost the database seconds on a
year of data and change slowly; one computation per page and filter serves everyone for a while
(viewers differ only in how names are shown, which is applied when rendering, see hub.web.rendered).

Everything here runs on the dashboard's event loop, so the bookkeeping needs no lock; only the
computation itself goes to a worker thread. A request for an answer that is being computed awaits
that computation without holding a thread, so a slow first load never uses up the threads that
other pages need. Once an answer is older than ``Keep.fresh`` (but not by more than ``Keep.stale``),
the next request starts the computation of the next one, and every request is served the old one
until it is there: only a first load, or one after a long quiet spell, waits for the database.
Those computations nobody waits for run one at a time: a dashboard left open on every page takes
at most one database connection, and one core, for them. And an answer is kept at least
``COST_FACTOR`` times as long as it took to compute, so that a question costing the database 20 s
is not asked every minute: a page left open costs the database a tenth of that page's time at most.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Generic, Hashable, TypeVar

from starlette.concurrency import run_in_threadpool

log = logging.getLogger("procmesh.web")
T = TypeVar("T")
CAPACITY = 64
COST_FACTOR = 10.0


@dataclass(frozen=True)
class Keep:
    """How long an answer serves as it is (``fresh``), then while the next one is computed (``stale``)."""

    fresh: float
    stale: float = 0.0


class _Entry(Generic[T]):
    def __init__(self) -> None:
        self.value: T | None = None
        self.at = float("-inf")       # when the computation of ``value`` started
        self.cost = 0.0               # and how long it took
        self.pending: asyncio.Future[T] | None = None
        self.unawaited = False        # ``pending`` was started while ``value`` was young enough to serve


class AnswerCache:
    def __init__(self, capacity: int = CAPACITY, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry[Any]] = OrderedDict()
        self._one_unawaited = asyncio.Semaphore(1)

    async def get(self, key: Hashable, keep: Keep, compute: Callable[[], T]) -> T:
        """The answer for ``key``: kept if young enough, else from ``compute()`` run in a thread,
        one computation per key at a time."""
        if keep.fresh <= 0:
            return await run_in_threadpool(compute)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        age = self._clock() - entry.at
        fresh = max(keep.fresh, COST_FACTOR * entry.cost)
        if age < fresh:
            return entry.value  # type: ignore[return-value]
        if entry.pending is None:
            entry.unawaited = age < fresh + keep.stale
            entry.pending = asyncio.ensure_future(self._compute(entry, compute, entry.unawaited))
            entry.pending.add_done_callback(_log_unseen_failure)
        if entry.unawaited:   # the old answer serves until the one under way replaces it
            return entry.value  # type: ignore[return-value]
        # Shielded: a request that gives up (its client left) does not cancel the others' answer.
        return await asyncio.shield(entry.pending)

    async def _compute(self, entry: _Entry[T], compute: Callable[[], T], unawaited: bool) -> T:
        try:
            async with self._one_unawaited if unawaited else contextlib.nullcontext():
                started = self._clock()
                value = await run_in_threadpool(compute)
        finally:
            # A failure is not kept: the next request asks again.
            entry.pending, entry.unawaited = None, False
        entry.value, entry.at, entry.cost = value, started, self._clock() - started
        return value


def _log_unseen_failure(future: asyncio.Future[Any]) -> None:
    """A computation made while a kept answer was served may fail with nobody waiting for it."""
    if not future.cancelled() and future.exception() is not None:
        log.warning("dashboard: a page's answer could not be computed: %s", future.exception())
