"""The dashboard's answer cache: one computation per key at a time, shared by concurrent requests,
served while the next is computed, and never holding a thread while a request waits."""
from __future__ import annotations

import asyncio
import threading
from typing import Awaitable, Callable, TypeVar

import pytest

from hub.web.cache import AnswerCache, Keep

T = TypeVar("T")
pytestmark = pytest.mark.timeout(60)


def run(test: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(test())


class Gate:
    """A computation that waits in its worker thread until the test lets it finish."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        self.started.set()
        assert self.release.wait(30), "the test never let the computation finish"
        return self.answer


async def until(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 30)


class ClockedCache(AnswerCache):
    """A cache on a clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(clock=lambda: self.now)


KEEP = Keep(60, stale=60)


async def aged(cache: ClockedCache, age: float) -> None:
    """"old" computed at 0, and the clock moved on by ``age`` seconds."""
    assert await cache.get("usage", KEEP, lambda: "old") == "old"
    cache.now = age


def test_an_answer_is_kept_while_fresh_then_asked_again() -> None:
    cache = ClockedCache()
    asked: list[int] = []
    ask = lambda: asked.append(1) or len(asked)   # noqa: E731

    async def test() -> None:
        assert await cache.get("usage", Keep(60), ask) == 1
        cache.now = 59.0
        assert await cache.get("usage", Keep(60), ask) == 1
        assert await cache.get("when", Keep(60), ask) == 2        # another key is another question
        cache.now = 61.0
        assert await cache.get("usage", Keep(60), ask) == 3
        assert await cache.get("usage", Keep(0), ask) == 4        # nothing kept: always asked
    run(test)


def test_requests_during_a_computation_wait_for_it_instead_of_asking_again() -> None:
    cache = AnswerCache()
    slow = Gate("answer")

    async def test() -> None:
        first = asyncio.ensure_future(cache.get("when", Keep(60), slow))
        await until(slow.started)
        others = [asyncio.ensure_future(cache.get("when", Keep(60), slow)) for _ in range(4)]
        await asyncio.sleep(0.1)
        slow.release.set()
        assert await asyncio.gather(first, *others) == ["answer"] * 5
    run(test)
    assert slow.calls == 1


def test_an_old_answer_is_served_at_once_until_the_next_is_there_however_long_that_takes() -> None:
    cache = ClockedCache()
    nxt = Gate("new")

    async def test() -> None:
        await aged(cache, 90.0)
        # The computation of "new" is held back: these answer without waiting for it.
        assert await cache.get("usage", KEEP, nxt) == "old"
        await until(nxt.started)
        cache.now = 1000.0    # far beyond fresh + stale, but the next answer is under way
        assert await cache.get("usage", KEEP, nxt) == "old"
        nxt.release.set()
        for _ in range(300):
            if await cache.get("usage", KEEP, nxt) == "new":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the new answer never replaced the old one")
    run(test)
    assert nxt.calls == 1


def test_an_answer_too_old_to_serve_is_waited_for() -> None:
    cache = ClockedCache()

    async def test() -> None:
        await aged(cache, 121.0)
        assert await cache.get("usage", KEEP, lambda: "new") == "new"
    run(test)


def test_a_failure_is_not_kept() -> None:
    cache = AnswerCache()

    def broken() -> str:
        raise RuntimeError("the database did not answer")

    async def test() -> None:
        with pytest.raises(RuntimeError, match="did not answer"):
            await cache.get("usage", Keep(60), broken)
        assert await cache.get("usage", Keep(60), lambda: "answer") == "answer"
    run(test)


def test_requests_waiting_for_a_slow_answer_hold_no_thread_that_another_page_needs() -> None:
    """Far more requests wait for one slow first load than there are worker threads (anyio lends
    40), and another page is still computed and served meanwhile."""
    cache = AnswerCache()
    slow = Gate("slow")

    async def test() -> None:
        waiting = [asyncio.ensure_future(cache.get("when", Keep(60), slow)) for _ in range(100)]
        await until(slow.started)
        await asyncio.sleep(0.1)
        assert await asyncio.wait_for(cache.get("nodes", Keep(60), lambda: "nodes"), 20) == "nodes"
        slow.release.set()
        assert set(await asyncio.gather(*waiting)) == {"slow"}
    run(test)


def test_the_oldest_answers_go_first_beyond_the_capacity() -> None:
    cache = AnswerCache(capacity=2)

    async def test() -> None:
        for key in ("a", "b", "c"):
            await cache.get(key, Keep(60), lambda key=key: key)
        assert await cache.get("a", Keep(60), lambda: "again") == "again"
        assert await cache.get("c", Keep(60), lambda: "again") == "c"
    run(test)


def test_answers_nobody_waits_for_are_computed_one_at_a_time() -> None:
    cache = ClockedCache()
    first, second = Gate("new usage"), Gate("new when")

    async def test() -> None:
        await cache.get("usage", KEEP, lambda: "old usage")
        await cache.get("when", KEEP, lambda: "old when")
        cache.now = 90.0
        assert await cache.get("usage", KEEP, first) == "old usage"
        assert await cache.get("when", KEEP, second) == "old when"
        await until(first.started)
        await asyncio.sleep(0.2)
        assert not second.started.is_set()
        first.release.set()
        await until(second.started)
        second.release.set()
    run(test)


def test_an_answer_is_kept_ten_times_as_long_as_it_took_to_compute() -> None:
    cache = ClockedCache()

    def costly() -> str:
        cache.now += 20.0    # the database took 20 s
        return "old"

    async def test() -> None:
        assert await cache.get("when", KEEP, costly) == "old"
        cache.now = 199.0
        assert await cache.get("when", KEEP, lambda: "new") == "old"
        cache.now = 259.0    # 200 s kept, then served for KEEP.stale more while the next is computed
        assert await cache.get("when", KEEP, lambda: "new") == "old"
        for _ in range(300):
            if await cache.get("when", KEEP, lambda: "newer") == "new":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the new answer never replaced the old one")
        cache.now = 1000.0
        assert await cache.get("when", KEEP, lambda: "newest") == "newest"
    run(test)
