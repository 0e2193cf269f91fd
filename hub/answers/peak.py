"""Peak concurrent use per program and period, against the licences owned.

For each label and local day: per computer (or user) the union of the label's sessions (two users
of one computer count once when counting computers), then a sweep over +1/-1 events with a running
SUM gives how many ran it at each instant. A day is kept as a histogram (seconds at each level,
first instant at each level), which the roll-up stores; weeks and months add days up exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

from hub.storage import Storage
from hub.storage.base import Dialect

from .base import AnswerError, Stretch, Window, bounds, overlapping, seconds, slot_of, slots_cte, values_cte
from .periods import local_day, period_key, slots
from .rolled import rolled, split

PER = ("day", "week", "month")
COUNTED = {"computers": "computerName", "users": "user"}


@dataclass(frozen=True, slots=True)
class PeakRow:
    period: str
    process: str
    peak: int                        # most computers (or users) running it at one instant
    at: float                        # when that was first reached
    seconds_at_peak: float           # how long it was held, in total over the period
    licenses: int | None             # licences owned (licenses.txt), None when not named
    seconds_over_licenses: float | None   # time during which more copies ran than are owned


def peaks(storage: Storage, window: Window, zone: ZoneInfo, now: float, per: str = "day",
          counted: str = "computers", labels: Sequence[str] = (),
          licenses: dict[str, int] | None = None, use_rollup: bool = True) -> list[PeakRow]:
    """One row per period and label that ran in ``window``, by period then label; whole local
    days the roll-up holds are read from it unless use_rollup is False."""
    if per not in PER:
        raise AnswerError(f"--per {per!r}: use day, week or month")
    if counted not in COUNTED:
        raise AnswerError(f"--count {counted!r}: use computers or users")
    span = bounds(storage, window, now)
    if span is None:
        return []
    days = slots(span[0], span[1], ["day"], zone)
    roll = rolled(storage, zone) if use_rollup else None
    raw, rolled_up = split(days, roll, zone)
    levels: dict[tuple[date, str], dict[int, list[float]]] = {}
    if raw:
        sql, params = histogram_sql(storage.dialect, raw, COUNTED[counted], labels,
                                    None if roll is None else roll.longest)
        _collect(levels, storage.read(sql, params), storage.dialect,
                 lambda k: date.fromisoformat(days[slot_of(k)].key[0]))
    if rolled_up:
        # The rolled-up days are summed per period in SQL: a year per month is 12 histograms of
        # each label, not 365. Each period's rows come back under its first day.
        firsts: dict[str, date] = {}
        for unit in rolled_up:
            firsts.setdefault(period_key(per, local_day(unit.start, zone)), local_day(unit.start, zone))
        group = {key: index for index, key in enumerate(firsts)}
        days = [(local_day(u.start, zone).isoformat(), group[period_key(per, local_day(u.start, zone))])
                for u in rolled_up]
        sql, params = rolled_histogram_sql(storage.dialect, days, counted, labels)
        starts = list(firsts.values())
        _collect(levels, storage.read(sql, params), storage.dialect, lambda g: starts[int(g)])
    return _peak_rows(levels, per, licenses or {})


# The columns of histogram_sql.
HISTOGRAM_COLUMNS = ("k", "p", "n", "secs", "first_at")


def histogram_sql(dialect: Dialect, stretches: Sequence[Stretch], who: str, labels: Sequence[str],
                  longest: float | None = None) -> tuple[str, list[Any]]:
    """Per stretch key k, label and level n >= 1: seconds at exactly n, first instant at n.
    ``longest``: see base.overlapping."""
    cte, params = slots_cte(dialect, stretches)
    hint, where, where_params = overlapping(dialect, stretches, longest, hinted=False)
    mark = dialect.placeholder
    only = f" AND r.process IN ({', '.join([mark] * len(labels))})" if labels else ""
    start, end = f"{dialect.greatest}(r.startTime, s.lo)", f"{dialect.least}(r.endTime, s.hi)"
    sql = (f"WITH {cte}, "
           f"pieces AS (SELECT s.k AS k, r.process AS p, r.{who} AS w, {start} AS a, {end} AS b "
           f"FROM records AS r{' ' + hint if hint else ''} JOIN slots AS s ON r.startTime < s.hi AND r.endTime > s.lo "
           f"WHERE {where}{only}), "
           # Islands: a piece that starts after every earlier piece of the same computer ended
           # opens a new one; each island is one span of that computer running the label.
           f"marked AS (SELECT k, p, w, a, b, CASE WHEN a > MAX(b) OVER (PARTITION BY k, p, w ORDER BY a, b "
           f"ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 1 ELSE 0 END AS opens FROM pieces), "
           f"numbered AS (SELECT k, p, w, a, b, SUM(opens) OVER (PARTITION BY k, p, w ORDER BY a, b "
           f"ROWS UNBOUNDED PRECEDING) AS island FROM marked), "
           f"spans AS (SELECT k, p, MIN(a) AS a, MAX(b) AS b FROM numbered GROUP BY k, p, w, island), "
           # Each span gives a +1 and a -1 event (a join with two rows reads spans once, where a
           # UNION ALL of two reads has MariaDB compute every CTE above twice). Events at the same
           # instant are not summed first: all but the last of them hold for no time (t2 = t).
           f"events AS (SELECT k, p, CASE WHEN e.d > 0 THEN a ELSE b END AS t, e.d AS d FROM spans "
           f"CROSS JOIN (SELECT 1 AS d UNION ALL SELECT -1) AS e), "
           f"levels AS (SELECT k, p, t, SUM(d) OVER (PARTITION BY k, p ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS n, "
           f"LEAD(t) OVER (PARTITION BY k, p ORDER BY t, d) AS t2 FROM events) "
           f"SELECT k, p, n, SUM({seconds(dialect, 't', 't2')}) AS secs, MIN(t) AS first_at FROM levels "
           f"WHERE n > 0 AND t2 > t GROUP BY k, p, n")
    return sql, params + where_params + list(labels)


def rolled_histogram_sql(dialect: Dialect, days: Sequence[tuple[str, int]], counted: str,
                         labels: Sequence[str]) -> tuple[str, list[Any]]:
    """The same columns from the roll-up for the local days given (ISO date, group), summed per
    group, with the group in place of k."""
    mark, dp = dialect.placeholder, dialect.date_param
    cte, params = values_cte("days(d, g)", f"({dp}, {mark})", days)
    only = f" AND u.process IN ({', '.join([mark] * len(labels))})" if labels else ""
    sql = (f"WITH {cte} SELECT days.g, u.process, u.level, SUM(u.seconds), MIN(u.firstAt) "
           f"FROM rollup_peak AS u JOIN days ON u.day = days.d "
           f"WHERE u.counted = {mark} AND u.day >= {dp} AND u.day <= {dp}{only} GROUP BY days.g, u.process, u.level")
    return sql, params + [counted, min(day for day, _ in days), max(day for day, _ in days), *labels]


def _collect(levels: dict[tuple[date, str], dict[int, list[float]]], rows: Sequence[Sequence[Any]],
             dialect: Dialect, day_of: Callable[[Any], date]) -> None:
    for where, process, level, secs, first in rows:
        at = dialect.from_db_time(first)
        held = levels.setdefault((day_of(where), process), {}).setdefault(int(level), [0.0, at])
        held[0] += float(secs)
        held[1] = min(held[1], at)


def _peak_rows(levels: dict[tuple[date, str], dict[int, list[float]]], per: str,
               licenses: dict[str, int]) -> list[PeakRow]:
    by_period: dict[tuple[str, str], dict[int, list[float]]] = {}
    for (day, process), per_level in levels.items():
        merged = by_period.setdefault((period_key(per, day), process), {})
        for level, (secs, at) in per_level.items():
            held = merged.setdefault(level, [0.0, at])
            held[0] += secs
            held[1] = min(held[1], at)
    rows = []
    for (period, process), per_level in sorted(by_period.items()):
        peak = max(per_level)
        owned = licenses.get(process.casefold())
        over = None if owned is None else sum(secs for level, (secs, _) in per_level.items() if level > owned)
        rows.append(PeakRow(period, process, peak, per_level[peak][1], per_level[peak][0], owned, over))
    return rows
