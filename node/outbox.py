"""The node's durable outbox: sessions the hub has not acknowledged yet, kept in a small SQLite file.

A node killed, logged off or rebooted while the hub is unreachable would otherwise lose the sessions
it saw meanwhile. The outbox mirrors the session tracker after every scan and every ack: open
sessions with their latest end, closed ones until a hub acknowledges them. The next run of the same
node (same user, same node id) takes them over as closed sessions and delivers them.

It also keeps what the next run needs so as not to count a program twice (``node.continuity``): the
clocks of the last scan and the sessions open at it, with their processes. Each scan replaces them,
so they never hold more than the sessions open at one time.

It also keeps the last watch list the hub sent, so a node started while the hub is down watches
with that list instead of watching nothing until the hub is back.

A disk problem never stops the node: the outbox logs it and the node goes on with its memory only.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path

from common.protocol import Config, ProtocolError, SessionState, config_frame, decode_hub_frame
from node.clock import Reading
from node.continuity import Carry, CarriedSession
from node.sessions import Changes

log = logging.getLogger("procmesh.node")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    sid BLOB PRIMARY KEY,
    label TEXT NOT NULL,
    owner TEXT,
    start REAL NOT NULL,
    end REAL NOT NULL,
    open INTEGER NOT NULL,
    active REAL,
    foreground REAL
)"""
_CONFIG_SCHEMA = "CREATE TABLE IF NOT EXISTS config (one INTEGER PRIMARY KEY CHECK (one = 1), frame BLOB)"
_LAST_SCAN_SCHEMA = """
CREATE TABLE IF NOT EXISTS last_scan (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    wall REAL NOT NULL,
    monotonic REAL NOT NULL,
    asleep REAL
)"""
_CARRIED_SCHEMA = """
CREATE TABLE IF NOT EXISTS carried (
    sid BLOB PRIMARY KEY,
    label TEXT NOT NULL,
    owner TEXT,
    start REAL NOT NULL,
    end REAL NOT NULL,
    processes TEXT NOT NULL
)"""
# Active and foreground seconds (node.presence), which outboxes of release 0.1.0 lack.
_ADD_MEASURED = {"active": "ALTER TABLE sessions ADD COLUMN active REAL",
                 "foreground": "ALTER TABLE sessions ADD COLUMN foreground REAL"}
_UPSERT = """
INSERT INTO sessions (sid, label, owner, start, end, open, active, foreground) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (sid) DO UPDATE SET start = excluded.start, end = excluded.end, open = excluded.open,
active = excluded.active, foreground = excluded.foreground"""


class Outbox:
    """Unacknowledged sessions of one node id, in ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        try:
            self._db = self._open(path)
        except sqlite3.DatabaseError as exc:
            self._db = self._replace_unreadable(exc)
        except OSError as exc:
            log.error("cannot use the outbox %s (%s); unacknowledged sessions will not survive a "
                      "restart of this node", path, exc)

    def load(self) -> list[SessionState]:
        """The sessions a previous run left, as it last saw them."""
        if self._db is None:
            return []
        rows = self._db.execute("SELECT sid, label, start, end, open, owner, active, foreground "
                                "FROM sessions").fetchall()
        return [SessionState(sid, label, start, end, bool(is_open), owner, active, foreground)
                for sid, label, start, end, is_open, owner, active, foreground in rows]

    def load_carry(self) -> Carry | None:
        """What the previous run left for continuity, if it scanned at all."""
        if self._db is None:
            return None
        row = self._db.execute("SELECT wall, monotonic, asleep FROM last_scan").fetchone()
        if row is None:
            return None
        rows = self._db.execute("SELECT sid, label, owner, start, end, processes FROM carried")
        return Carry(Reading(*row), tuple(
            CarriedSession(sid, label, owner, start, end,
                           frozenset((pid, created) for pid, created in json.loads(processes)))
            for sid, label, owner, start, end, processes in rows))

    def save(self, changes: Changes) -> None:
        """Apply one batch of tracker changes in one transaction."""
        if self._db is None or not (changes.updated or changes.gone or changes.carry is not None):
            return
        try:
            with self._db:
                self._db.executemany(_UPSERT, [(s.sid, s.label, s.owner, s.start, s.end, s.open,
                                                s.active, s.foreground) for s in changes.updated])
                self._db.executemany("DELETE FROM sessions WHERE sid = ?",
                                     [(sid,) for sid in changes.gone])
                if changes.carry is not None:
                    self._save_carry(changes.carry)
        except sqlite3.Error as exc:
            # Disk full, file removed, permissions changed: keep running on memory alone.
            log.error("cannot write the outbox %s (%s); going on without it", self.path, exc)
            self.close()

    def _save_carry(self, carry: Carry) -> None:
        assert self._db is not None
        self._db.execute("INSERT OR REPLACE INTO last_scan (one, wall, monotonic, asleep) "
                         "VALUES (1, ?, ?, ?)", tuple(carry.last_scan))
        self._db.execute("DELETE FROM carried")
        self._db.executemany(
            "INSERT INTO carried (sid, label, owner, start, end, processes) VALUES (?, ?, ?, ?, ?, ?)",
            [(c.sid, c.label, c.owner, c.start, c.end, json.dumps(sorted(c.processes)))
             for c in carry.sessions])

    def load_config(self) -> Config | None:
        """The watch list last applied, if any and still readable."""
        if self._db is None:
            return None
        row = self._db.execute("SELECT frame FROM config").fetchone()
        if row is None:
            return None
        try:
            config = decode_hub_frame(row[0])
        except ProtocolError as exc:
            log.warning("ignored the watch list kept by the previous run: %s", exc)
            return None
        return config if isinstance(config, Config) else None

    def save_config(self, config: Config) -> None:
        if self._db is None:
            return
        try:
            self._db.execute("INSERT OR REPLACE INTO config (one, frame) VALUES (1, ?)",
                             (config_frame(config),))
        except sqlite3.Error as exc:
            log.error("cannot write the outbox %s (%s); going on without it", self.path, exc)
            self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            # WAL with NORMAL sync survives the node being killed; a power cut may lose the last scan.
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            for schema in (_SCHEMA, _CONFIG_SCHEMA, _LAST_SCAN_SCHEMA, _CARRIED_SCHEMA):
                db.execute(schema)
            present = {name for (name,) in db.execute("SELECT name FROM pragma_table_info('sessions')")}
            for column, statement in _ADD_MEASURED.items():
                if column not in present:
                    db.execute(statement)
            db.execute("SELECT COUNT(*) FROM sessions").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _replace_unreadable(self, exc: Exception) -> sqlite3.Connection | None:
        aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
        log.error("the outbox %s is unreadable (%s); moved it to %s and starting a new one",
                  self.path, exc, aside.name)
        try:
            self.path.rename(aside)
            return self._open(self.path)
        except (OSError, sqlite3.DatabaseError) as again:
            log.error("cannot use the outbox %s (%s); unacknowledged sessions will not survive a "
                      "restart of this node", self.path, again)
            return None

