"""What the answer queries share: their error, the window they cover, and SQL building blocks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from common.errors import ProcmeshError
from hub.storage import Storage
from hub.storage.base import Dialect

# Three parameters a slot; SQLite takes at most 32,766 in one statement. A year by hour is 8,784.
MAX_SLOTS = 10_000
# Text at least as old as any stored time: a window without a start begins here.
BEGINNING = 0.0


class AnswerError(ProcmeshError, ValueError):
    """A question that cannot be answered as asked (bad labs.txt line, unknown zone, ...): one line."""


@dataclass(frozen=True)
class Window:
    """[since, until) in epoch seconds; None: from the first stored session, or up to now."""
    since: float | None = None
    until: float | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise AnswerError("the end of the time window (--until) must be after its start (--since)")


def stored_span(storage: Storage) -> tuple[float, float] | None:
    """The first start and the last end stored (two index look-ups), or None when nothing is."""
    first, last = storage.read("SELECT (SELECT MIN(startTime) FROM records), "
                               "(SELECT MAX(endTime) FROM records)", [])[0]
    if first is None:
        return None
    return storage.dialect.from_db_time(first), storage.dialect.from_db_time(last)


def bounds(storage: Storage, window: Window, now: float) -> tuple[float, float] | None:
    """The window's bounds made concrete: a missing start is the first stored session's, a missing
    end is now (or the last stored end, if a node's clock ran ahead). None: nothing to report."""
    since, until = window.since, window.until
    if since is None or until is None:
        span = stored_span(storage)
        if span is None:
            if since is None:
                return None
            span = (since, now)   # raw sessions deleted (retention): the roll-up may hold the days
        since = span[0] if since is None else since
        until = max(now, span[1]) if until is None else until
    return (since, until) if since < until else None


@dataclass(frozen=True, slots=True)
class Stretch:
    """Part of a slot (a period of the question) read from one source: raw sessions, or the roll-up
    (then lo and hi are whole local days). ``joins``: the time just before it belongs to the same
    slot, so a session that began earlier was counted there already."""
    slot: int
    lo: float
    hi: float
    joins: bool = False

    @property
    def k(self) -> int:
        """The stretch's key in SQL: slot + 1, negative when it joins (one column carries both)."""
        return -(self.slot + 1) if self.joins else self.slot + 1


def slot_of(k: int) -> int:
    return abs(k) - 1


def values_cte(name: str, row: str, rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """``name AS (VALUES ...)`` (name with its column list) for a WITH clause: one ``row`` of
    placeholders per row, the rows' values as parameters."""
    if len(rows) > MAX_SLOTS:
        raise AnswerError(f"the question cuts the window into {len(rows):,} periods, more than "
                          f"{MAX_SLOTS:,}: ask for a shorter window (--since/--until)")
    return f"{name} AS (VALUES {', '.join([row] * len(rows))})", [value for values in rows for value in values]


def slots_cte(dialect: Dialect, stretches: Sequence[Stretch]) -> tuple[str, list[Any]]:
    """``slots(k, lo, hi) AS (VALUES ...)``: the stretches as a table, for a WITH clause."""
    tp = dialect.time_param
    return values_cte("slots(k, lo, hi)", f"({dialect.placeholder}, {tp}, {tp})",
                      [(s.k, dialect.to_db_time(s.lo), dialect.to_db_time(s.hi)) for s in stretches])


def overlapping(dialect: Dialect, stretches: Sequence[Stretch], longest: float | None,
                hinted: bool) -> tuple[str, str, list[Any]]:
    """The index hint, the WHERE condition and its parameters that find the sessions of
    ``records AS r`` that may overlap the stretches.

    Without a bound on the length of sessions: those ending after the first stretch begins (the
    endTime index; for a stretch a month ago that is every session of the month). With one
    (``longest`` seconds, see hub.answers.rolled): those starting within each stretch or up to
    ``longest`` before it (the startTime index), so a question reads only its raw days.
    """
    tp, to_db = dialect.time_param, dialect.to_db_time
    lo, hi = min(s.lo for s in stretches), max(s.hi for s in stretches)
    if longest is None:
        hint = dialect.since_hint if hinted else ""
        return hint, f"r.endTime >= {tp} AND r.startTime < {tp}", [to_db(lo), to_db(hi)]
    ranges: list[list[float]] = []
    reach = longest + 1.0   # a second more than any session: times are rounded to milliseconds
    for stretch in sorted(stretches, key=lambda s: s.lo):
        if ranges and stretch.lo - reach <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], stretch.hi)
        else:
            ranges.append([stretch.lo - reach, stretch.hi])
    starts = " OR ".join([f"(r.startTime >= {tp} AND r.startTime < {tp})"] * len(ranges))
    return (dialect.start_hint, f"r.endTime >= {tp} AND ({starts})",
            [to_db(lo), *(to_db(bound) for pair in ranges for bound in pair)])


def seconds(dialect: Dialect, lo: str, hi: str) -> str:
    return dialect.seconds_between.format(lo=lo, hi=hi)
