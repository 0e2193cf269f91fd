"""SessionTracker within one run: scans in, sessions out; driven with explicit times, no waiting.

Across runs (restart, kill, the outbox in between): tests/test_continuity.py.
"""
from __future__ import annotations

import logging
from itertools import count
from typing import Callable

import pytest

from common.protocol import SessionState
from node.clock import Reading
from node.scanner import Sighting
from node.sessions import REPORTS_IN_FLIGHT, SessionTracker

CHROME = ("chrome", None)
GRACE = 30.0


def at(wall: float, asleep: float | None = 0.0, monotonic: float | None = None) -> Reading:
    """The clocks of a scan; the monotonic clock keeps pace with the wall clock unless told."""
    return Reading(wall, wall if monotonic is None else monotonic, asleep)


def running(*created: float) -> Sighting:
    """A label's processes, one per create time (pids 1000, 1001, ...)."""
    return Sighting(min(created), frozenset((1000 + i, c) for i, c in enumerate(created)))


def counting_sids() -> Callable[[], bytes]:
    counter = count(1)
    return lambda: next(counter).to_bytes(16, "big")


def sid(n: int) -> bytes:
    return n.to_bytes(16, "big")


@pytest.fixture
def tracker() -> SessionTracker:
    return SessionTracker(grace=GRACE, new_sid=counting_sids())


def test_first_sighting_opens_a_session_starting_at_create_time(tracker):
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 100.0, True)]


def test_session_continues_while_seen(tracker):
    for now in (100.0, 105.0, 110.0):
        tracker.observe(at(now), {CHROME: running(90.0)})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 110.0, True)]


def test_unseen_session_stays_open_for_grace_inclusive_then_closes_at_last_sighting(tracker):
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.observe(at(100.0 + GRACE), {})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 100.0, True)]
    tracker.observe(at(100.5 + GRACE), {})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 100.0, False)]


def test_restart_within_grace_continues_the_same_session(tracker):
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.observe(at(105.0), {})
    tracker.observe(at(125.0), {CHROME: running(121.0)})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 125.0, True)]


def test_two_scans_more_than_grace_apart_close_every_session_at_the_earlier_scan(tracker):
    # A laptop slept with chrome open: the program outlived the gap, the use did not.
    tracker.observe(at(100.0), {CHROME: running(50.0), ("word", None): running(60.0)})
    tracker.observe(at(200.0), {CHROME: running(50.0)})
    assert tracker.pending() == [
        SessionState(sid(1), "chrome", 50.0, 100.0, False),
        SessionState(sid(2), "word", 60.0, 100.0, False),
        SessionState(sid(3), "chrome", 200.0, 200.0, True),
    ]


def test_a_program_started_during_a_gap_counts_from_the_later_scan_not_from_its_start(tracker):
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.observe(at(200.0), {("word", None): running(190.0)})
    assert tracker.pending() == [
        SessionState(sid(1), "chrome", 90.0, 100.0, False),
        SessionState(sid(2), "word", 200.0, 200.0, True),
    ]


def test_a_suspend_shorter_than_grace_is_not_counted(tracker):
    tracker.observe(at(100.0, asleep=7.0), {CHROME: running(90.0)})
    # 10 s later on the wall clock, 8 of them asleep: the monotonic clock moved 2 s.
    tracker.observe(at(110.0, asleep=15.0, monotonic=102.0), {CHROME: running(90.0)})
    assert tracker.pending() == [
        SessionState(sid(1), "chrome", 90.0, 100.0, False),
        SessionState(sid(2), "chrome", 110.0, 110.0, True),
    ]


def test_reading_noise_of_the_asleep_counter_is_not_a_suspend(tracker):
    # Windows moves its interrupt times in clock ticks of about 16 ms; two reads may straddle one.
    tracker.observe(at(100.0, asleep=7.0), {CHROME: running(90.0)})
    tracker.observe(at(105.0, asleep=7.016), {CHROME: running(90.0)})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 105.0, True)]


def test_where_time_asleep_is_unknown_a_suspend_shorter_than_grace_is_bridged(tracker):
    tracker.observe(at(100.0, asleep=None), {CHROME: running(90.0)})
    tracker.observe(at(110.0, asleep=None, monotonic=102.0), {CHROME: running(90.0)})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 110.0, True)]


def test_a_wall_clock_set_forward_past_grace_does_not_count_the_jump(tracker):
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.observe(at(105.0 + 3600.0, monotonic=105.0), {CHROME: running(90.0 + 3600.0)})
    assert [(s.start, s.end, s.open) for s in tracker.pending()] == [
        (90.0, 100.0, False), (3705.0, 3705.0, True)]


def test_scans_more_than_grace_apart_on_the_monotonic_clock_close_sessions_whatever_the_wall_clock_says(
        tracker):
    # Frozen for a minute while the wall clock was set back by as much.
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.observe(at(105.0, monotonic=165.0), {CHROME: running(90.0)})
    assert [(s.start, s.end, s.open) for s in tracker.pending()] == [
        (90.0, 100.0, False), (105.0, 105.0, True)]


def test_a_new_session_never_starts_before_the_previous_scan(tracker):
    # A program running since 50 is first matched at 105 (its label was just added to the watch
    # list): it is counted from the scan before, not from its start.
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.observe(at(105.0), {CHROME: running(90.0), ("word", None): running(50.0)})
    assert tracker.pending()[-1] == SessionState(sid(2), "word", 100.0, 105.0, True)


def test_a_program_started_between_two_scans_counts_from_its_start(tracker):
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.observe(at(105.0), {CHROME: running(90.0), ("word", None): running(102.5)})
    assert tracker.pending()[-1] == SessionState(sid(2), "word", 102.5, 105.0, True)


def test_a_closed_sessions_successor_starts_after_it_also_once_it_was_acknowledged(tracker):
    tracker.observe(at(100.0), {CHROME: running(50.0)})
    tracker.observe(at(120.0), {})
    tracker.observe(at(140.0), {})
    tracker.mark_sent(1, tracker.pending())
    assert tracker.acknowledge([1]) == 1
    tracker.observe(at(150.0), {CHROME: running(50.0)})
    assert tracker.pending() == [SessionState(sid(2), "chrome", 140.0, 150.0, True)]


def test_a_sessions_start_never_moves(tracker):
    # The hub keeps the first start it stored, so a later, earlier process must not move it either.
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.observe(at(105.0), {CHROME: running(90.0, 80.0)})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 90.0, 105.0, True)]


def test_a_session_never_starts_after_the_scan_that_saw_it(tracker):
    tracker.observe(at(100.0), {CHROME: running(100.004)})
    assert tracker.pending() == [SessionState(sid(1), "chrome", 100.0, 100.0, True)]


def test_grace_can_change_at_any_time(tracker):
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.grace = 5.0
    tracker.observe(at(106.0), {})
    assert [s.open for s in tracker.pending()] == [False]


def test_owners_are_separate_sessions(tracker):
    tracker.observe(at(100.0), {("chrome", "alice"): running(90.0), ("chrome", "bob"): running(95.0)})
    assert tracker.pending() == [
        SessionState(sid(1), "chrome", 90.0, 100.0, True, "alice"),
        SessionState(sid(2), "chrome", 95.0, 100.0, True, "bob"),
    ]
    tracker.observe(at(105.0), {("chrome", "alice"): running(90.0)})
    tracker.observe(at(131.0), {("chrome", "alice"): running(90.0)})
    assert tracker.pending() == [
        SessionState(sid(1), "chrome", 90.0, 131.0, True, "alice"),
        SessionState(sid(2), "chrome", 95.0, 100.0, False, "bob"),
    ]


def test_pending_lists_open_and_closed_sessions_oldest_first(tracker):
    tracker.observe(at(100.0), {("word", None): running(95.0), ("excel", None): running(20.0)})
    tracker.observe(at(120.0), {("excel", None): running(20.0)})
    tracker.observe(at(140.0), {("excel", None): running(20.0), CHROME: running(130.0)})
    assert [(s.label, s.open) for s in tracker.pending()] == [
        ("excel", True), ("word", False), ("chrome", True)]


def close_one_session(tracker: SessionTracker) -> SessionState:
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.observe(at(200.0), {})
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
    tracker.observe(at(100.0), {CHROME: running(90.0), ("word", None): running(95.0)})
    tracker.observe(at(200.0), {})
    first, second = tracker.pending()
    tracker.mark_sent(1, [first])
    tracker.mark_sent(2, [second])
    assert tracker.acknowledge([2]) == 1
    assert tracker.pending() == [first]


def test_open_sessions_are_never_dropped_by_acknowledgements(tracker):
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.mark_sent(3, tracker.pending())
    assert tracker.acknowledge([3]) == 0
    assert [s.open for s in tracker.pending()] == [True]


def test_a_send_while_open_does_not_count_for_the_closed_session(tracker):
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    tracker.mark_sent(1, tracker.pending())
    tracker.observe(at(200.0), {})
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
    tracker.observe(at(100.0), {CHROME: running(90.0)})
    assert tracker.changes()[:2] == ([SessionState(sid(1), "chrome", 90.0, 100.0, True)], [])
    assert tracker.changes() == ([], [], None)
    tracker.observe(at(105.0), {CHROME: running(90.0)})
    assert tracker.changes().updated == [SessionState(sid(1), "chrome", 90.0, 105.0, True)]
    tracker.observe(at(200.0), {})
    [closed] = tracker.changes().updated
    assert closed == SessionState(sid(1), "chrome", 90.0, 105.0, False)
    tracker.mark_sent(7, [closed])
    tracker.acknowledge([7])
    assert tracker.changes()[:2] == ([], [sid(1)])


def test_each_scan_carries_its_clocks_and_the_open_sessions_with_their_processes(tracker):
    tracker.observe(at(100.0, asleep=3.0), {CHROME: running(90.0, 95.0)})
    tracker.observe(at(105.0, asleep=3.0), {CHROME: running(90.0), ("word", None): running(101.0)})
    carry = tracker.changes().carry
    assert carry is not None and carry.last_scan == at(105.0, asleep=3.0)
    assert [(c.sid, c.label, c.start, c.end, c.processes) for c in carry.sessions] == [
        (sid(1), "chrome", 90.0, 105.0, {(1000, 90.0)}),
        (sid(2), "word", 101.0, 105.0, {(1000, 101.0)})]
    # Stopping closes the sessions for the hub, but the next run may still continue them.
    tracker.close_all()
    assert tracker.changes().carry is None


def test_restored_sessions_are_closed_and_a_new_session_starts_after_them(tracker):
    tracker.restore([SessionState(b"o" * 16, "chrome", 50.0, 90.0, True),
                     SessionState(b"c" * 16, "word", 10.0, 20.0, False)])
    assert [(s.label, s.open) for s in tracker.pending()] == [("word", False), ("chrome", False)]
    assert tracker.changes().updated == [SessionState(b"o" * 16, "chrome", 50.0, 90.0, False)]
    tracker.observe(at(100.0), {CHROME: running(40.0)})
    assert tracker.pending()[-1] == SessionState(sid(1), "chrome", 90.0, 100.0, True)


def test_dropped_closed_sessions_leave_the_outbox_too():
    tracker = SessionTracker(grace=GRACE, new_sid=counting_sids(), max_closed=1)
    tracker.observe(at(100.0), {CHROME: running(90.0), ("word", None): running(95.0)})
    tracker.changes()
    tracker.observe(at(200.0), {})
    assert tracker.changes().gone == [sid(1)]


def test_closed_sessions_beyond_the_limit_drop_the_oldest_with_a_warning(caplog):
    tracker = SessionTracker(grace=GRACE, new_sid=counting_sids(), max_closed=2)
    for i, label in enumerate(("a", "b", "c")):
        tracker.observe(at(100.0 * i), {(label, None): running(100.0 * i)})
    with caplog.at_level(logging.WARNING, logger="procmesh.node"):
        tracker.observe(at(1000.0), {})
    assert [(s.label, s.open) for s in tracker.pending()] == [("b", False), ("c", False)]
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "dropped 1 " in record.getMessage()


def test_close_all_closes_every_open_session_at_its_last_sighting(tracker):
    tracker.observe(at(100.0), {CHROME: running(90.0), ("word", None): running(95.0)})
    tracker.observe(at(110.0), {CHROME: running(90.0)})
    tracker.close_all()
    assert tracker.pending() == [
        SessionState(sid(1), "chrome", 90.0, 110.0, False),
        SessionState(sid(2), "word", 95.0, 100.0, False),
    ]
