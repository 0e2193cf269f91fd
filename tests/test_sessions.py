"""SessionTracker: scans in, sessions out; driven with explicit times, no waiting."""
from __future__ import annotations

import logging
from itertools import count
from typing import Callable

import pytest

from common.protocol import SessionState
from node.sessions import REPORTS_IN_FLIGHT, Changes, SessionTracker

CHROME = ("chrome", None)
GRACE = 30.0


def counting_sids() -> Callable[[], bytes]:
    counter = count(1)
    return lambda: next(counter).to_bytes(16, "big")


def sid(n: int) -> bytes:
    return n.to_bytes(16, "big")


@pytest.fixture
def tracker() -> SessionTracker:
    return SessionTracker(grace=GRACE, new_sid=counting_sids())


def test_first_sighting_opens_a_session_starting_at_create_time(tracker):
    tracker.observe(100.0, {CHROME: 90.0})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 100.0, True)]


def test_session_continues_while_seen(tracker):
    for now in (100.0, 105.0, 110.0):
        tracker.observe(now, {CHROME: 90.0})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 110.0, True)]


def test_unseen_session_stays_open_for_grace_inclusive_then_closes_at_last_sighting(tracker):
    tracker.observe(100.0, {CHROME: 90.0})
    tracker.observe(100.0 + GRACE, {})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 100.0, True)]
    tracker.observe(100.5 + GRACE, {})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 100.0, False)]


def test_restart_within_grace_continues_the_same_session(tracker):
    tracker.observe(100.0, {CHROME: 90.0})
    tracker.observe(105.0, {})
    tracker.observe(125.0, {CHROME: 121.0})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 125.0, True)]


def test_gap_longer_than_grace_closes_the_old_session_and_opens_a_new_one(tracker):
    tracker.observe(100.0, {CHROME: 90.0})
    tracker.observe(200.0, {CHROME: 190.0})
    assert tracker.pending() == [
        SessionState(sid(1), "chrome", 90.0, 100.0, False),
        SessionState(sid(2), "chrome", 190.0, 200.0, True),
    ]


def test_process_that_outlived_a_gap_starts_the_new_session_at_the_previous_end(tracker):
    tracker.observe(100.0, {CHROME: 50.0})
    tracker.observe(200.0, {CHROME: 50.0})  # e.g. the laptop slept with chrome open
    assert tracker.pending() == [
        SessionState(sid(1), "chrome", 50.0, 100.0, False),
        SessionState(sid(2), "chrome", 100.0, 200.0, True),
    ]


def test_start_clamped_by_previous_end_also_after_the_previous_session_was_acknowledged(tracker):
    tracker.observe(100.0, {CHROME: 50.0})
    tracker.observe(140.0, {})
    tracker.mark_sent(1, tracker.pending())
    assert tracker.acknowledge([1]) == 1
    tracker.observe(150.0, {CHROME: 50.0})
    assert tracker.pending() == [SessionState(sid(2), "chrome", 100.0, 150.0, True)]


def test_an_earlier_matching_process_moves_the_start_back(tracker):
    tracker.observe(100.0, {CHROME: 90.0})
    tracker.observe(105.0, {CHROME: 80.0})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 80.0, 105.0, True)]


def test_a_session_never_starts_after_the_scan_that_saw_it(tracker):
    tracker.observe(100.0, {CHROME: 100.004})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 100.0, 100.0, True)]


def test_grace_can_change_at_any_time(tracker):
    tracker.observe(100.0, {CHROME: 90.0})
    tracker.grace = 5.0
    tracker.observe(106.0, {})
    assert [s.open for s in tracker.pending()] == [False]


def test_owners_are_separate_sessions(tracker):
    tracker.observe(100.0, {("chrome", "alice"): 90.0, ("chrome", "bob"): 95.0})
    assert tracker.pending() == [
        SessionState(sid(1), "chrome", 90.0, 100.0, True, "alice"),
        SessionState(sid(2), "chrome", 95.0, 100.0, True, "bob"),
    ]
    tracker.observe(105.0, {("chrome", "alice"): 90.0})
    tracker.observe(131.0, {("chrome", "alice"): 90.0})
    assert tracker.pending() == [
        SessionState(sid(1), "chrome", 90.0, 131.0, True, "alice"),
        SessionState(sid(2), "chrome", 95.0, 100.0, False, "bob"),
    ]


def test_pending_lists_open_and_closed_sessions_oldest_first(tracker):
    tracker.observe(100.0, {("word", None): 95.0})
    tracker.observe(200.0, {("excel", None): 20.0, CHROME: 150.0})
    assert [(s.label, s.open) for s in tracker.pending()] == [
        ("excel", True), ("word", False), ("chrome", True)]


def close_one_session(tracker: SessionTracker) -> SessionState:
    tracker.observe(100.0, {CHROME: 90.0})
    tracker.observe(200.0, {})
    [closed] = tracker.pending()
    return closed


def test_unsent_closed_session_survives_acknowledgements(tracker):
    close_one_session(tracker)
    assert tracker.acknowledge([10]) == 0
    assert len(tracker.pending()) == 1


def test_closed_session_is_dropped_once_the_report_that_carried_it_is_acknowledged(tracker):
    closed = close_one_session(tracker)
    tracker.mark_sent(3, [closed])
    assert tracker.acknowledge([2, 4]) == 0
    assert tracker.pending() == [closed]
    assert tracker.acknowledge([3]) == 1
    assert tracker.pending() == []


def test_any_committed_report_that_carried_the_session_acknowledges_it(tracker):
    closed = close_one_session(tracker)
    tracker.mark_sent(3, [closed])
    tracker.mark_sent(5, [closed])
    assert tracker.acknowledge([3]) == 1
    assert tracker.acknowledge([5]) == 0


def test_a_later_report_that_did_not_carry_the_session_does_not_acknowledge_it(tracker):
    # A state split over two reports: the first one lost, the second one committed.
    tracker.observe(100.0, {CHROME: 90.0, ("word", None): 95.0})
    tracker.observe(200.0, {})
    first, second = tracker.pending()
    tracker.mark_sent(1, [first])
    tracker.mark_sent(2, [second])
    assert tracker.acknowledge([2]) == 1
    assert tracker.pending() == [first]


def test_open_sessions_are_never_dropped_by_acknowledgements(tracker):
    tracker.observe(100.0, {CHROME: 90.0})
    tracker.mark_sent(3, tracker.pending())
    assert tracker.acknowledge([3]) == 0
    assert [s.open for s in tracker.pending()] == [True]


def test_a_send_while_open_does_not_count_for_the_closed_session(tracker):
    tracker.observe(100.0, {CHROME: 90.0})
    tracker.mark_sent(1, tracker.pending())
    tracker.observe(200.0, {})
    assert tracker.acknowledge([1]) == 0
    tracker.mark_sent(2, tracker.pending())
    assert tracker.acknowledge([2]) == 1


def test_only_the_latest_reports_wait_for_an_ack(tracker):
    closed = close_one_session(tracker)
    tracker.mark_sent(1, [closed])
    for seq in range(2, REPORTS_IN_FLIGHT + 2):
        tracker.mark_sent(seq, [closed])
    assert tracker.acknowledge([1]) == 0
    assert tracker.acknowledge([REPORTS_IN_FLIGHT + 1]) == 1


def test_changes_follow_opens_extensions_closes_and_acks(tracker):
    tracker.observe(100.0, {CHROME: 90.0})
    assert tracker.changes() == Changes([SessionState(sid(1), "chrome", 90.0, 100.0, True)], [])
    assert tracker.changes() == Changes([], [])
    tracker.observe(105.0, {CHROME: 90.0})
    assert tracker.changes().updated == [SessionState(sid(1), "chrome", 90.0, 105.0, True)]
    tracker.observe(200.0, {})
    [closed] = tracker.changes().updated
    assert closed == SessionState(sid(1), "chrome", 90.0, 105.0, False)
    tracker.mark_sent(7, [closed])
    tracker.acknowledge([7])
    assert tracker.changes() == Changes([], [sid(1)])


def test_restored_sessions_are_closed_and_a_new_session_starts_after_them(tracker):
    tracker.restore([SessionState(b"o" * 16, "chrome", 50.0, 90.0, True),
                     SessionState(b"c" * 16, "word", 10.0, 20.0, False)])
    assert [(s.label, s.open) for s in tracker.pending()] == [("word", False), ("chrome", False)]
    assert tracker.changes().updated == [SessionState(b"o" * 16, "chrome", 50.0, 90.0, False)]
    tracker.observe(100.0, {CHROME: 40.0})
    assert tracker.pending()[-1] == SessionState(sid(1), "chrome", 90.0, 100.0, True)


def test_dropped_closed_sessions_leave_the_outbox_too():
    tracker = SessionTracker(grace=GRACE, new_sid=counting_sids(), max_closed=1)
    tracker.observe(100.0, {CHROME: 90.0, ("word", None): 95.0})
    tracker.changes()
    tracker.observe(200.0, {})
    assert tracker.changes().gone == [sid(1)]


def test_closed_sessions_beyond_the_limit_drop_the_oldest_with_a_warning(caplog):
    tracker = SessionTracker(grace=GRACE, new_sid=counting_sids(), max_closed=2)
    for i, label in enumerate(("a", "b", "c")):
        tracker.observe(100.0 * i, {(label, None): 100.0 * i})
    with caplog.at_level(logging.WARNING, logger="procmesh.node"):
        tracker.observe(1000.0, {})
    assert [(s.label, s.open) for s in tracker.pending()] == [("b", False), ("c", False)]
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "dropped 1 " in record.getMessage()


def test_close_all_closes_every_open_session_at_its_last_sighting(tracker):
    tracker.observe(100.0, {CHROME: 90.0, ("word", None): 95.0})
    tracker.observe(110.0, {CHROME: 90.0})
    tracker.close_all()
    assert tracker.pending() == [
        SessionState(sid(1), "chrome", 90.0, 110.0, False),
        SessionState(sid(2), "word", 95.0, 100.0, False),
    ]
