"""Keeping the roll-up current, rebuilding it, and deleting old raw sessions.

Every write of sessions marks the UTC hours they touch in ``rollup_dirty`` (hub.storage). The hub
runs ``refresh`` every few minutes on a connection of its own: it computes each complete local
day not rolled up yet, and again each rolled-up day that a write touched since, from the raw
sessions, with the same SQL the questions use, into rollup_usage, rollup_hours, rollup_programs,
rollup_peak and rollup_peak_top. Today is never rolled up: questions read it raw.

rollup_state also keeps ``longest``, a bound on the length of the stored sessions (with the marks
of sessions written since, see rolled.longest_bound): it lets the raw parts of a question, and
the roll-up of a week, read the sessions by ranges of the startTime index.
"""
from __future__ import annotations

import logging
import threading
from datetime import date, timedelta
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

from hub.storage import Storage, StorageError
from hub.storage.base import Dialect, Transaction

from .base import Stretch, seconds, stored_span
from .peak import COUNTED, histogram_sql
from .periods import local_day, local_midnight, units
from .rolled import HOUR, LONGEST, THROUGH, ZONE, hours_to_days, longest_bound, state
from .usage import raw_usage_sql

log = logging.getLogger("procmesh.hub.rollup")

# Days computed per transaction: a rebuild of a year is 52 short transactions, not one long one.
CHUNK_DAYS = 7
REFRESH_SECONDS = 300.0
RETENTION_SECONDS = 3600.0
RETENTION_BATCH = 5000


def refresh(storage: Storage, zone: ZoneInfo, now: float, max_days: int = CHUNK_DAYS) -> int:
    """Roll up at most ``max_days`` days that are missing or stale; the number done (0: current)."""
    current = state(storage)
    dialect = storage.dialect
    with storage.transaction("update the roll-up in") as tx:
        if current.get(ZONE) != zone.key:
            _reset(tx, dialect.placeholder, zone)
            current = {}
        if LONGEST not in current:
            # Once (a new roll-up, or one made before the bound was kept): every stored session.
            current[LONGEST] = str(_longest_stored(tx, dialect))
        today = local_day(now, zone)
        through = date.fromisoformat(current[THROUGH]) if THROUGH in current else _first_day(storage, zone, today)
        spans = tx.read(f"SELECT fromHour, toHour FROM rollup_dirty{dialect.lock_rows}")
        stale = sorted(day for day in hours_to_days(spans, zone) if day < through)
        missing = [through + timedelta(days=n) for n in range((today - through).days)]
        todo = (stale + missing)[:max_days]
        if todo:
            _compute(dialect, tx, todo, zone, longest_bound(current[LONGEST], spans))
        done = set(todo)
        while through in done:
            through += timedelta(days=1)
        # A mark gives way to marks of the days it touches that are still to do (none: settled),
        # so a mark of more days than one round computes settles in later rounds; the length of
        # its sessions stays vouched for by the bound kept in rollup_state.
        replaced, narrowed = [], set()
        for span in spans:
            touched = hours_to_days([span], zone)
            left = sorted(day for day in touched if day not in done and day < through)
            if len(left) < len(touched):
                replaced.append(span)
                narrowed.update(_day_spans(left, zone))
        mark = dialect.placeholder
        delete = f"DELETE FROM rollup_dirty WHERE fromHour = {mark} AND toHour = {mark}"
        tx.executemany(delete, [*replaced, *narrowed])
        tx.executemany(f"INSERT INTO rollup_dirty (fromHour, toHour) VALUES ({mark}, {mark})", sorted(narrowed))
        _set_state(tx, mark, LONGEST, str(longest_bound(current[LONGEST], replaced)))
        _set_state(tx, mark, THROUGH, through.isoformat())
    return len(todo)


def catch_up(storage: Storage, zone: ZoneInfo, now: float) -> int:
    """Refresh until current; the days computed."""
    total = 0
    while True:
        done = refresh(storage, zone, now)
        total += done
        if not done:
            return total


def rebuild(storage: Storage, zone: ZoneInfo, now: float) -> int:
    """Forget the roll-up and compute it anew from the raw sessions; the days computed."""
    with storage.transaction("clear the roll-up in") as tx:
        _reset(tx, storage.dialect.placeholder, zone)
    return catch_up(storage, zone, now)


def delete_old_sessions(storage: Storage, days: float, now: float,
                        batch: int = RETENTION_BATCH) -> int:
    """Delete sessions that ended more than ``days`` ago, ``batch`` at a time (short locks); the
    roll-up keeps their days. The number deleted."""
    mark = storage.dialect.placeholder
    cutoff = storage.dialect.to_db_time(now - days * 86_400)
    deleted = 0
    while True:
        ids = storage.read(f"SELECT id FROM records WHERE endTime < {storage.dialect.time_param} "
                           f"ORDER BY endTime LIMIT {mark}", [cutoff, batch])
        if not ids:
            return deleted
        with storage.transaction("delete old sessions from") as tx:
            tx.execute(f"DELETE FROM records WHERE id IN ({', '.join([mark] * len(ids))})",
                       [row[0] for row in ids])
        deleted += len(ids)


def _day_spans(days_left: Sequence[date], zone: ZoneInfo) -> list[tuple[int, int]]:
    """Spans of UTC hours (as rollup_dirty keeps them) that touch the runs of consecutive days given."""
    spans: list[tuple[int, int]] = []
    for day in days_left:
        first = int(local_midnight(day, zone) // HOUR)
        last = int((local_midnight(day + timedelta(days=1), zone) - 1) // HOUR)
        if spans and spans[-1][1] + 1 >= first:
            spans[-1] = (spans[-1][0], last)
        else:
            spans.append((first, last))
    return spans


def _first_day(storage: Storage, zone: ZoneInfo, today: date) -> date:
    span = stored_span(storage)
    return today if span is None else min(today, local_day(span[0], zone))


ROLLUP_TABLES = ("rollup_usage", "rollup_programs", "rollup_hours", "rollup_peak", "rollup_peak_top",
                 "rollup_dirty", "rollup_state")
# The measures of rollup_usage, rollup_programs and rollup_hours, and the raw_usage_sql columns
# that fill them.
MEASURES = {"seconds": "seat", "programSeconds": "program", "sessions": "sessions", "carried": "carried",
            "firstStart": "first_start", "lastEnd": "last_end", "activeSeconds": "act", "foregroundSeconds": "fg"}


def _reset(tx: Transaction, mark: str, zone: ZoneInfo) -> None:
    for table in ROLLUP_TABLES:
        tx.execute(f"DELETE FROM {table}")
    _set_state(tx, mark, ZONE, zone.key)


def _set_state(tx: Transaction, mark: str, name: str, value: str) -> None:
    tx.execute(f"DELETE FROM rollup_state WHERE name = {mark}", [name])
    tx.execute(f"INSERT INTO rollup_state (name, value) VALUES ({mark}, {mark})", [name, value])


def _longest_stored(tx: Transaction, dialect: Dialect) -> float:
    """The length of the longest stored session, in seconds (one pass over the table)."""
    (longest,), = tx.read(f"SELECT MAX({seconds(dialect, 'startTime', 'endTime')}) FROM records")
    return 0.0 if longest is None else float(longest)


def _names(dialect: Dialect, param: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """A derived table ``(k, tag)``: the stretch keys 1, 2, ... and the day or hour each stands for."""
    mark = dialect.placeholder
    rows = [f"SELECT {mark} AS k, {param} AS tag"] + [f"SELECT {mark}, {param}"] * (len(values) - 1)
    return " UNION ALL ".join(rows), [item for k, value in enumerate(values, 1) for item in (k, value)]


def _compute(dialect: Dialect, tx: Transaction, todo: Sequence[date], zone: ZoneInfo,
             longest: float | None) -> None:
    """Replace the roll-up rows of the days in ``todo`` with rows computed from raw sessions, each
    table in one INSERT ... SELECT: no row passes through Python."""
    mark, dp, tp = dialect.placeholder, dialect.date_param, dialect.time_param
    bounds = [(local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)) for day in todo]
    days = [Stretch(index, lo, hi) for index, (lo, hi) in enumerate(bounds)]
    hour_bounds = [(lo, hi) for first, last in bounds for _, lo, hi in units(first, last, zone, hourly=True)]
    hours = [Stretch(index, lo, hi) for index, (lo, hi) in enumerate(hour_bounds)]
    for day, (lo, hi) in zip(todo, bounds):
        for table in ("rollup_usage", "rollup_programs", "rollup_peak", "rollup_peak_top"):
            tx.execute(f"DELETE FROM {table} WHERE day = {dp}", [day.isoformat()])
        tx.execute(f"DELETE FROM rollup_hours WHERE hourStart >= {tp} AND hourStart < {tp}",
                   [dialect.to_db_time(lo), dialect.to_db_time(hi)])
    day_names = _names(dialect, dp, [day.isoformat() for day in todo])
    hour_names = _names(dialect, tp, [dialect.to_db_time(lo) for lo, _ in hour_bounds])
    measures = ", ".join(MEASURES)
    taken = ", ".join(f"agg.{column}" for column in MEASURES.values())
    # Sorted columns: g0 computerName, g1 process, g2 user; and g0 computerName, g1 user.
    for columns, process in ((["computerName", "process", "user"], "agg.g1 AS process, agg.g2"),
                             (["computerName", "user"], "'' AS process, agg.g1")):
        _insert(tx, f"rollup_usage (day, computerName, process, user, {measures})",
                f"n.tag, agg.g0, {process}, {taken}",
                raw_usage_sql(dialect, days, columns, True, longest), day_names)
    _insert(tx, f"rollup_hours (hourStart, computerName, {measures})", f"n.tag, agg.g0, {taken}",
            raw_usage_sql(dialect, hours, ["computerName"], True, longest), hour_names)
    summed = ", ".join(f"{'MIN' if c == 'firstStart' else 'MAX' if c == 'lastEnd' else 'SUM'}({c})"
                       for c in MEASURES)
    tx.execute(f"INSERT INTO rollup_programs (day, process, {measures}) SELECT day, process, {summed} "
               f"FROM rollup_usage WHERE day IN ({', '.join([dp] * len(todo))}) GROUP BY day, process",
               [day.isoformat() for day in todo])
    for counted, who in COUNTED.items():
        sql, params = histogram_sql(dialect, days, who, (), longest)
        _insert(tx, "rollup_peak (day, process, counted, level, seconds, firstAt)",
                f"n.tag, agg.p, {mark}, agg.n, agg.secs, agg.first_at", (sql, params), day_names, [counted])
    on_days = f"p.day IN ({', '.join([dp] * len(todo))})"
    tx.execute(f"INSERT INTO rollup_peak_top (day, process, counted, level, seconds, firstAt) "
               f"SELECT p.day, p.process, p.counted, p.level, p.seconds, p.firstAt FROM rollup_peak AS p "
               f"JOIN (SELECT day, process, counted, MAX(level) AS top FROM rollup_peak AS p WHERE {on_days} "
               f"GROUP BY day, process, counted) AS t ON t.day = p.day AND t.process = p.process "
               f"AND t.counted = p.counted AND t.top = p.level WHERE {on_days}",
               [day.isoformat() for day in todo] * 2)


def _insert(tx: Transaction, into: str, picked: str, select: tuple[str, list[Any]],
            names: tuple[str, list[Any]], first: Sequence[Any] = ()) -> None:
    """INSERT INTO ``into`` the ``picked`` columns of a query (agg), with its stretch keys turned
    into days or hours (n.tag); ``first``: parameters of placeholders in ``picked``."""
    (sql, params), (named, name_params) = select, names
    tx.execute(f"INSERT INTO {into} SELECT {picked} FROM ({sql}) AS agg JOIN ({named}) AS n ON n.k = agg.k",
               [*first, *params, *name_params])


class RollupKeeper(threading.Thread):
    """The hub's background job: refresh the roll-up every few minutes, delete sessions older than
    ``retention_days`` once an hour. It opens its own connection, so it never holds the writer."""

    def __init__(self, open_db: Callable[[], Storage], zone: ZoneInfo, retention_days: float | None,
                 clock: Callable[[], float]) -> None:
        super().__init__(name="procmesh-rollup", daemon=True)
        self._open_db = open_db
        self._zone = zone
        self._retention_days = retention_days
        self._clock = clock
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        next_retention = 0.0
        while not self._stop.is_set():
            try:
                with self._open_db() as storage:
                    days = catch_up(storage, self._zone, self._clock())
                    if days:
                        log.info("roll-up: %d days computed", days)
                    if self._retention_days is not None and self._clock() >= next_retention:
                        deleted = delete_old_sessions(storage, self._retention_days, self._clock())
                        next_retention = self._clock() + RETENTION_SECONDS
                        if deleted:
                            log.info("retention: deleted %d sessions older than %g days", deleted,
                                     self._retention_days)
            except StorageError as exc:
                log.warning("roll-up not updated, trying again in %.0f s: %s", REFRESH_SECONDS, exc)
            self._stop.wait(REFRESH_SECONDS)
