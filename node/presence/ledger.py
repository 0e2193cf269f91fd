"""Active and foreground seconds per session, from the readings a probe takes at each scan.

Away means no keyboard or mouse input for ``idle_after`` seconds, from the last input on. A scan
tells when the last input was. Time between two known inputs less than ``idle_after`` apart is
certainly active: inputs the node did not see between two scans could only shorten that gap. Time
after the last known input is not settled: it turns out away if no input comes within
``idle_after``, active if one does. An open session is credited with settled time only, so what a
node reports only ever grows (the hub keeps the largest value it got); when a session closes, its
unsettled tail counts as active if the session closed less than ``idle_after`` after the last input,
since the user had not been away by then.

A locked screen is away from the last input before the lock. A scan without a reading (the desktop
could not be read) breaks the chain: nothing between the readings around it counts as active; so
does time the node did not watch (the computer slept): the idle counters of some systems stop in a
suspend, so a reading after it may place the last input inside the sleep.

Foreground is sampled at every scan: the stretch between two consecutive scans counts for a session
when both saw the focused window owned by one of its processes, and only where it was active too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from node.presence.probe import Reading, Readings
from node.presence.spans import Spans
from node.scanner import Sighting, SightingKey

# The X server, Windows and macOS count idle time on their own clocks, and a scan reads them a
# moment after it read the wall clock: a last input that moved by less than this is the same input.
SAME_INPUT_SECONDS = 0.5
# What happened this long ago is forgotten, unless an open session has not been credited with it.
KEEP_SECONDS = 3600.0

Measured = tuple["float | None", "float | None"]  # (active, foreground); None: not measured
KeysOfPid = Callable[[int], frozenset[SightingKey]]
NO_KEYS: frozenset[SightingKey] = frozenset()


def keys_of_processes(seen: Mapping[SightingKey, Sighting]) -> KeysOfPid:
    """Which sessions a process found by a scan counts for: those a focused window of it serves."""
    keys: dict[int, set[SightingKey]] = {}
    for key, sighting in seen.items():
        for pid, _created in sighting.processes:
            keys.setdefault(pid, set()).add(key)
    return lambda pid: frozenset(keys.get(pid, NO_KEYS))


@dataclass(slots=True)
class _Timeline:
    """One user's presence as far as the readings tell it."""

    active: Spans = field(default_factory=Spans)
    focus: dict[SightingKey, Spans] = field(default_factory=dict)
    last_input: float | None = None   # the latest input known, not followed by a lock
    settled: float = float("-inf")    # before this moment, active or away is decided
    current: Reading | None = None    # this scan's reading
    last_scan: float | None = None    # the previous scan with a reading, unbroken since
    last_focus: frozenset[SightingKey] = NO_KEYS
    # After a sleep, the input the first reading names, which an idle counter that stopped in the
    # sleep may have put inside it: only an input after this one is known.
    distrusted: float | None = None

    def observe(self, now: float, reading: Reading | None, focused: frozenset[SightingKey],
                idle_after: float, continuous: bool) -> None:
        self.current = reading
        if reading is None or not continuous:
            self.last_input, self.last_scan, self.last_focus = None, None, NO_KEYS
            self.settled = max(self.settled, now)
        if reading is None:
            return
        if self.last_scan is not None:
            for key in self.last_focus & focused:
                self.focus.setdefault(key, Spans()).add(self.last_scan, now)
        self.last_scan, self.last_focus = now, focused
        if reading.locked:
            self.last_input = None
            self.settled = max(self.settled, now)
            return
        latest = now - max(0.0, reading.idle)
        if not continuous:
            self.distrusted = latest
        elif self.distrusted is not None and latest > self.distrusted + SAME_INPUT_SECONDS:
            self.distrusted = None
        if self.distrusted is not None:
            return
        if self.last_input is None:
            # The first input known since the node started, or since a lock: what came before it
            # is unknown, so it is not active.
            self.last_input = latest
            self.settled = max(self.settled, latest)
        elif latest > self.last_input + SAME_INPUT_SECONDS:
            if latest - self.last_input < idle_after:
                self.active.add(self.last_input, latest)
            self.last_input = latest
            self.settled = max(self.settled, latest)

    def tail(self, end: float, idle_after: float) -> tuple[float, float] | None:
        """The unsettled time up to ``end`` that counts as active if a session closes at ``end``."""
        if self.last_input is None or end - self.last_input >= idle_after:
            return None
        return self.settled, end

    def forget_before(self, moment: float) -> None:
        self.active.forget_before(moment)
        for key in list(self.focus):
            self.focus[key].forget_before(moment)
            if not self.focus[key]:
                del self.focus[key]


@dataclass(slots=True)
class _Credit:
    """What one session was credited with so far, up to ``until``."""

    user: str | None
    until: float
    active: float = 0.0
    foreground: float = 0.0
    measured: bool = False        # a reading of its user was taken while it was open
    focus_measured: bool = False

    def result(self) -> Measured:
        return (self.active if self.measured else None,
                self.foreground if self.focus_measured else None)


class PresenceLedger:
    """Turns per-scan readings into active and foreground seconds per session.

    Call ``observe`` once per scan, before the sessions are updated; then ``measure`` each open
    session and ``settle`` each session that closes. Sessions are keyed like the tracker's: by
    (label, owner), where owner None is the user the node runs as.
    """

    def __init__(self, idle_after: float) -> None:
        self.idle_after = idle_after
        self._timelines: dict[str | None, _Timeline] = {}
        self._credits: dict[bytes, _Credit] = {}
        self._carried: dict[bytes, tuple[float | None, float | None]] = {}

    def observe(self, now: float, readings: Readings, keys_of_pid: KeysOfPid,
                continuous: bool = True) -> None:
        """Take one scan's readings. continuous=False: the node did not watch the time since its
        previous scan (asleep, frozen), so nothing in it counts, whatever the readings say."""
        for user in set(self._timelines) | set(readings):
            reading = readings.get(user)
            focused = NO_KEYS
            if reading is not None and reading.focused_pid is not None:
                focused = keys_of_pid(reading.focused_pid)
            timeline = self._timelines.setdefault(user, _Timeline())
            timeline.observe(now, reading, focused, self.idle_after, continuous)
            needed = min((c.until for c in self._credits.values() if c.user == user), default=now)
            timeline.forget_before(min(needed, now - KEEP_SECONDS))

    def measure(self, sid: bytes, key: SightingKey, start: float, end: float) -> Measured:
        """An open session's settled active and foreground seconds so far."""
        credit, timeline = self._credit(sid, key, start)
        if timeline is not None:
            self._credit_until(credit, timeline, key, start, min(end, timeline.settled))
        return credit.result()

    def settle(self, sid: bytes, key: SightingKey, start: float, end: float) -> Measured:
        """A closing session's final values, its unsettled tail included; forgets the session."""
        credit, timeline = self._credit(sid, key, start)
        del self._credits[sid]
        if timeline is None:
            return credit.result()
        self._credit_until(credit, timeline, key, start, min(end, timeline.settled))
        tail = timeline.tail(end, self.idle_after)
        if tail is not None:
            lo, hi = max(tail[0], credit.until, start), tail[1]
            if hi > lo:
                credit.active += hi - lo
                focus = timeline.focus.get(key)
                if focus is not None:
                    credit.foreground += focus.length(lo, hi)
        return credit.result()

    def carry_over(self, sid: bytes, active: float | None, foreground: float | None) -> None:
        """Values a previous run of this node reported for a session this run continues."""
        self._carried[sid] = (active, foreground)

    def _credit(self, sid: bytes, key: SightingKey, start: float) -> tuple[_Credit, _Timeline | None]:
        owner = key[1]
        user = owner.casefold() if owner is not None else None
        credit = self._credits.get(sid)
        if credit is None:
            credit = self._credits[sid] = _Credit(user, start)
            active, foreground = self._carried.pop(sid, (None, None))
            if active is not None:
                credit.active, credit.measured = active, True
            if foreground is not None:
                credit.foreground, credit.focus_measured = foreground, True
        timeline = self._timelines.get(user)
        if timeline is not None and timeline.current is not None:
            credit.measured = True
            credit.focus_measured = credit.focus_measured or timeline.current.focus_measured
        return credit, timeline

    @staticmethod
    def _credit_until(credit: _Credit, timeline: _Timeline, key: SightingKey, start: float,
                      until: float) -> None:
        lo = max(credit.until, start)
        if until <= lo:
            return
        credit.active += timeline.active.length(lo, until)
        focus = timeline.focus.get(key)
        if focus is not None:
            credit.foreground += timeline.active.overlap(focus, lo, until)
        credit.until = until
