"""Active and foreground time in the node's sessions across what the session tracker handles: a
restart that continues a session, a suspend between two scans, and outboxes of release 0.1.0.

A real SessionTracker with a real PresenceLedger over a real outbox file, driven by a clock the
test moves and by readings of a desk where someone types at every scan.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from common.protocol import SessionState
from node.outbox import Outbox
from node.presence.ledger import PresenceLedger
from node.presence.probe import Reading
from node.scanner import Sighting
from node.sessions import SessionTracker
from tests.clocks import T0, HandClock

GRACE, INTERVAL, IDLE_AFTER = 30.0, 5.0, 60.0
EDITOR = ("editor", None)
PID = 4242
RUNNING = {EDITOR: Sighting(T0 - 20.0, frozenset({(PID, T0 - 20.0)}))}
FOCUSED_AND_TYPING = {None: Reading(0.0, False, True, PID)}


class Run:
    """One run of a node: a tracker with presence, over the outbox file a previous run left."""

    def __init__(self, path: Path, clock: HandClock) -> None:
        self.clock = clock
        self.outbox = Outbox(path)
        self.tracker = SessionTracker(GRACE, presence=PresenceLedger(IDLE_AFTER))
        self.tracker.restore(self.outbox.load(), self.outbox.load_carry())
        self.outbox.save(self.tracker.changes())

    def scan(self, readings=FOCUSED_AND_TYPING, seen=RUNNING, after: float = INTERVAL) -> SessionState:
        self.clock.advance(after)
        self.tracker.observe(self.clock.read(), seen, readings)
        self.outbox.save(self.tracker.changes())
        return self.session()

    def session(self) -> SessionState:
        (state,) = [s for s in self.tracker.pending() if s.label == "editor" and s.open] or \
            self.tracker.pending()[-1:]
        return state


@pytest.mark.parametrize("stop", ["clean", "killed"])
def test_a_session_continued_by_the_next_run_keeps_its_active_and_foreground_time(
        tmp_path: Path, stop: str) -> None:
    clock = HandClock()
    first = Run(tmp_path / "node.outbox.sqlite", clock)
    for _ in range(4):
        before = first.scan()
    assert (before.active, before.foreground) == (15.0, 15.0)
    if stop == "clean":
        first.tracker.close_all()
        first.outbox.save(first.tracker.changes())
    first.outbox.close()
    # Restarted 5 s later, within grace, with the program still running: the same session goes on.
    second = Run(tmp_path / "node.outbox.sqlite", clock)
    after = second.scan()
    assert after.sid == before.sid
    assert after.active is not None and after.active >= before.active
    after = second.scan()
    assert after.active >= before.active + INTERVAL and after.foreground >= before.foreground + INTERVAL


def test_time_asleep_between_two_scans_is_never_active(tmp_path: Path) -> None:
    clock = HandClock()
    run = Run(tmp_path / "node.outbox.sqlite", clock)
    for _ in range(4):
        before = run.scan()
    clock.suspend(120.0)
    # The idle counter stopped in the sleep: the first reading after it says "input 2 s ago".
    run.scan(readings={None: Reading(2.0, False, True, PID)}, after=0.5)
    closed = next(s for s in run.tracker.pending() if s.sid == before.sid)
    assert (closed.open, closed.active) == (False, before.active)
    # Nobody came back: the new session closes without a second of active time.
    run.scan(readings={None: Reading(7.0, False, True, PID)})
    run.tracker.close_all()
    (new,) = [s for s in run.tracker.pending() if s.sid != before.sid]
    assert (new.active, new.foreground) == (0.0, 0.0)


def test_an_outbox_of_release_0_1_0_is_taken_over_and_gets_the_measured_columns(tmp_path: Path) -> None:
    path = tmp_path / "node.outbox.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sessions (sid BLOB PRIMARY KEY, label TEXT NOT NULL, owner TEXT, "
                   "start REAL NOT NULL, end REAL NOT NULL, open INTEGER NOT NULL)")
        db.execute("INSERT INTO sessions VALUES (?, 'editor', NULL, ?, ?, 1)", (b"s" * 16, T0 - 60, T0))
    db.close()
    outbox = Outbox(path)
    (left,) = outbox.load()
    assert (left.sid, left.active, left.foreground) == (b"s" * 16, None, None)
    run = Run(path, HandClock())
    outbox.close()
    state = run.scan()
    reopened = Outbox(path)
    assert {s.sid: (s.active, s.foreground) for s in reopened.load()}[state.sid] == (state.active,
                                                                                       state.foreground)
