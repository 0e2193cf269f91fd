"""Usage per computer, user, program, lab and local period: seat time, program time, sessions.

``seconds`` of a group is seat time: for every node (one user on one computer) in the group, the
length of the union of its sessions in the group, clipped to the window; then the sum over the
group's nodes. Two PCs of a lab busy for an hour give 2 h; one PC with two programs open for an hour
gives 1 h. ``program_seconds`` is the plain sum of the programs' times (the same two programs: 2 h).
``active`` and ``foreground`` are sums of the sessions' measured seconds, like program time; a
session split between periods or clipped to the window counts with the share of its length that
falls in each (only its totals are stored, not when in it the user was active).

A session that crosses a period boundary (a local midnight, DST included) is split between the
periods; ``sessions`` counts a session once in each stretch of consecutive time of a group it has
time in (so by day, a session from 23:00 to 01:00 counts on both days).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

from hub.storage import Storage
from hub.storage.base import Dialect

from .base import AnswerError, Stretch, Window, bounds, seconds, slot_of, slots_cte
from .labs import NO_LABS, Labs
from .periods import PERIODS, Slot, slots
from .rolled import rolled, split

KEYS = ("computer", "user", "process", "lab", *PERIODS)
# The column behind each key; a lab is a function of the computer, so the SQL groups by computer
# and the labs are summed up here (labs.txt has globs and regexes that SQL cannot share).
KEY_COLUMNS = {"computer": "computerName", "user": "user", "process": "process", "lab": "computerName"}


@dataclass(frozen=True, slots=True)
class UsageRow:
    key: tuple[str, ...]             # one value per grouping key, in the order asked for
    sessions: int
    seconds: float                   # seat time (see the module's docstring)
    program_seconds: float           # the plain sum over programs; equals seconds when grouped by process
    first: float                     # earliest start of the sessions counted (unclipped)
    last: float                      # latest end of the sessions counted (unclipped)
    active: float | None = None      # sum of activeSeconds; None where no session measured it
    foreground: float | None = None  # sum of foregroundSeconds


def grouping(text: str | Sequence[str]) -> list[str]:
    """The keys of ``--by`` ("lab,day"), checked: known, each once."""
    names = [part.strip() for part in text.split(",")] if isinstance(text, str) else list(text)
    names = [name for name in names if name]
    unknown = [name for name in names if name not in KEYS]
    if unknown or len(set(names)) != len(names):
        raise AnswerError(f"--by {','.join(names)!r}: use a comma-separated list of distinct keys from "
                          f"{','.join(KEYS)}")
    return names


def usage(storage: Storage, by: Sequence[str], window: Window, zone: ZoneInfo, now: float,
          labs: Labs = NO_LABS, top: int | None = None, use_rollup: bool = True) -> list[UsageRow]:
    """Usage grouped by ``by`` (see KEYS) within ``window``, periods in ``zone``; biggest first
    (seat time, then key), at most ``top`` rows.

    Whole local days that the daily roll-up holds are read from it (when it was made in ``zone``
    and the question needs no hours); the rest, such as today, from the sessions themselves.
    use_rollup=False reads only raw sessions (the benchmark compares the two).
    """
    by = grouping(by)
    span = bounds(storage, window, now)
    if span is None:
        return []
    periods = [name for name in by if name in PERIODS]
    cut = slots(span[0], span[1], periods, zone)
    roll = rolled(storage, zone) if use_rollup and "hour" not in periods else None
    raw, rolled_up = split(cut, roll, zone)
    columns = sorted({KEY_COLUMNS[name] for name in by if name in KEY_COLUMNS})
    rows: list[Sequence[Any]] = []
    if raw:
        sql, params = raw_usage_sql(storage.dialect, raw, columns, window.since is not None)
        rows += storage.read(sql, params)
    if rolled_up:
        sql, params = rolled_usage_sql(storage.dialect, rolled_up, columns, zone)
        rows += storage.read(sql, params)
    return _ranked(_fold(storage.dialect, rows, by, columns, cut, labs), top)


def raw_usage_sql(dialect: Dialect, stretches: Sequence[Stretch], columns: Sequence[str],
                  hinted: bool) -> tuple[str, list[Any]]:
    """Per group of ``columns`` and stretch key k: sessions, seat seconds, program seconds, first
    start, last end and sessions carried over from before the stretch, from the sessions in
    ``records`` (gaps and islands: a piece adds only the part of it that no earlier piece of the
    same node covered, found by a running MAX of the ends)."""
    cte, params = slots_cte(dialect, stretches)
    tp = dialect.time_param
    picked = [f"r.{column} AS g{i}" for i, column in enumerate(columns)]
    group = ", ".join([f"g{i}" for i in range(len(columns))] + ["k"])
    start, end = f"{dialect.greatest}(r.startTime, s.lo)", f"{dialect.least}(r.endTime, s.hi)"
    fresh = f"{dialect.greatest}(a, COALESCE(covered, a))"
    hint = f" {dialect.since_hint}" if hinted and dialect.since_hint else ""
    # A piece's share of its session's measured seconds; a session of no length has them whole.
    share = f"COALESCE({seconds(dialect, 'a', 'b')} / NULLIF({seconds(dialect, 'st', 'en')}, 0), 1)"
    sql = (f"WITH {cte}, "
           f"pieces AS (SELECT {', '.join(picked + ['s.k AS k'])}, r.computerName AS pc, r.user AS who, "
           f"{start} AS a, {end} AS b, r.startTime AS st, r.endTime AS en, s.lo AS lo, "
           f"r.activeSeconds AS act, r.foregroundSeconds AS fg "
           # A session that ends where a slot begins has no share in it; one of no length has.
           f"FROM records AS r{hint} JOIN slots AS s ON r.startTime < s.hi "
           f"AND (r.endTime > s.lo OR (r.endTime = r.startTime AND r.startTime >= s.lo)) "
           f"WHERE r.endTime >= {tp} AND r.startTime < {tp}), "
           f"marked AS (SELECT {group}, a, b, st, en, lo, act, fg, MAX(b) OVER (PARTITION BY {group}, pc, who "
           f"ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered FROM pieces) "
           f"SELECT {group}, SUM(CASE WHEN k > 0 OR st >= lo THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN covered IS NULL OR b > covered THEN {seconds(dialect, fresh, 'b')} ELSE 0 END), "
           f"SUM({seconds(dialect, 'a', 'b')}), MIN(st), MAX(en), "
           f"SUM(CASE WHEN st < lo THEN 1 ELSE 0 END), SUM(act * {share}), SUM(fg * {share}) "
           f"FROM marked GROUP BY {group}")
    lo, hi = min(s.lo for s in stretches), max(s.hi for s in stretches)
    return sql, params + [dialect.to_db_time(lo), dialect.to_db_time(hi)]


def rolled_usage_sql(dialect: Dialect, stretches: Sequence[Stretch], columns: Sequence[str],
                     zone: ZoneInfo) -> tuple[str, list[Any]]:
    """The same columns as raw_usage_sql from the daily roll-up, for stretches of whole days.

    A session across midnight is in the rows of both days; where both days are in one stretch, or
    the stretch joins the time before it, the later day's ``carried`` sessions were counted already.
    """
    cte, params = slots_cte(dialect, stretches, "days", lambda ts: local_date(ts, zone), dialect.date_param)
    group = ", ".join([f"u.{column}" for column in columns] + ["d.k"])
    # Without process, the rows that hold all the programs together (process '') give seat time.
    programs = "<>" if "process" in columns else "="
    sql = (f"WITH {cte} "
           f"SELECT {group}, SUM(u.sessions) - SUM(CASE WHEN d.k < 0 OR u.day > d.lo THEN u.carried "
           f"ELSE 0 END), SUM(u.seconds), SUM(u.programSeconds), MIN(u.firstStart), MAX(u.lastEnd), 0, "
           f"SUM(u.activeSeconds), SUM(u.foregroundSeconds) "
           f"FROM rollup_usage AS u JOIN days AS d ON u.day >= d.lo AND u.day < d.hi "
           f"WHERE u.process {programs} '' AND u.day >= {dialect.date_param} AND u.day < {dialect.date_param} "
           f"GROUP BY {group}")
    lo, hi = min(s.lo for s in stretches), max(s.hi for s in stretches)
    return sql, params + [local_date(lo, zone), local_date(hi, zone)]


def local_date(ts: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, zone).date().isoformat()


def _fold(dialect: Dialect, rows: Iterable[Sequence[Any]], by: Sequence[str], columns: Sequence[str],
          cut: Sequence[Slot], labs: Labs) -> list[UsageRow]:
    """Rows of raw_usage_sql summed up to the keys asked for (labs, periods over several slots)."""
    width = len(columns)
    periods = [name for name in by if name in PERIODS]
    totals: dict[tuple[str, ...], list[Any]] = {}
    for row in rows:
        values = dict(zip(columns, row[:width]))
        slot_key = dict(zip(periods, cut[slot_of(row[width])].key))
        key = tuple(slot_key[name] if name in slot_key
                    else labs.lab_of(values["computerName"]) if name == "lab"
                    else values[KEY_COLUMNS[name]] for name in by)
        sessions, seat, program = int(row[width + 1]), float(row[width + 2]), float(row[width + 3])
        first, last = dialect.from_db_time(row[width + 4]), dialect.from_db_time(row[width + 5])
        active, foreground = _measured(row[width + 7]), _measured(row[width + 8])
        total = totals.get(key)
        if total is None:
            totals[key] = [sessions, seat, program, first, last, active, foreground]
        else:
            total[0] += sessions
            total[1] += seat
            total[2] += program
            total[3] = min(total[3], first)
            total[4] = max(total[4], last)
            total[5] = _plus(total[5], active)
            total[6] = _plus(total[6], foreground)
    return [UsageRow(key, *values) for key, values in totals.items()]


def _measured(value: Any) -> float | None:
    return None if value is None else float(value)


def _plus(total: float | None, more: float | None) -> float | None:
    """A sum of measured seconds in which None (nothing measured) adds nothing."""
    return more if total is None else total if more is None else total + more


def _ranked(rows: list[UsageRow], top: int | None) -> list[UsageRow]:
    rows.sort(key=lambda row: (-row.seconds, row.key))
    return rows if top is None else rows[:top]
