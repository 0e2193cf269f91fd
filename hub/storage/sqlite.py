"""SQLite backend: the embedded default; same tables and columns as records.sql, times as UTC text."""
from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from .base import (KNOWN_SIDS_CAPACITY, KnownKeys, NODE_COLUMNS, SESSION_COLUMNS,
                   Dialect, NodeRow, SessionRow, Storage, StorageError, StorageUnavailable,
                   Transaction, dirty_hours, grow_measured, node_values, session_values)
from .schema import Existing, upgrade_statements
from .timefmt import from_text, to_text

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS records (
        id           INTEGER PRIMARY KEY,
        client_ip    TEXT NOT NULL,
        user         TEXT NOT NULL,
        computerName TEXT NOT NULL,
        process      TEXT NOT NULL,
        startTime    TEXT NOT NULL,
        endTime      TEXT NOT NULL,
        sid          BLOB NOT NULL UNIQUE,
        node         TEXT NOT NULL,
        activeSeconds     REAL,
        foregroundSeconds REAL
    )""",
    "CREATE INDEX IF NOT EXISTS records_endTime ON records (endTime)",
    "CREATE INDEX IF NOT EXISTS records_startTime ON records (startTime)",
    "CREATE INDEX IF NOT EXISTS records_computer_start ON records (computerName, startTime)",
    "CREATE INDEX IF NOT EXISTS records_user_start ON records (user, startTime)",
    "CREATE INDEX IF NOT EXISTS records_process_start ON records (process, startTime)",
    """CREATE TABLE IF NOT EXISTS nodes (
        node         TEXT NOT NULL PRIMARY KEY,
        computerName TEXT NOT NULL,
        user         TEXT NOT NULL,
        client_ip    TEXT NOT NULL,
        platform     TEXT NOT NULL,
        agent        TEXT NOT NULL,
        cfg          TEXT NOT NULL,
        firstSeen    TEXT NOT NULL,
        lastSeen     TEXT NOT NULL,
        online       INTEGER NOT NULL DEFAULT 0,
        reportInterval REAL
    )""",
    """CREATE TABLE IF NOT EXISTS rollup_usage (
        day          TEXT NOT NULL,
        computerName TEXT NOT NULL,
        user         TEXT NOT NULL,
        process      TEXT NOT NULL,
        seconds      REAL NOT NULL,
        programSeconds REAL NOT NULL,
        sessions     INTEGER NOT NULL,
        carried      INTEGER NOT NULL,
        firstStart   TEXT NOT NULL,
        lastEnd      TEXT NOT NULL,
        activeSeconds     REAL,
        foregroundSeconds REAL,
        PRIMARY KEY (day, computerName, user, process)
    )""",
    "CREATE INDEX IF NOT EXISTS rollup_usage_process ON rollup_usage (process, day)",
    """CREATE TABLE IF NOT EXISTS rollup_peak (
        day          TEXT NOT NULL,
        process      TEXT NOT NULL,
        counted      TEXT NOT NULL,
        level        INTEGER NOT NULL,
        seconds      REAL NOT NULL,
        firstAt      TEXT NOT NULL,
        PRIMARY KEY (day, process, counted, level)
    )""",
    """CREATE TABLE IF NOT EXISTS rollup_peak_top (
        day          TEXT NOT NULL,
        process      TEXT NOT NULL,
        counted      TEXT NOT NULL,
        level        INTEGER NOT NULL,
        seconds      REAL NOT NULL,
        firstAt      TEXT NOT NULL,
        PRIMARY KEY (day, process, counted)
    )""",
    """INSERT INTO rollup_peak_top (day, process, counted, level, seconds, firstAt)
    SELECT p.day, p.process, p.counted, p.level, p.seconds, p.firstAt FROM rollup_peak AS p
    JOIN (SELECT day, process, counted, MAX(level) AS top FROM rollup_peak GROUP BY day, process, counted) AS t
    ON t.day = p.day AND t.process = p.process AND t.counted = p.counted AND t.top = p.level""",
    """CREATE TABLE IF NOT EXISTS rollup_hours (
        hourStart    TEXT NOT NULL,
        computerName TEXT NOT NULL,
        seconds      REAL NOT NULL,
        programSeconds REAL NOT NULL,
        sessions     INTEGER NOT NULL,
        carried      INTEGER NOT NULL,
        firstStart   TEXT NOT NULL,
        lastEnd      TEXT NOT NULL,
        activeSeconds     REAL,
        foregroundSeconds REAL,
        PRIMARY KEY (hourStart, computerName)
    )""",
    """CREATE TABLE IF NOT EXISTS rollup_programs (
        day          TEXT NOT NULL,
        process      TEXT NOT NULL,
        seconds      REAL NOT NULL,
        programSeconds REAL NOT NULL,
        sessions     INTEGER NOT NULL,
        carried      INTEGER NOT NULL,
        firstStart   TEXT NOT NULL,
        lastEnd      TEXT NOT NULL,
        activeSeconds     REAL,
        foregroundSeconds REAL,
        PRIMARY KEY (day, process)
    )""",
    """CREATE TABLE IF NOT EXISTS rollup_dirty (
        fromHour     INTEGER NOT NULL,
        toHour       INTEGER NOT NULL,
        PRIMARY KEY (fromHour, toHour)
    )""",
    """CREATE TABLE IF NOT EXISTS rollup_state (
        name         TEXT NOT NULL PRIMARY KEY,
        value        TEXT NOT NULL
    )""",
    "CREATE VIEW IF NOT EXISTS usage_daily AS SELECT day, computerName, user, process, seconds, sessions "
    "FROM rollup_usage WHERE process <> ''",
    "CREATE VIEW IF NOT EXISTS seats_daily AS SELECT day, computerName, user, seconds, programSeconds, "
    "sessions FROM rollup_usage WHERE process = ''",
    "CREATE VIEW IF NOT EXISTS sessions_utc AS SELECT id, computerName, user, process, startTime, endTime, "
    "round((julianday(endTime) - julianday(startTime)) * 86400000) / 1000.0 AS seconds, node FROM records",
    """CREATE TABLE IF NOT EXISTS web_users (
        name         TEXT NOT NULL PRIMARY KEY,
        role         TEXT NOT NULL,
        passwordHash TEXT NOT NULL,
        created      TEXT NOT NULL
    )""",
)

GROW_MEASURED = grow_measured("max", "excluded.activeSeconds", "excluded.foregroundSeconds")
UPSERT_SESSION = (
    f"INSERT INTO records ({SESSION_COLUMNS}) VALUES ({', '.join('?' * 10)}) "
    f"ON CONFLICT(sid) DO UPDATE SET endTime = max(endTime, excluded.endTime), {GROW_MEASURED}")

MARK_DIRTY = "INSERT OR IGNORE INTO rollup_dirty (fromHour, toHour) VALUES (?, ?)"

# Sessions this hub already stored only need their end (and measured seconds) raised: cheaper than
# an upsert.
GROW_KNOWN = grow_measured("max", "?2", "?3")
UPDATE_END = f"UPDATE records SET endTime = max(endTime, ?1), {GROW_KNOWN} WHERE sid = ?4"

UPSERT_NODE = (
    f"INSERT INTO nodes ({NODE_COLUMNS}) VALUES ({', '.join('?' * 11)}) "
    "ON CONFLICT(node) DO UPDATE SET computerName = excluded.computerName, user = excluded.user, "
    "client_ip = excluded.client_ip, platform = excluded.platform, agent = excluded.agent, "
    "cfg = excluded.cfg, lastSeen = max(lastSeen, excluded.lastSeen), online = excluded.online, "
    "reportInterval = excluded.reportInterval")

DIALECT = Dialect(
    placeholder="?", greatest="max", least="min",
    # julianday() is a day count; rounding each session to whole milliseconds keeps the sum exact.
    sum_seconds="SUM(round((julianday({hi}) - julianday({lo})) * 86400000)) / 1000.0",
    seconds_between="round((julianday({hi}) - julianday({lo})) * 86400000) / 1000.0",
    time_param="?", date_param="?", text_param="?",
    lock_rows="",   # BEGIN IMMEDIATE already holds the only write lock
    to_db_time=to_text, from_db_time=from_text,
    # Without it SQLite walks a whole grouping index (records_computer_start) for its GROUP BY.
    since_hint="INDEXED BY records_endTime")

# Busy, locked, I/O error, disk full: another process or the disk may let go, so the writer retries.
TRANSIENT_CODES = {5, 6, 10, 13}
TRANSIENT_MESSAGES = {"database is locked", "database table is locked", "disk I/O error",
                      "database or disk is full"}


class SQLiteStorage(Storage):
    dialect = DIALECT

    def __init__(self, path: str, busy_timeout: float = 5.0,
                 known_capacity: int = KNOWN_SIDS_CAPACITY, create: bool = True) -> None:
        """busy_timeout: seconds to wait for another process's lock before StorageUnavailable;
        create: make the file when it does not exist (the hub), or refuse (reports)."""
        self._path = path
        self._known = KnownKeys(known_capacity)
        folder = os.path.dirname(os.path.abspath(path))
        if not create and not os.path.isfile(path):
            raise StorageError(f"no database at {path}: give --db the hub's database, "
                               "or start the hub there first")
        if not os.path.isdir(folder):
            raise StorageError(f"cannot open SQLite database {path}: folder {folder} does not exist")
        with self._errors("open"):
            # isolation_level=None: transactions are begun explicitly, so reads never hold one open.
            # check_same_thread=False: the hub may open the storage in one thread and write in another.
            # timeout= is SQLite's busy timeout.
            self._conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None,
                                         check_same_thread=False)
            try:
                # WAL lets reports read while the hub writes.
                self._conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.Error:
                self._conn.close()
                raise

    def ensure_schema(self, schema: Sequence[str] | None = None) -> None:
        with self._errors("create or upgrade the tables in"), self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            ddl = SCHEMA if schema is None else schema
            for statement in upgrade_statements(ddl, self._existing(), alter_keys=False):
                self._conn.execute(statement)

    def _existing(self) -> Existing:
        existing = Existing()
        for kind, name, table in self._conn.execute("SELECT type, name, tbl_name FROM sqlite_master"):
            if kind == "table":
                existing.columns[name] = {column for (column,) in self._conn.execute(
                    "SELECT name FROM pragma_table_info(?)", (name,))}
            elif kind == "index":
                existing.indexes.setdefault(table, set()).add(name)
            elif kind == "view":
                existing.views.add(name)
        return existing

    def write(self, sessions: Sequence[SessionRow], nodes: Sequence[NodeRow]) -> None:
        if not sessions and not nodes:
            return
        with self._errors("write to"), self._conn:
            # IMMEDIATE takes the write lock up front instead of failing on a read-to-write upgrade.
            self._conn.execute("BEGIN IMMEDIATE")
            known = [row for row in sessions if row.sid in self._known]
            updated = self._conn.executemany(
                UPDATE_END, [(DIALECT.to_db_time(row.end), row.active, row.foreground, row.sid)
                             for row in known]).rowcount
            # Rows deleted behind the hub's back (a purge) are not "known" any more: upsert all.
            upserts = sessions if updated < len(known) else [r for r in sessions if r.sid not in self._known]
            self._conn.executemany(UPSERT_SESSION, (session_values(DIALECT, row) for row in upserts))
            self._conn.executemany(UPSERT_NODE, (node_values(DIALECT, row) for row in nodes))
            self._conn.executemany(MARK_DIRTY, dirty_hours(sessions))
        # Only after COMMIT: a rolled-back write must be upserted again next time.
        self._known.remember(row.sid for row in sessions)

    @contextmanager
    def transaction(self, action: str) -> Iterator[Transaction]:
        with self._errors(action), self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            yield Transaction(self._conn.cursor())

    def close(self) -> None:
        self._conn.close()

    def _fetchall(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._errors("read from"):
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            error = StorageUnavailable if _is_transient(exc) else StorageError
            raise error(f"cannot {action} SQLite database {self._path}: {exc}") from exc


def _is_transient(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)   # Python 3.11+; 3.10 has only the message
    if code is None:
        return str(exc) in TRANSIENT_MESSAGES
    return code & 0xFF in TRANSIENT_CODES
