"""Turns periodic process sightings into usage sessions, and keeps them until the hub has them."""
from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from itertools import islice
from typing import Callable, Iterable, Mapping, NamedTuple

from common.ids import new_sid as default_new_sid
from common.protocol import SessionState
from node.clock import Reading, watched_between
from node.continuity import Carry, CarriedSession, is_among, oldest_processes
from node.presence.ledger import PresenceLedger, keys_of_processes
from node.presence.probe import Readings
from node.scanner import ProcessId, Sighting, SightingKey

log = logging.getLogger("procmesh.node")

DEFAULT_MAX_CLOSED = 100_000
# Reports whose closed sessions are remembered for a coming ack; a session of an older report that
# was never acknowledged is still pending, so it travels again in the next report.
REPORTS_IN_FLIGHT = 256


class Changes(NamedTuple):
    """What changed since the last call to ``SessionTracker.changes``: for the durable outbox."""

    updated: list[SessionState]  # sessions opened, extended or closed
    gone: list[bytes]            # ids of sessions acknowledged or dropped
    carry: Carry | None = None   # what the next run needs, when a scan changed it


@dataclass(slots=True)
class _Session:
    sid: bytes
    key: SightingKey
    start: float
    end: float  # last time seen
    processes: frozenset[ProcessId] = frozenset()  # those of the last scan that saw it
    active: float | None = None      # seconds; None: not measured
    foreground: float | None = None

    def state(self, is_open: bool) -> SessionState:
        label, owner = self.key
        return SessionState(self.sid, label, self.start, self.end, is_open, owner, self.active,
                            self.foreground)

    def carried(self) -> CarriedSession:
        label, owner = self.key
        return CarriedSession(self.sid, label, owner, self.start, self.end,
                              oldest_processes(self.processes))


class SessionTracker:
    """Sessions per (label, owner), built from scans so that only watched, awake time counts.

    - A session opens when its label is first seen; it starts at the earliest create time of the
      matching processes, but never before the previous scan: time nobody watched is not counted.
    - While seen, its end is the time of the last scan that saw it. Unseen for more than ``grace``
      seconds, it closes at that end.
    - Two scans more than ``grace`` apart, or with time asleep between them, close every open
      session at the earlier scan; labels still seen open new sessions at the later one.
    - Across runs (``restore``), the first scan continues a session of the previous run (same id)
      when one of its processes still runs and the time since the previous run's last scan was
      watched; a process the previous run saw, after a longer gap, counts from this scan; any
      other process from its create time, but never before the previous run's last scan.

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
        # The previous scan: this run's, or until this run scans, the previous run's last one.
        self._previous: Reading | None = None
        # No new session starts before this wall time: the previous scan, or what the previous run
        # recorded. None before anything was watched (a program then counts from its start).
        self._not_before: float | None = None
        # The previous run's open sessions, until this run's first scan has decided on them.
        self._carried: dict[SightingKey, CarriedSession] = {}
        self._scanned = False
        self._carry_changed = False

    def observe(self, at: Reading, seen: Mapping[SightingKey, Sighting],
                readings: Readings | None = None) -> None:
        """Apply one scan read at ``at``: ``seen`` holds each active key with its processes, and
        ``readings`` what the presence probe saw of the desktop then (node.presence)."""
        first, carried = not self._scanned, self._carried
        watched = self._previous is not None and watched_between(self._previous, at, self.grace)
        if not first and not watched:
            self._close_at_gap(at)
        for key, session in list(self._open.items()):
            if at.wall - session.end > self.grace:
                self._close(key)
        if self._presence is not None:
            self._presence.observe(at.wall, readings or {}, keys_of_processes(seen), first or watched)
        not_before = self._not_before if first or watched else at.wall
        for key, sighting in seen.items():
            session = self._open.get(key)
            if session is None:
                session = self._open[key] = self._opened(key, sighting, at.wall, not_before,
                                                         carried.get(key), watched)
            else:
                # A wall clock stepped back must not move the end before what was already reported.
                session.end = max(session.end, at.wall)
            session.processes = sighting.processes
            self._updated.add(session.sid)
        if self._presence is not None:
            for session in self._open.values():
                measured = self._presence.measure(session.sid, session.key, session.start, session.end)
                if measured != (session.active, session.foreground):
                    session.active, session.foreground = measured
                    self._updated.add(session.sid)
        self._previous, self._not_before, self._carried = at, at.wall, {}
        self._scanned = self._carry_changed = True
        self._drop_excess_closed()

    def restore(self, sessions: Iterable[SessionState], carry: Carry | None = None) -> None:
        """Take over what a previous run of this node left: its unacknowledged sessions, all as
        closed (the run that saw them is gone, so none grows unless the first scan continues it),
        and what it carried for continuity."""
        sessions = list(sessions)
        for state in sorted(sessions, key=lambda s: s.end):
            self._closed[state.sid] = _Session(state.sid, (state.label, state.owner), state.start,
                                               state.end, active=state.active, foreground=state.foreground)
            if state.open:
                self._updated.add(state.sid)
        ends = [state.end for state in sessions]
        if carry is not None:
            self._previous = carry.last_scan
            self._carried = {session.key: session for session in carry.sessions}
            ends.append(carry.last_scan.wall)
        if ends:
            self._not_before = max(ends)
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
        carry = None
        if self._carry_changed and self._previous is not None:
            carry = Carry(self._previous, tuple(s.carried() for s in self._open.values()))
        changes = Changes(updated, list(self._gone), carry)
        self._updated.clear()
        self._gone.clear()
        self._carry_changed = False
        return changes

    def close_all(self) -> None:
        """Close every open session at its last sighting (the node is shutting down). What the next
        run needs to continue them is the carry of the last scan, which this leaves alone."""
        for key in list(self._open):
            self._close(key)
        self._drop_excess_closed()

    def _opened(self, key: SightingKey, sighting: Sighting, now: float, not_before: float | None,
                carried: CarriedSession | None, watched: bool) -> _Session:
        """The session of a key first seen at ``now``: the previous run's, continued, or a new one."""
        if (carried is not None and watched and now - carried.end <= self.grace
                and any(is_among(process, carried.processes) for process in sighting.processes)):
            return self._reopen(carried, now)
        return _Session(self._new_sid(), key, self._start(sighting, now, not_before, carried), now)

    @staticmethod
    def _start(sighting: Sighting, now: float, not_before: float | None,
               carried: CarriedSession | None) -> float:
        # Never after the scan: a process created "after" it (clock granularity) must not give a
        # session that ends before it starts.
        starts = [now]
        for process in sighting.processes:
            if carried is not None and is_among(process, carried.processes):
                continue  # the previous run saw it, and the time since was not watched: from now
            created = process[1]
            starts.append(created if not_before is None else max(created, not_before))
        return min(starts)

    def _reopen(self, carried: CarriedSession, now: float) -> _Session:
        closed = self._closed.pop(carried.sid, None)
        self._gone.discard(carried.sid)
        # A session open at the previous run's last scan is among its unacknowledged ones, with the
        # active and foreground seconds it had (an open session is never acknowledged).
        active, foreground = (closed.active, closed.foreground) if closed is not None else (None, None)
        if self._presence is not None:
            self._presence.carry_over(carried.sid, active, foreground)
        return _Session(carried.sid, carried.key, carried.start, max(carried.end, now),
                        active=active, foreground=foreground)

    def _close_at_gap(self, at: Reading) -> None:
        if not self._open:
            return
        assert self._previous is not None
        slept = (at.asleep - self._previous.asleep
                 if at.asleep is not None and self._previous.asleep is not None else 0.0)
        log.info("%.0f s since the previous scan (%.0f s of it asleep): %d open sessions end where "
                 "they were last seen, and what still runs counts from now",
                 at.wall - self._previous.wall, slept, len(self._open))
        for key in list(self._open):
            self._close(key)

    def _close(self, key: SightingKey) -> None:
        session = self._open.pop(key)
        if self._presence is not None:
            session.active, session.foreground = self._presence.settle(
                session.sid, key, session.start, session.end)
        self._closed[session.sid] = session
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
