"""The dashboard's answer cache: one computation per key and period, shared by concurrent requests."""
from __future__ import annotations

import threading

from hub.web.cache import AnswerCache


def test_an_answer_is_kept_for_its_ttl_then_asked_again() -> None:
    now = [0.0]
    cache = AnswerCache(clock=lambda: now[0])
    asked = []
    ask = lambda: asked.append(1) or len(asked)   # noqa: E731
    assert cache.get("usage", 60, ask) == 1
    now[0] = 59.0
    assert cache.get("usage", 60, ask) == 1
    assert cache.get("when", 60, ask) == 2        # another key is another question
    now[0] = 61.0
    assert cache.get("usage", 60, ask) == 3
    assert cache.get("usage", 0, ask) == 4        # ttl 0: always asked


def test_requests_during_a_computation_wait_for_it_instead_of_asking_again() -> None:
    cache = AnswerCache()
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow() -> str:
        calls.append(1)
        started.set()
        release.wait(10)
        return "answer"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("when", 60, slow))) for _ in range(5)]
    threads[0].start()
    assert started.wait(10)
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == ["answer"] * 5 and len(calls) == 1


def test_the_oldest_answers_go_first_beyond_the_capacity() -> None:
    cache = AnswerCache(capacity=2)
    for key in ("a", "b", "c"):
        cache.get(key, 60, lambda: key)
    assert cache.get("a", 60, lambda: "again") == "again"
    assert cache.get("c", 60, lambda: "again") == "c"
