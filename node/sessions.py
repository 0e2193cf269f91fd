"""Turns periodic process sightings into usage sessions, and keeps them until the hub has them."""
from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from itertools import islice
from typing import Callable, Iterable, Mapping, NamedTuple

from common.ids import new_sid as default_new_sid
from common.protocol import SessionState
from node.presence.ledger import PresenceLedger
from node.scanner import SightingKey

log = logging.getLogger("procmesh.node")

DEFAULT_MAX_CLOSED = 100_000
# Reports whose closed sessions are remembered for a coming ack; a session of an older report that
# was never acknowledged is still pending, so it travels again in the next report.
REPORTS_IN_FLIGHT = 256


class Changes(NamedTuple):
    """What changed since the last call to ``SessionTracker.changes``: for the durable outbox."""

    updated: list[SessionState]  # sessions opened, extended or closed
    gone: list[bytes]            # ids of sessions acknowledged or dropped


@dataclass(slots=True)
class _Session:
    sid: bytes
    key: SightingKey
    start: float
    end: float  # last time seen
    active: float | None = None      # seconds; None: not measured
    foreground: float | None = None

    def state(self, is_open: bool) -> SessionState:
        label, owner = self.key
        return SessionState(self.sid, label, self.start, self.end, is_open, owner, self.active,
                            self.foreground)


class SessionTracker:
    """Sessions per (label, owner): open while seen, closed after `grace` seconds unseen.

    Closed sessions stay pending until a hub acknowledges a report that carried them; at most
    `max_closed` of them are kept, so a hub that never answers cannot exhaust memory.
    """

    def __init__(self, grace: float, new_sid: Callable[[], bytes] = default_new_sid,
                 max_closed: int = DEFAULT_MAX_CLOSED, presence: PresenceLedger | None = None) -> None:
        """presence: where active and foreground seconds come from; without it they stay None."""
        self.grace = grace
        self._presence = presence
        self._new_sid = new_sid
        self._max_closed = max_closed
        self._open: dict[SightingKey, _Session] = {}
        self._closed: dict[bytes, _Session] = {}  # in closing order
        self._in_flight: OrderedDict[int, list[bytes]] = OrderedDict()  # seq -> closed sids carried
        self._updated: set[bytes] = set()
        self._gone: set[bytes] = set()
        # The end of the last closed session per key, kept after the hub has it: a new session of
        # the same key must not start before it, or a program that outlived a suspend would
        # produce overlapping sessions.
        self._last_end: dict[SightingKey, float] = {}

    def observe(self, now: float, seen: Mapping[SightingKey, float]) -> None:
        """Apply one scan made at `now`: `seen` maps each active key to its earliest create_time."""
        for key, session in list(self._open.items()):
            if now - session.end > self.grace:
                self._close(key)
        for key, created in seen.items():
            start = self._start_for(key, created, now)
            session = self._open.get(key)
            if session is None:
                session = self._open[key] = _Session(self._new_sid(), key, start, now)
            else:
                session.start = min(session.start, start)
                # A wall clock stepped back must not move the end before what was already reported.
                session.end = max(session.end, now)
            self._updated.add(session.sid)
        if self._presence is not None:
            for session in self._open.values():
                measured = self._presence.measure(session.sid, session.key, session.start, session.end)
                if measured != (session.active, session.foreground):
                    session.active, session.foreground = measured
                    self._updated.add(session.sid)
        self._drop_excess_closed()

    def restore(self, sessions: Iterable[SessionState]) -> None:
        """Take over the sessions a previous run of this node left unacknowledged, all as closed:
        the run that saw them is gone, so none of them may grow any further."""
        for state in sorted(sessions, key=lambda s: s.end):
            key = (state.label, state.owner)
            self._closed[state.sid] = _Session(state.sid, key, state.start, state.end, state.active,
                                               state.foreground)
            self._last_end[key] = max(self._last_end.get(key, state.end), state.end)
            if state.open:
                self._updated.add(state.sid)
        self._drop_excess_closed()

    def pending(self) -> list[SessionState]:
        """Every open session and every closed one not yet acknowledged, oldest first."""
        states = [s.state(True) for s in self._open.values()]
        states += [s.state(False) for s in self._closed.values()]
        states.sort(key=lambda state: (state.start, state.sid))
        return states

    def mark_sent(self, seq: int, sessions: Iterable[SessionState]) -> None:
        """Note that report `seq` carried `sessions`; only closed ones can later be acknowledged."""
        closed = [state.sid for state in sessions if not state.open and state.sid in self._closed]
        if not closed:
            return
        self._in_flight[seq] = closed
        while len(self._in_flight) > REPORTS_IN_FLIGHT:
            self._in_flight.popitem(last=False)

    def acknowledge(self, seqs: Iterable[int]) -> int:
        """Forget the closed sessions that the reports `seqs` carried (they are committed); return
        how many were forgotten."""
        forgotten = 0
        for seq in seqs:
            for sid in self._in_flight.pop(seq, ()):
                if self._closed.pop(sid, None) is not None:
                    self._gone.add(sid)
                    forgotten += 1
        return forgotten

    def changes(self) -> Changes:
        """Sessions changed and forgotten since the previous call, so the outbox can follow."""
        open_by_sid = {s.sid: s for s in self._open.values()}
        updated = []
        for sid in self._updated - self._gone:
            if sid in self._closed:
                updated.append(self._closed[sid].state(False))
            elif sid in open_by_sid:
                updated.append(open_by_sid[sid].state(True))
        changes = Changes(updated, list(self._gone))
        self._updated.clear()
        self._gone.clear()
        return changes

    def close_all(self) -> None:
        """Close every open session at its last sighting (the node is shutting down)."""
        for key in list(self._open):
            self._close(key)
        self._drop_excess_closed()

    def _start_for(self, key: SightingKey, created: float, now: float) -> float:
        not_before = self._last_end.get(key, created)
        # A process created "after" the scan (clock granularity, a scan that began before now) must
        # not give a session that ends before it starts.
        return min(max(created, not_before), now)

    def _close(self, key: SightingKey) -> None:
        session = self._open.pop(key)
        if self._presence is not None:
            session.active, session.foreground = self._presence.settle(
                session.sid, key, session.start, session.end)
        self._closed[session.sid] = session
        self._last_end[key] = session.end
        self._updated.add(session.sid)

    def _drop_excess_closed(self) -> None:
        excess = len(self._closed) - self._max_closed
        if excess <= 0:
            return
        for sid in list(islice(self._closed, excess)):
            del self._closed[sid]
            self._gone.add(sid)
        log.warning("dropped %d closed sessions the hub has not acknowledged (limit %d)",
                    excess, self._max_closed)
