"""Keeping the daily roll-up current, rebuilding it, and deleting old raw sessions.

Every write of sessions marks the UTC hours they touch in ``rollup_dirty`` (hub.storage). The hub
runs ``refresh`` every few minutes on a connection of its own: it computes each complete local
day not rolled up yet, and again each rolled-up day that a write touched since, from the raw
sessions, with the same SQL the questions use. Today is never rolled up: questions read it raw.
"""
from __future__ import annotations

import logging
import threading
from datetime import date, timedelta
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

from hub.storage import Storage, StorageError
from hub.storage.base import Transaction

from .base import Stretch, slot_of, stored_span
from .peak import COUNTED, histogram_sql
from .periods import local_day, local_midnight
from .rolled import THROUGH, ZONE, hours_to_days, state
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
    with storage.transaction("update the roll-up in") as tx:
        if current.get(ZONE) != zone.key:
            _reset(tx, storage.dialect.placeholder, zone)
            current = {}
        today = local_day(now, zone)
        through = date.fromisoformat(current[THROUGH]) if THROUGH in current else _first_day(storage, zone, today)
        spans = tx.read(f"SELECT fromHour, toHour FROM rollup_dirty{storage.dialect.lock_rows}")
        stale = sorted(day for day in hours_to_days(spans, zone) if day < through)
        missing = [through + timedelta(days=n) for n in range((today - through).days)]
        todo = (stale + missing)[:max_days]
        if todo:
            _compute(storage.dialect, tx, todo, zone)
        done = set(todo)
        while through in done:
            through += timedelta(days=1)
        # A mark is settled once every day it touches is rolled up again or not rolled up yet.
        settled = [span for span in spans
                   if all(day in done or day >= through for day in hours_to_days([span], zone))]
        mark = storage.dialect.placeholder
        tx.executemany(f"DELETE FROM rollup_dirty WHERE fromHour = {mark} AND toHour = {mark}", settled)
        _set_state(tx, storage.dialect.placeholder, THROUGH, through.isoformat())
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


def _first_day(storage: Storage, zone: ZoneInfo, today: date) -> date:
    span = stored_span(storage)
    return today if span is None else min(today, local_day(span[0], zone))


def _reset(tx: Transaction, mark: str, zone: ZoneInfo) -> None:
    for table in ("rollup_usage", "rollup_peak", "rollup_dirty", "rollup_state"):
        tx.execute(f"DELETE FROM {table}")
    _set_state(tx, mark, ZONE, zone.key)


def _set_state(tx: Transaction, mark: str, name: str, value: str) -> None:
    tx.execute(f"DELETE FROM rollup_state WHERE name = {mark}", [name])
    tx.execute(f"INSERT INTO rollup_state (name, value) VALUES ({mark}, {mark})", [name, value])


def _compute(dialect: Any, tx: Transaction, todo: Sequence[date], zone: ZoneInfo) -> None:
    """Replace the roll-up rows of the days in ``todo`` with rows computed from raw sessions."""
    mark = dialect.placeholder
    stretches = [Stretch(index, local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone))
                 for index, day in enumerate(todo)]
    day_of: Callable[[int], str] = lambda k: todo[slot_of(k)].isoformat()
    for day in todo:
        tx.execute(f"DELETE FROM rollup_usage WHERE day = {dialect.date_param}", [day.isoformat()])
        tx.execute(f"DELETE FROM rollup_peak WHERE day = {dialect.date_param}", [day.isoformat()])
    usage_rows: list[tuple[Any, ...]] = []
    for columns in (["computerName", "process", "user"], ["computerName", "user"]):
        sql, params = raw_usage_sql(dialect, stretches, columns, hinted=True)
        for row in tx.read(sql, params):
            values = dict(zip(columns, row))
            k, sessions, seat, program, first, last, carried, active, foreground = row[len(columns):]
            usage_rows.append((day_of(k), values["computerName"], values["user"], values.get("process", ""),
                               float(seat), float(program), int(sessions), int(carried), first, last,
                               active, foreground))
    tx.executemany(f"INSERT INTO rollup_usage (day, computerName, user, process, seconds, programSeconds, "
                   f"sessions, carried, firstStart, lastEnd, activeSeconds, foregroundSeconds) "
                   f"VALUES ({dialect.date_param}, {', '.join([mark] * 11)})", usage_rows)
    peak_rows: list[tuple[Any, ...]] = []
    for counted, who in COUNTED.items():
        sql, params = histogram_sql(dialect, stretches, who, ())
        peak_rows += [(day_of(k), process, counted, int(level), float(secs), first)
                      for k, process, level, secs, first in tx.read(sql, params)]
    tx.executemany(f"INSERT INTO rollup_peak (day, process, counted, level, seconds, firstAt) "
                   f"VALUES ({dialect.date_param}, {', '.join([mark] * 5)})", peak_rows)


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
