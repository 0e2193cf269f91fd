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

from .base import (MAX_SLOTS, AnswerError, Stretch, Window, bounds, overlapping, seconds, slot_of, slots_cte,
                   values_cte)
from .labs import NO_LABS, Labs
from .periods import PERIODS, Slot, slots
from .rolled import Unit, rolled, split

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


@dataclass(frozen=True)
class RollupTable:
    """A roll-up table and the grouping columns it keeps: a question reads the smallest that has
    the columns it groups by."""
    name: str
    unit: str                  # the column that keys a unit: day (a local DATE) or hourStart (UTC)
    columns: frozenset[str]
    per_process: bool          # rows per program, and rows of process '' for all programs together

    @property
    def hourly(self) -> bool:
        return self.unit == "hourStart"


PROGRAMS_DAILY = RollupTable("rollup_programs", "day", frozenset({"process"}), True)
USAGE_DAILY = RollupTable("rollup_usage", "day", frozenset({"computerName", "user", "process"}), True)
# Hours keep computers only: per user or program, an hour of a year is too many rows to gain on.
SEATS_HOURLY = RollupTable("rollup_hours", "hourStart", frozenset({"computerName"}), False)


def rollup_table(columns: Sequence[str], hourly: bool) -> RollupTable | None:
    """The smallest roll-up table that keeps ``columns``; None: the question reads raw sessions."""
    for table in (SEATS_HOURLY,) if hourly else (PROGRAMS_DAILY, USAGE_DAILY):
        if set(columns) <= table.columns:
            return table
    return None


def usage(storage: Storage, by: Sequence[str], window: Window, zone: ZoneInfo, now: float,
          labs: Labs = NO_LABS, top: int | None = None, use_rollup: bool = True) -> list[UsageRow]:
    """Usage grouped by ``by`` (see KEYS) within ``window``, periods in ``zone``; biggest first
    (seat time, then key), at most ``top`` rows.

    Whole local days (or hours) that a roll-up table made in ``zone`` holds are read from it
    (rollup_table: hours only by computer or lab); the rest, such as today, from the sessions.
    use_rollup=False reads only raw sessions (the benchmark compares the two).
    """
    by = grouping(by)
    span = bounds(storage, window, now)
    if span is None:
        return []
    periods = [name for name in by if name in PERIODS]
    cut = slots(span[0], span[1], periods, zone)
    columns = sorted({KEY_COLUMNS[name] for name in by if name in KEY_COLUMNS})
    table = rollup_table(columns, "hour" in periods) if use_rollup else None
    roll = rolled(storage, zone) if table is not None else None
    raw, rolled_up = split(cut, roll, zone, "hour" in periods)
    rows: list[Sequence[Any]] = []
    if raw:
        sql, params = raw_usage_sql(storage.dialect, raw, columns, window.since is not None,
                                    None if roll is None else roll.longest)
        rows += storage.read(sql, params)
    if rolled_up and table is not None:
        merged = lab_firsts(storage, labs) if "lab" in by and "computer" not in by else {}
        sql, params = rolled_usage_sql(storage.dialect, rolled_up, cut, columns, table, zone, merged)
        rows += storage.read(sql, params)
    return _ranked(_fold(storage.dialect, rows, by, columns, cut, labs), top)


# The columns of raw_usage_sql after the grouping columns g0, g1, ... (rolled_usage_sql: the same).
USAGE_COLUMNS = ("k", "sessions", "seat", "program", "first_start", "last_end", "carried", "act", "fg")


def raw_usage_sql(dialect: Dialect, stretches: Sequence[Stretch], columns: Sequence[str],
                  hinted: bool, longest: float | None = None) -> tuple[str, list[Any]]:
    """Per group of ``columns`` and stretch key k: sessions, seat seconds, program seconds, first
    start, last end and sessions carried over from before the stretch, from the sessions in
    ``records`` (gaps and islands: a piece adds only the part of it that no earlier piece of the
    same node covered, found by a running MAX of the ends). ``longest``: see base.overlapping."""
    cte, params = slots_cte(dialect, stretches)
    hint, where, where_params = overlapping(dialect, stretches, longest, hinted)
    picked = [f"r.{column} AS g{i}" for i, column in enumerate(columns)]
    group = ", ".join([f"g{i}" for i in range(len(columns))] + ["k"])
    start, end = f"{dialect.greatest}(r.startTime, s.lo)", f"{dialect.least}(r.endTime, s.hi)"
    fresh = f"{dialect.greatest}(a, COALESCE(covered, a))"
    # A piece's share of its session's measured seconds; a session of no length has them whole.
    share = f"COALESCE({seconds(dialect, 'a', 'b')} / NULLIF({seconds(dialect, 'st', 'en')}, 0), 1)"
    measures = ("SUM(CASE WHEN k > 0 OR st >= lo THEN 1 ELSE 0 END)",
                f"SUM(CASE WHEN covered IS NULL OR b > covered THEN {seconds(dialect, fresh, 'b')} ELSE 0 END)",
                f"SUM({seconds(dialect, 'a', 'b')})", "MIN(st)", "MAX(en)",
                "SUM(CASE WHEN st < lo THEN 1 ELSE 0 END)", f"SUM(act * {share})", f"SUM(fg * {share})")
    named = ", ".join(f"{value} AS {name}" for value, name in zip(measures, USAGE_COLUMNS[1:]))
    sql = (f"WITH {cte}, "
           f"pieces AS (SELECT {', '.join(picked + ['s.k AS k'])}, r.computerName AS pc, r.user AS who, "
           f"{start} AS a, {end} AS b, r.startTime AS st, r.endTime AS en, s.lo AS lo, "
           f"r.activeSeconds AS act, r.foregroundSeconds AS fg "
           # A session that ends where a slot begins has no share in it; one of no length has.
           f"FROM records AS r{' ' + hint if hint else ''} JOIN slots AS s ON r.startTime < s.hi "
           f"AND (r.endTime > s.lo OR (r.endTime = r.startTime AND r.startTime >= s.lo)) "
           f"WHERE {where}), "
           f"marked AS (SELECT {group}, a, b, st, en, lo, act, fg, MAX(b) OVER (PARTITION BY {group}, pc, who "
           f"ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered FROM pieces) "
           f"SELECT {group}, {named} FROM marked GROUP BY {group}")
    return sql, params + where_params


def lab_firsts(storage: Storage, labs: Labs) -> dict[str, str]:
    """For the computers of the nodes table, the first computer (by name) of the same lab, where
    that is another one: a question by lab sums computers in SQL under their lab's first, so a
    lab of 40 computers comes back as one row, not 40 (the lab itself is named in Python, where
    the patterns of labs.txt are). Empty when there are too many computers to send."""
    computers = sorted(name for (name,) in storage.read("SELECT DISTINCT computerName FROM nodes", []))
    firsts: dict[str, str] = {}
    merged = {}
    for computer in computers:
        first = firsts.setdefault(labs.lab_of(computer), computer)
        if first != computer:
            merged[computer] = first
    return merged if len(merged) <= MAX_SLOTS else {}


def rolled_usage_sql(dialect: Dialect, units: Sequence[Unit], cut: Sequence[Slot], columns: Sequence[str],
                     table: RollupTable, zone: ZoneInfo, merged: dict[str, str] | None = None) -> tuple[str, list[Any]]:
    """The same columns as raw_usage_sql from a roll-up table, for whole units (days or hours).

    The units of all the slots of one key (every Monday 10:00 of a month) are summed in SQL, under
    the key's first slot. A session across a unit's start is in the rows of both units; where the
    unit follows time of the same slot (``carry``), its ``carried`` sessions were counted already.
    ``merged``: computers counted under another computer's name (see lab_firsts).
    """
    first: dict[tuple[str, ...], int] = {}
    for index, slot in enumerate(cut):
        first.setdefault(slot.key, index)
    mark = dialect.placeholder
    unit_param, unit_value = ((dialect.time_param, dialect.to_db_time) if table.hourly
                              else (dialect.date_param, lambda ts: local_date(ts, zone)))
    cte, params = values_cte("units(g, c, u)", f"({mark}, {mark}, {unit_param})",
                             [(first[cut[u.slot].key] + 1, int(u.carry), unit_value(u.start)) for u in units])
    picked = {column: f"t.{column}" for column in columns}
    ctes, join = [cte], ""
    if merged and "computerName" in columns:
        named, named_params = values_cte("firsts(pc, first)", f"({dialect.text_param}, {mark})",
                                          sorted(merged.items()))
        ctes.append(named)
        params += named_params
        join = " LEFT JOIN firsts AS f ON f.pc = t.computerName"
        picked["computerName"] = "COALESCE(f.first, t.computerName)"
    group = ", ".join([picked[column] for column in columns] + ["d.g"])
    conditions = [f"t.{table.unit} >= {unit_param}", f"t.{table.unit} <= {unit_param}"]
    if table.per_process:
        # Without process, the rows that hold all the programs together (process '') give seat time.
        conditions.append("t.process <> ''" if "process" in columns else "t.process = ''")
    sql = (f"WITH {', '.join(ctes)} "
           f"SELECT {group}, SUM(t.sessions) - SUM(t.carried * d.c), SUM(t.seconds), SUM(t.programSeconds), "
           f"MIN(t.firstStart), MAX(t.lastEnd), 0, SUM(t.activeSeconds), SUM(t.foregroundSeconds) "
           f"FROM {table.name} AS t JOIN units AS d ON t.{table.unit} = d.u{join} "
           f"WHERE {' AND '.join(conditions)} GROUP BY {group}")
    starts = [u.start for u in units]
    return sql, params + [unit_value(min(starts)), unit_value(max(starts))]


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
