"""Turns periodic process sightings into usage sessions, and keeps them until the hub has them."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import islice
from typing import Callable, Iterable, Mapping

from common.ids import new_sid as default_new_sid
from common.protocol import SessionState
from node.scanner import SightingKey

log = logging.getLogger("procmesh.node")


@dataclass(slots=True)
class _Session:
    sid: bytes
    key: SightingKey
    start: float
    end: float  # last time seen
    sent_in: int | None = None  # seq of the last report that carried it closed

    def state(self, is_open: bool) -> SessionState:
        label, owner = self.key
        return SessionState(self.sid, label, self.start, self.end, is_open, owner)


class SessionTracker:
    """Sessions per (label, owner): open while seen, closed after `grace` seconds unseen.

    Closed sessions stay pending until a hub acknowledgement covers a report that carried them;
    at most `max_closed` of them are kept, so a hub that never answers cannot exhaust memory.
    """

    def __init__(self, grace: float, new_sid: Callable[[], bytes] = default_new_sid,
                 max_closed: int = 10_000) -> None:
        self.grace = grace
        self._new_sid = new_sid
        self._max_closed = max_closed
        self._open: dict[SightingKey, _Session] = {}
        self._closed: dict[bytes, _Session] = {}  # in closing order
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
                self._open[key] = _Session(self._new_sid(), key, start, now)
            else:
                session.start = min(session.start, start)
                # A wall clock stepped back must not move the end before what was already reported.
                session.end = max(session.end, now)
        self._drop_excess_closed()

    def pending(self) -> list[SessionState]:
        """Every open session and every closed one not yet acknowledged, oldest first."""
        states = [s.state(True) for s in self._open.values()]
        states += [s.state(False) for s in self._closed.values()]
        states.sort(key=lambda state: (state.start, state.sid))
        return states

    def mark_sent(self, seq: int, sessions: Iterable[SessionState]) -> None:
        """Note that report `seq` carried `sessions`; only closed ones can later be acknowledged."""
        for state in sessions:
            session = self._closed.get(state.sid)
            if session is not None and not state.open:
                session.sent_in = seq

    def acknowledge(self, seq: int) -> int:
        """Forget closed sessions sent in a report no later than `seq`; return how many."""
        done = [sid for sid, s in self._closed.items() if s.sent_in is not None and s.sent_in <= seq]
        for sid in done:
            del self._closed[sid]
        return len(done)

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
        self._closed[session.sid] = session
        self._last_end[key] = session.end

    def _drop_excess_closed(self) -> None:
        excess = len(self._closed) - self._max_closed
        if excess <= 0:
            return
        for sid in list(islice(self._closed, excess)):
            del self._closed[sid]
        log.warning("dropped %d closed sessions the hub has not acknowledged (limit %d)",
                    excess, self._max_closed)
