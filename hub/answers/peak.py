"""Peak concurrent use per program and period, against the licences owned.

For each label and local day: a sweep over +1/-1 events of its sessions, first per computer (or
user) to find when each starts and stops running it (two users of one computer count once when
counting computers), then over those starts and stops, whose running SUM is how many ran it at
each instant. A day is kept as a histogram (seconds at each level, first instant at each level),
which the roll-up stores (rollup_peak), and weeks and months add days up exactly. Each day's
highest level is kept apart as well (rollup_peak_top): a month's peak reads one row a day of each
label, and its time over the licences only the levels above them.
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
    tally = _Tally(licenses or {})
    if raw:
        sql, params = histogram_sql(storage.dialect, raw, COUNTED[counted], labels,
                                    None if roll is None else roll.longest)
        tally.add(storage.read(sql, params), storage.dialect,
                  lambda k: date.fromisoformat(days[slot_of(k)].key[0]), whole=True)
    if rolled_up:
        # The rolled-up days are summed per period in SQL: a year per month is 12 rows of each
        # label, not 365. Each period's rows come back under its first day.
        firsts: dict[str, date] = {}
        for unit in rolled_up:
            firsts.setdefault(period_key(per, local_day(unit.start, zone)), local_day(unit.start, zone))
        group = {key: index for index, key in enumerate(firsts)}
        grouped = [(local_day(u.start, zone).isoformat(), group[period_key(per, local_day(u.start, zone))])
                   for u in rolled_up]
        starts = list(firsts.values())
        sql, params = rolled_tops_sql(storage.dialect, grouped, counted, labels)
        tops = storage.read(sql, params)
        tally.add(tops, storage.dialect, lambda g: starts[int(g)], whole=False)
        licensed = sorted({(process, tally.licenses[process.casefold()]) for _, process, _, _, _ in tops
                           if process.casefold() in tally.licenses})
        if licensed:
            sql, params = rolled_over_sql(storage.dialect, grouped, counted, licensed)
            for g, process, secs in storage.read(sql, params):
                tally.add_over(starts[int(g)], process, float(secs))
    return tally.rows(per)


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
           # Each piece gives a +1 and a -1 event (a join with two rows reads pieces once, where a
           # UNION ALL of two reads has MariaDB compute the CTEs above twice). Per computer, a
           # running sum counts its open pieces: the computer starts running the label when that
           # sum reaches 1 and stops when it falls to 0. At one instant starts come before ends,
           # so pieces that touch never stop it.
           f"events AS (SELECT k, p, w, CASE WHEN e.d > 0 THEN a ELSE b END AS t, e.d AS d FROM pieces "
           f"CROSS JOIN (SELECT 1 AS d UNION ALL SELECT -1) AS e), "
           f"held AS (SELECT k, p, t, d, SUM(d) OVER (PARTITION BY k, p, w ORDER BY t, d DESC "
           f"ROWS UNBOUNDED PRECEDING) AS c FROM events), "
           f"edges AS (SELECT k, p, t, d FROM held WHERE (d > 0 AND c = 1) OR (d < 0 AND c = 0)), "
           # Edges at the same instant are not summed first: all but the last of them hold for no
           # time (t2 = t).
           f"levels AS (SELECT k, p, t, SUM(d) OVER (PARTITION BY k, p ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS n, "
           f"LEAD(t) OVER (PARTITION BY k, p ORDER BY t, d) AS t2 FROM edges) "
           f"SELECT k, p, n, SUM({seconds(dialect, 't', 't2')}) AS secs, MIN(t) AS first_at FROM levels "
           f"WHERE n > 0 AND t2 > t GROUP BY k, p, n")
    return sql, params + where_params + list(labels)


def rolled_tops_sql(dialect: Dialect, days: Sequence[tuple[str, int]], counted: str,
                    labels: Sequence[str]) -> tuple[str, list[Any]]:
    """From rollup_peak_top, for the local days given (ISO date, group): per group, label and
    level that was the highest of some day, the seconds at it and its first instant, summed over
    those days. The highest level of a group is the highest of its days, and only the days that
    reached it add to its time, so these rows answer peak, at and seconds_at_peak exactly."""
    mark, dp = dialect.placeholder, dialect.date_param
    cte, params = values_cte("days(d, g)", f"({dp}, {mark})", days)
    only = f" AND u.process IN ({', '.join([mark] * len(labels))})" if labels else ""
    sql = (f"WITH {cte} SELECT days.g, u.process, u.level, SUM(u.seconds), MIN(u.firstAt) "
           f"FROM rollup_peak_top AS u JOIN days ON u.day = days.d "
           f"WHERE u.counted = {mark} AND u.day >= {dp} AND u.day <= {dp}{only} GROUP BY days.g, u.process, u.level")
    return sql, params + [counted, min(day for day, _ in days), max(day for day, _ in days), *labels]


def rolled_over_sql(dialect: Dialect, days: Sequence[tuple[str, int]], counted: str,
                    licensed: Sequence[tuple[str, int]]) -> tuple[str, list[Any]]:
    """Per group and licensed label, the seconds of rollup_peak above the licences owned: only
    those levels' rows are read, each day's through the primary key."""
    mark, dp, text = dialect.placeholder, dialect.date_param, dialect.text_param
    days_cte, params = values_cte("days(d, g)", f"({dp}, {mark})", days)
    owned_cte, owned_params = values_cte("owned(p, n)", f"({text}, {mark})", licensed)
    sql = (f"WITH {days_cte}, {owned_cte} SELECT days.g, u.process, SUM(u.seconds) "
           f"FROM days JOIN owned JOIN rollup_peak AS u ON u.day = days.d AND u.process = owned.p "
           f"AND u.counted = {mark} AND u.level > owned.n GROUP BY days.g, u.process")
    return sql, params + owned_params + [counted]


class _Tally:
    """Per day (or the first day of a period) and label: the levels reached, each with its seconds
    and first instant, and apart the time over the licences owned (``licenses``, by casefolded
    label), since the roll-up gives only each day's highest level."""

    def __init__(self, licenses: dict[str, int]) -> None:
        self.licenses = licenses
        self._levels: dict[tuple[date, str], dict[int, list[float]]] = {}
        self._over: dict[tuple[date, str], float] = {}

    def add(self, rows: Sequence[Sequence[Any]], dialect: Dialect, day_of: Callable[[Any], date],
            whole: bool) -> None:
        """Rows (where, label, level, seconds, first instant); ``whole``: every level of each
        day is among them, so the time over the licences is theirs to count."""
        for where, process, level, secs, first in rows:
            day, at = day_of(where), dialect.from_db_time(first)
            held = self._levels.setdefault((day, process), {}).setdefault(int(level), [0.0, at])
            held[0] += float(secs)
            held[1] = min(held[1], at)
            owned = self.licenses.get(process.casefold())
            if whole and owned is not None and int(level) > owned:
                self.add_over(day, process, float(secs))

    def add_over(self, day: date, process: str, secs: float) -> None:
        self._over[(day, process)] = self._over.get((day, process), 0.0) + secs

    def rows(self, per: str) -> list[PeakRow]:
        by_period: dict[tuple[str, str], dict[int, list[float]]] = {}
        over: dict[tuple[str, str], float] = {}
        for (day, process), per_level in self._levels.items():
            merged = by_period.setdefault((period_key(per, day), process), {})
            for level, (secs, at) in per_level.items():
                held = merged.setdefault(level, [0.0, at])
                held[0] += secs
                held[1] = min(held[1], at)
        for (day, process), secs in self._over.items():
            over[(period_key(per, day), process)] = over.get((period_key(per, day), process), 0.0) + secs
        rows = []
        for (period, process), per_level in sorted(by_period.items()):
            peak = max(per_level)
            owned = self.licenses.get(process.casefold())
            rows.append(PeakRow(period, process, peak, per_level[peak][1], per_level[peak][0], owned,
                                None if owned is None else over.get((period, process), 0.0)))
        return rows
