"""Runs of one node chained through its outbox: a restart, a kill or a suspend between two runs never
counts a program twice, nor time nobody watched.

Each run is a real SessionTracker restored from a real outbox file, as NodeAgent does it, driven by
a clock the test moves; the hub's side is its rule for stored rows (a session id is one row whose
end only grows and whose start never moves).
"""
from __future__ import annotations

from itertools import count
from pathlib import Path

import pytest

from common.protocol import SessionState
from node.continuity import MAX_CARRIED_PROCESSES
from node.outbox import Outbox
from node.scanner import ProcessId, Sighting
from node.sessions import SessionTracker
from tests.clocks import T0, HandClock

GRACE, INTERVAL = 30.0, 5.0
APP = ("app", None)
PID = 4242


def app(pid: int = PID, created: float = T0 - 20.0) -> Sighting:
    return Sighting(created, frozenset({(pid, created)}))


class Node:
    """One node id's runs on one computer: each run a tracker over the same outbox file, and what a
    hub would have stored from their reports."""

    def __init__(self, folder: Path, clock: HandClock) -> None:
        self.path = folder / "node.outbox.sqlite"
        self.clock = clock
        self.stored: dict[bytes, SessionState] = {}
        self._sids = count(1)
        self.tracker: SessionTracker | None = None
        self.outbox: Outbox | None = None

    def start(self) -> None:
        self.outbox = Outbox(self.path)
        self.tracker = SessionTracker(GRACE, new_sid=lambda: next(self._sids).to_bytes(16, "big"))
        self.tracker.restore(self.outbox.load(), self.outbox.load_carry())
        self.outbox.save(self.tracker.changes())

    def scan(self, *sightings: Sighting, after: float = INTERVAL) -> None:
        """Let ``after`` seconds pass, scan, and report to the hub."""
        assert self.tracker is not None and self.outbox is not None
        self.clock.advance(after)
        processes = frozenset().union(*(s.processes for s in sightings))
        seen = {APP: Sighting(min(c for _, c in processes), processes)} if processes else {}
        self.tracker.observe(self.clock.read(), seen)
        self.outbox.save(self.tracker.changes())
        self._report()

    def stop(self) -> None:
        """A clean stop: sessions closed, the bye delivered."""
        assert self.tracker is not None and self.outbox is not None
        self.tracker.close_all()
        self.outbox.save(self.tracker.changes())
        self._report()
        self.outbox.close()

    def kill(self) -> None:
        """SIGKILL: nothing after the last scan's save."""
        assert self.outbox is not None
        self.outbox.close()

    def _report(self) -> None:
        assert self.tracker is not None
        for state in self.tracker.pending():
            known = self.stored.get(state.sid)
            self.stored[state.sid] = state if known is None else known._replace(
                end=max(known.end, state.end))

    def rows(self) -> list[tuple[float, float]]:
        """(start, end) of each stored session, in order of start."""
        return sorted((s.start, s.end) for s in self.stored.values())


@pytest.fixture
def clock() -> HandClock:
    return HandClock()


@pytest.fixture
def node(tmp_path: Path, clock: HandClock) -> Node:
    node = Node(tmp_path, clock)
    node.start()
    return node


def assert_no_overlap(rows: list[tuple[float, float]]) -> None:
    for (_, end), (next_start, _) in zip(rows, rows[1:]):
        assert end <= next_start, rows


def test_a_clean_restart_while_a_program_runs_continues_its_session(node: Node, clock: HandClock) -> None:
    # The reproduction: a program running 20 s, the node stopped and started 2 s later.
    for _ in range(4):
        node.scan(app())
    node.stop()
    clock.advance(2.0)
    node.start()
    node.scan(app(), after=0.5)
    node.scan(app())
    assert node.rows() == [(T0 - 20.0, clock.wall())]
    assert len(node.stored) == 1


def test_a_killed_node_restarted_within_grace_continues_its_session(node: Node, clock: HandClock) -> None:
    node.scan(app())
    node.scan(app())
    node.kill()
    clock.advance(10.0)
    node.start()
    node.scan(app(), after=3.0)
    assert node.rows() == [(T0 - 20.0, clock.wall())]


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_restart_after_a_gap_longer_than_grace_starts_a_new_session_at_the_first_scan(
        node: Node, clock: HandClock, how: str) -> None:
    node.scan(app())
    last_seen = clock.wall()
    getattr(node, how)()
    clock.advance(GRACE)
    node.start()
    node.scan(app(), after=3.0)
    assert node.rows() == [(T0 - 20.0, last_seen), (clock.wall(), clock.wall())]


def test_a_suspend_between_two_runs_is_not_counted(node: Node, clock: HandClock) -> None:
    node.scan(app())
    last_seen = clock.wall()
    node.stop()
    clock.suspend(10.0)
    node.start()
    node.scan(app(), after=1.0)
    assert node.rows() == [(T0 - 20.0, last_seen), (clock.wall(), clock.wall())]


def test_a_program_started_while_the_node_was_down_counts_from_its_start(
        node: Node, clock: HandClock) -> None:
    node.scan(app())
    node.stop()
    clock.advance(GRACE * 3)
    created = clock.wall() - 5.0
    node.start()
    node.scan(app(pid=PID + 1, created=created), after=1.0)
    assert node.rows()[-1] == (created, clock.wall())


def test_a_program_the_previous_run_did_not_see_counts_from_its_last_scan_at_the_earliest(
        node: Node, clock: HandClock) -> None:
    node.scan()
    last_scan = clock.wall()
    node.stop()
    clock.advance(GRACE * 3)
    node.start()
    node.scan(app(created=T0 - 1000.0), after=1.0)
    assert node.rows() == [(last_scan, clock.wall())]


@pytest.mark.parametrize("pid, created", [
    (PID, T0 + 8.0),       # the pid reused by a program started while the node was down
    (PID + 1, T0 - 20.0),  # another process that started in the same instant
])
def test_a_process_is_the_same_only_with_the_same_pid_and_create_time(
        node: Node, clock: HandClock, pid: int, created: float) -> None:
    node.scan(app())
    last_seen = clock.wall()
    node.stop()
    clock.advance(2.0)
    node.start()
    node.scan(app(pid=pid, created=created), after=1.0)
    assert node.rows() == [(T0 - 20.0, last_seen), (max(created, last_seen), clock.wall())]


def test_a_create_time_that_moved_by_less_than_a_second_is_the_same_process(
        node: Node, clock: HandClock) -> None:
    # On Linux psutil adds the boot time, which moves by a second when the wall clock is stepped.
    node.scan(app())
    node.stop()
    node.start()
    node.scan(app(created=T0 - 20.0 + 0.9), after=2.0)
    assert node.rows() == [(T0 - 20.0, clock.wall())]


def test_a_run_that_never_scanned_leaves_the_previous_runs_carry_in_place(
        node: Node, clock: HandClock) -> None:
    node.scan(app())
    node.stop()
    node.start()
    clock.advance(2.0)
    node.stop()  # e.g. logged off before its first scan
    node.start()
    node.scan(app(), after=2.0)
    assert node.rows() == [(T0 - 20.0, clock.wall())]


def test_restarts_within_grace_never_overlap_and_count_each_moment_once(
        node: Node, clock: HandClock) -> None:
    program_a, program_b = app(pid=1), app(pid=2, created=T0 + 3.0)
    for restart in range(3):
        node.scan(program_a)
        node.scan(program_a, program_b)
        node.kill() if restart % 2 else node.stop()
        clock.advance(4.0)
        node.start()
    node.scan(program_a, program_b)
    rows = node.rows()
    assert_no_overlap(rows)
    assert rows == [(T0 - 20.0, clock.wall())]


def test_the_carry_holds_the_open_sessions_of_the_last_scan_with_their_oldest_processes(
        node: Node, clock: HandClock) -> None:
    many = [(pid, T0 - pid) for pid in range(1, 3 * MAX_CARRIED_PROCESSES)]
    node.scan(Sighting(min(c for _, c in many), frozenset(many)))
    assert node.outbox is not None
    carry = node.outbox.load_carry()
    assert carry is not None and carry.last_scan == clock.read()
    [carried] = carry.sessions
    oldest: set[ProcessId] = set(sorted(many, key=lambda p: p[1])[:MAX_CARRIED_PROCESSES])
    assert carried.processes == oldest
    node.scan(after=GRACE + 1)
    carry = node.outbox.load_carry()
    assert carry is not None and carry.sessions == ()
