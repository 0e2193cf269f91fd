"""The accounting of active and foreground time, driven by readings of a simulated desk.

Every platform probe ends in the same Reading; these tests feed the ledger readings computed from
a known history of inputs, locks and focus, and compare what it credits with the definition.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

from node.presence.ledger import PresenceLedger
from node.presence.probe import Reading
from node.presence.spans import Spans

IDLE_AFTER = 10.0
EDITOR, VIEWER = ("editor", None), ("viewer", None)
PIDS = {101: frozenset({EDITOR}), 202: frozenset({VIEWER})}
SID_E, SID_V = b"e" * 16, b"v" * 16


@dataclass
class Desk:
    """A user's history: when they gave input, when the screen was locked, which pid had focus."""

    inputs: list[float] = field(default_factory=list)
    locks: list[tuple[float, float]] = field(default_factory=list)
    focus: list[tuple[float, int]] = field(default_factory=list)   # (from, pid), in order
    focus_measured: bool = True

    def reading(self, now: float) -> Reading:
        before = self.inputs[:bisect_right(self.inputs, now)]
        idle = now - before[-1] if before else now + 1000.0
        locked = any(lo <= now < hi for lo, hi in self.locks)
        pid = None
        for since, focused in self.focus:
            if since <= now:
                pid = focused
        return Reading(idle, locked, self.focus_measured, pid)


def run(desk: Desk, scans: list[float], sessions: dict[bytes, tuple], idle_after: float = IDLE_AFTER,
        missing: frozenset[float] = frozenset()) -> tuple[PresenceLedger, list[dict[bytes, tuple]]]:
    """Scan at each time; sessions map sid -> (key, start, end); returns the measures per scan."""
    ledger = PresenceLedger(idle_after)
    history = []
    for now in scans:
        readings = {} if now in missing else {None: desk.reading(now)}
        ledger.observe(now, readings, lambda pid: PIDS.get(pid, frozenset()))
        history.append({sid: ledger.measure(sid, key, start, min(end, now))
                        for sid, (key, start, end) in sessions.items() if start <= now})
    return ledger, history


def every(step: float, start: float, stop: float) -> list[float]:
    return [start + step * i for i in range(int((stop - start) / step) + 1)]


def test_input_at_every_scan_keeps_a_session_active() -> None:
    desk = Desk(inputs=every(1, 0, 60), focus=[(0, 101)])
    ledger, history = run(desk, every(5, 0, 60), {SID_E: (EDITOR, 0, 60)})
    assert history[-1][SID_E] == (60.0, 60.0)
    assert ledger.settle(SID_E, EDITOR, 0, 60) == (60.0, 60.0)


def test_no_input_makes_the_user_away_from_the_last_input_on() -> None:
    desk = Desk(inputs=every(1, 0, 20), focus=[(0, 101)])
    ledger, history = run(desk, every(5, 0, 100), {SID_E: (EDITOR, 0, 100)})
    # The session's time grows to 100 s; its active time stops where the input stopped.
    assert [measured[SID_E][0] for measured in history[4:]] == [20.0] * len(history[4:])
    assert ledger.settle(SID_E, EDITOR, 0, 100) == (20.0, 20.0)


def test_a_session_closing_within_idle_after_of_the_last_input_counts_its_tail() -> None:
    desk = Desk(inputs=every(1, 0, 20))
    ledger, history = run(desk, every(5, 0, 25), {SID_E: (EDITOR, 0, 25)})
    # Open, it is credited only with what is settled: the 5 s since the last input are not yet.
    assert history[-1][SID_E][0] == 20.0
    assert ledger.settle(SID_E, EDITOR, 0, 25)[0] == 25.0


def test_a_session_closing_idle_after_past_the_last_input_does_not_count_the_tail() -> None:
    desk = Desk(inputs=every(1, 0, 20))
    ledger, _ = run(desk, every(5, 0, 30), {SID_E: (EDITOR, 0, 30)})
    assert ledger.settle(SID_E, EDITOR, 0, 30)[0] == 20.0


def test_input_after_an_away_spell_is_active_again() -> None:
    desk = Desk(inputs=every(1, 0, 20) + every(1, 50, 60))
    ledger, _ = run(desk, every(5, 0, 60), {SID_E: (EDITOR, 0, 60)})
    assert ledger.settle(SID_E, EDITOR, 0, 60)[0] == 30.0


def test_a_gap_shorter_than_idle_after_stays_active() -> None:
    desk = Desk(inputs=[0, 5, 14, 20])
    ledger, _ = run(desk, every(5, 0, 40), {SID_E: (EDITOR, 0, 40)})
    assert ledger.settle(SID_E, EDITOR, 0, 40)[0] == 20.0


def test_a_locked_screen_is_away_from_the_last_input_before_the_lock() -> None:
    # Input at the lock screen (a key to wake it) must not count either.
    desk = Desk(inputs=every(1, 0, 20) + [22.0], locks=[(21.0, 1000.0)], focus=[(0, 101)])
    ledger, _ = run(desk, every(5, 0, 25), {SID_E: (EDITOR, 0, 25)})
    assert ledger.settle(SID_E, EDITOR, 0, 25) == (20.0, 20.0)


def test_focus_switched_between_two_programs_splits_foreground_time() -> None:
    desk = Desk(inputs=every(1, 0, 60), focus=[(0, 101), (28, 202)])
    sessions = {SID_E: (EDITOR, 0, 60), SID_V: (VIEWER, 0, 60)}
    ledger, _ = run(desk, every(5, 0, 60), sessions)
    editor, viewer = ledger.settle(SID_E, EDITOR, 0, 60), ledger.settle(SID_V, VIEWER, 0, 60)
    assert editor == (60.0, 25.0)   # focused at the scans 0..25
    assert viewer == (60.0, 30.0)   # focused at the scans 30..60; 25..30 saw a switch: nobody's


def test_foreground_counts_only_while_the_user_is_active() -> None:
    desk = Desk(inputs=every(1, 0, 20), focus=[(0, 101)])
    ledger, history = run(desk, every(5, 0, 60), {SID_E: (EDITOR, 0, 60)})
    assert history[-1][SID_E] == (20.0, 20.0)


def test_a_focused_window_of_no_watched_program_gives_no_foreground() -> None:
    desk = Desk(inputs=every(1, 0, 30), focus=[(0, 999)])
    ledger, _ = run(desk, every(5, 0, 30), {SID_E: (EDITOR, 0, 30)})
    assert ledger.settle(SID_E, EDITOR, 0, 30) == (30.0, 0.0)


def test_a_desktop_that_cannot_be_measured_gives_none_not_zero() -> None:
    desk = Desk(inputs=every(1, 0, 30))
    scans = every(5, 0, 30)
    ledger, history = run(desk, scans, {SID_E: (EDITOR, 0, 30)}, missing=frozenset(scans))
    assert history[-1][SID_E] == (None, None)
    assert ledger.settle(SID_E, EDITOR, 0, 30) == (None, None)


def test_without_focus_information_foreground_is_none() -> None:
    desk = Desk(inputs=every(1, 0, 30), focus_measured=False)
    ledger, _ = run(desk, every(5, 0, 30), {SID_E: (EDITOR, 0, 30)})
    assert ledger.settle(SID_E, EDITOR, 0, 30) == (30.0, None)


def test_a_scan_without_a_reading_breaks_the_chain() -> None:
    desk = Desk(inputs=every(1, 0, 60))
    ledger, _ = run(desk, every(5, 0, 60), {SID_E: (EDITOR, 0, 60)}, idle_after=30.0,
                    missing=frozenset({30.0}))
    # 25..30 and 30..35: nothing is known across the missing reading.
    assert ledger.settle(SID_E, EDITOR, 0, 60)[0] == 50.0


def test_time_the_node_did_not_watch_is_never_active() -> None:
    # The computer slept from 30 to 90 s; its idle counter stopped meanwhile, so the first reading
    # after it says the last input was a moment ago although nobody touched it.
    ledger = PresenceLedger(IDLE_AFTER)
    desk = Desk(inputs=every(1, 0, 28))
    for now in every(5, 0, 30):
        ledger.observe(now, {None: desk.reading(now)}, lambda pid: frozenset())
    ledger.observe(90.0, {None: Reading(3.0)}, lambda pid: frozenset(), continuous=False)
    assert ledger.settle(SID_E, EDITOR, 0, 30)[0] == 28.0
    ledger.observe(95.0, {None: Reading(8.0)}, lambda pid: frozenset())
    assert ledger.settle(SID_V, VIEWER, 90, 95)[0] == 0.0
    # Input after the sleep counts again from the first one the node sees.
    for now, idle in ((100.0, 1.0), (105.0, 0.0)):
        ledger.observe(now, {None: Reading(idle)}, lambda pid: frozenset())
    assert ledger.settle(b"w" * 16, VIEWER, 95, 105)[0] == 6.0


def test_values_carried_over_from_a_previous_run_continue() -> None:
    desk = Desk(inputs=every(1, 100, 130))
    ledger = PresenceLedger(IDLE_AFTER)
    ledger.carry_over(SID_E, 42.0, 7.0)
    for now in every(5, 100, 130):
        ledger.observe(now, {None: desk.reading(now)}, lambda pid: frozenset())
    assert ledger.settle(SID_E, EDITOR, 0, 130) == (72.0, 7.0)


def test_sessions_of_other_users_follow_their_own_readings() -> None:
    alice, bob = ("editor", "Alice"), ("editor", "bob")
    ledger = PresenceLedger(IDLE_AFTER)
    busy, idle = Desk(inputs=every(1, 0, 30)), Desk(inputs=[0.0])
    for now in every(5, 0, 30):
        ledger.observe(now, {"alice": busy.reading(now), "bob": idle.reading(now)}, lambda pid: frozenset())
    assert ledger.settle(b"a" * 16, alice, 0, 30)[0] == 30.0
    assert ledger.settle(b"b" * 16, bob, 0, 30)[0] == 0.0
    assert ledger.settle(b"c" * 16, ("editor", "carol"), 0, 30) == (None, None)


# ---- against the definition -----------------------------------------------------------------

def defined_active(inputs: list[float], start: float, end: float, idle_after: float) -> float:
    """Active seconds of [start, end] by the definition, knowing every input up to ``end``: gaps
    between inputs shorter than idle_after, and the time since the last input if it is too."""
    spans = Spans()
    known = [i for i in inputs if i <= end]
    for a, b in zip(known, known[1:]):
        if b - a < idle_after:
            spans.add(a, b)
    if known and end - known[-1] < idle_after:
        spans.add(known[-1], end)
    return spans.length(start, end)


histories = st.lists(st.floats(0, 200, allow_nan=False), min_size=1, max_size=40).map(sorted)


@settings(max_examples=300, deadline=None)
@given(inputs=histories, start=st.floats(0, 200), length=st.floats(0, 120),
       idle_after=st.floats(1, 60))
# A gap of exactly idle_after, which the ledger's arithmetic made 1 ULP shorter than the definition's.
@example(inputs=[0.99999], start=0.0, length=2.99999, idle_after=2.0)
def test_never_more_active_than_the_definition_and_never_shrinking(
        inputs: list[float], start: float, length: float, idle_after: float) -> None:
    end = start + length
    desk = Desk(inputs=inputs, focus=[(0, 101)])
    scans = every(5, 0, end + 5)
    ledger, history = run(desk, scans, {SID_E: (EDITOR, start, end)}, idle_after)
    values = [measured[SID_E] for measured in history if SID_E in measured]
    final = ledger.settle(SID_E, EDITOR, start, end)
    actives = [v[0] for v in values] + [final[0]]
    assert actives == sorted(actives)
    assert final[1] <= final[0] <= end - start + 1e-9
    # A gap within rounding of idle_after may count as either side of it.
    assert final[0] <= defined_active(inputs, start, end, idle_after + 1e-9) + 1e-9


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.integers(0, 40), min_size=1, max_size=30, unique=True),
       start_step=st.integers(0, 40), length_steps=st.integers(0, 20), idle_after=st.floats(6, 60))
def test_inputs_the_scans_all_see_are_counted_exactly(
        steps: list[int], start_step: int, length_steps: int, idle_after: float) -> None:
    # Inputs only at scan times: the node misses none, so it must match the definition exactly.
    inputs = sorted(5.0 * s for s in steps)
    start, end = 5.0 * start_step, 5.0 * (start_step + length_steps)
    ledger, _ = run(Desk(inputs=inputs), every(5, 0, end), {SID_E: (EDITOR, start, end)}, idle_after)
    expected = defined_active(inputs, start, end, idle_after)
    assert abs(ledger.settle(SID_E, EDITOR, start, end)[0] - expected) < 1e-6
