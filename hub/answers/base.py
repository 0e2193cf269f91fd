"""What the answer queries share: their error, the window they cover, and SQL building blocks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

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


def slots_cte(dialect: Dialect, stretches: Sequence[Stretch], name: str = "slots",
              bound: Callable[[float], Any] | None = None, param: str = "") -> tuple[str, list[Any]]:
    """``slots(k, lo, hi) AS (VALUES ...)``: the stretches as a table, for a WITH clause; ``bound``
    and ``param`` turn the bounds into other values (local dates for the roll-up)."""
    if len(stretches) > MAX_SLOTS:
        raise AnswerError(f"the question cuts the window into {len(stretches):,} periods, more than "
                          f"{MAX_SLOTS:,}: ask for a shorter window (--since/--until)")
    bound = bound or dialect.to_db_time
    param = param or dialect.time_param
    row = f"({dialect.placeholder}, {param}, {param})"
    params: list[Any] = []
    for stretch in stretches:
        params += [stretch.k, bound(stretch.lo), bound(stretch.hi)]
    return f"{name}(k, lo, hi) AS (VALUES {', '.join([row] * len(stretches))})", params


def seconds(dialect: Dialect, lo: str, hi: str) -> str:
    return dialect.seconds_between.format(lo=lo, hi=hi)
