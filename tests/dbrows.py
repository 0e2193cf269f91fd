"""Reading what a hub stored, through a connection of the test's own (not the storage under test)."""
from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pymysql

from hub.storage import parse_db_url
from hub.storage.mariadb import connect_kwargs
from hub.storage.timefmt import from_datetime, from_text


def raw_sql(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run sql outside the storage under test (committed); `?` placeholders are made `%s` for MariaDB."""
    parsed = parse_db_url(url)
    if parsed.backend == "sqlite":
        with closing(sqlite3.connect(parsed.path)) as conn, conn:
            return conn.execute(sql, params).fetchall()
    with closing(pymysql.connect(**connect_kwargs(parsed))) as conn:
        with conn.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), params)
            rows = list(cursor.fetchall())
        conn.commit()
        return rows


def db_time(value: Any) -> float:
    return from_datetime(value) if isinstance(value, datetime) else from_text(value)


@dataclass(frozen=True)
class StoredSession:
    node: str
    user: str
    computer: str
    process: str
    start: float
    end: float


def stored_sessions(url: str) -> list[tuple[bytes, StoredSession]]:
    """Every row of `records` as (sid, row); a list, so a sid stored twice would show twice."""
    rows = raw_sql(url, "SELECT sid, node, user, computerName, process, startTime, endTime FROM records")
    return [(bytes(sid), StoredSession(node, user, computer, process, db_time(start), db_time(end)))
            for sid, node, user, computer, process, start, end in rows]


def stored_online(url: str) -> dict[str, bool]:
    """Each node's `online` flag as stored, which only a goodbye clears (``status`` also judges by age)."""
    return {node: bool(online) for node, online in raw_sql(url, "SELECT node, online FROM nodes")}


def last_seen(url: str) -> dict[str, float]:
    """Each node's `lastSeen`, as the hub stored it."""
    return {node: db_time(seen) for node, seen in raw_sql(url, "SELECT node, lastSeen FROM nodes")}
