"""What every storage backend offers the hub, and the report SQL the backends share."""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Hashable, Iterable, Sequence

from common.errors import ProcmeshError


@dataclass(slots=True)
class SessionRow:
    sid: bytes
    node: str
    client_ip: str
    user: str
    computer: str
    process: str
    start: float
    end: float
    active: float | None = None      # activeSeconds; None: not measured
    foreground: float | None = None  # foregroundSeconds

    def grow(self, end: float, active: float | None, foreground: float | None) -> None:
        """Take what a later (or repeated) report says: the end and the measured seconds only grow,
        and a report that did not measure them leaves them as they are."""
        self.end = max(self.end, end)
        self.active = larger(self.active, active)
        self.foreground = larger(self.foreground, foreground)


def larger(kept: float | None, new: float | None) -> float | None:
    """The larger of two measured values, None meaning not measured."""
    if kept is None or new is None:
        return kept if new is None else new
    return max(kept, new)


@dataclass(slots=True)
class NodeRow:
    node: str
    computer: str
    user: str
    client_ip: str
    platform: str
    agent: str
    cfg: str
    seen: float
    online: bool
    interval: float | None = None   # seconds between the node's reports (the hub's interval)


@dataclass(frozen=True, slots=True)
class UsageRow:
    key: tuple[str, ...]   # values of the `by` columns, in the order asked for
    sessions: int
    seconds: float
    first: float
    last: float


@dataclass(frozen=True, slots=True)
class NodeStatus:
    node: str
    computer: str
    user: str
    client_ip: str
    platform: str
    agent: str
    cfg: str
    first_seen: float
    last_seen: float
    online: bool                    # as last recorded: a node switched off never says goodbye
    interval: float | None = None   # seconds between its reports; None: stored by an older hub


# About 70 MB when full; a hub holds far fewer open sessions than this.
KNOWN_SIDS_CAPACITY = 500_000
# Node rows as last written; a hub serves far fewer nodes than this.
KNOWN_NODES_CAPACITY = 100_000


class KnownKeys:
    """Keys (session ids, node rows) known to be stored, bounded: the least recently written are
    forgotten first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def remember(self, keys: Iterable[Hashable]) -> None:
        for key in keys:
            self._keys[key] = None
            self._keys.move_to_end(key)
        while len(self._keys) > self._capacity:
            self._keys.popitem(last=False)


class StorageError(ProcmeshError):
    """A person's mistake or a permanent fault; str() is one clear line, never with a password."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or is busy right now: retrying later may succeed."""


class Transaction:
    """Statements in one transaction of a storage (hub.answers keeps its roll-up tables with it)."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql, params)
        return list(self._cursor.fetchall())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Rows the statement changed (or matched)."""
        self._cursor.execute(sql, params)
        return self._cursor.rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._cursor.executemany(sql, rows)


def dirty_hours(sessions: Iterable[SessionRow]) -> list[tuple[int, int]]:
    """The spans of UTC hours (since 1970) that written sessions touch: the roll-up recomputes
    their local days (hub.answers.rollup). A few distinct spans per flush, whatever the nodes."""
    return sorted({(int(row.start // 3600), int(row.end // 3600)) for row in sessions})


class Storage(ABC):
    """One database connection, used by one thread at a time."""

    dialect: Dialect

    @abstractmethod
    def ensure_schema(self, schema: Sequence[str] | None = None) -> None:
        """Create or upgrade to ``schema`` (default: this release's DDL) what is missing: tables,
        columns, indexes, views (see hub/storage/schema.py); harmless when all exist."""

    @abstractmethod
    def write(self, sessions: Sequence[SessionRow], nodes: Sequence[NodeRow]) -> None:
        """Upsert sessions (end only grows) and nodes (first seen kept) in ONE transaction."""

    def usage(self, since: float | None, until: float | None, by: Sequence[str]) -> list[UsageRow]:
        """Usage of sessions overlapping [since, until), clipped to it, grouped by `by`."""
        sql, params = usage_query(self.dialect, since, until, by)
        return usage_rows(self.dialect, self._fetchall(sql, params), len(by))

    @abstractmethod
    def transaction(self, action: str) -> ContextManager[Transaction]:
        """Statements committed together (rolled back on an error); ``action`` names the work in
        error messages ("update the roll-up in")."""

    def read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """All rows of one statement, in a transaction of its own: how hub.answers queries."""
        return self._fetchall(sql, params)

    def nodes(self) -> list[NodeStatus]:
        """Every node, ordered by computer, then user."""
        return [node_status(self.dialect, row) for row in self._fetchall(NODES_QUERY, [])]

    @abstractmethod
    def close(self) -> None:
        ...

    @abstractmethod
    def _fetchall(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """All rows of one read, in a transaction of its own."""

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def coalesce_sessions(sessions: Iterable[SessionRow]) -> list[SessionRow]:
    """One row per sid, ordered by sid: the first row seen, with the latest end and the largest
    active and foreground seconds of all of them."""
    merged: dict[bytes, SessionRow] = {}
    for row in sessions:
        kept = merged.get(row.sid)
        if kept is None:
            merged[row.sid] = row
        else:
            merged[row.sid] = kept = dataclasses.replace(kept)
            kept.grow(row.end, row.active, row.foreground)
    return [merged[sid] for sid in sorted(merged)]


GROUP_COLUMNS = {"computer": "computerName", "user": "user", "process": "process"}


@dataclass(frozen=True, slots=True)
class Dialect:
    """The few spellings in which the report SQL of the backends differs."""
    placeholder: str
    greatest: str                            # two-argument maximum
    least: str                               # two-argument minimum
    sum_seconds: str                         # SUM of the seconds from {lo} to {hi}
    seconds_between: str                     # the seconds from {lo} to {hi}, to the millisecond
    time_param: str                          # a placeholder that holds a time (to_db_time's value)
    date_param: str                          # a placeholder that holds a date ('2026-12-01')
    # A placeholder that holds text compared with the tables' text columns, in their collation.
    text_param: str
    lock_rows: str                           # written after a SELECT that locks what it reads
    to_db_time: Callable[[float], Any]
    from_db_time: Callable[[Any], float]
    # Written after "FROM records" when a report has a start: read the sessions ending after it
    # through the endTime index (see the MariaDB backend for why a hint is needed).
    since_hint: str = ""
    # Written after "FROM records" when the sessions are found by ranges of startTime (hub.answers,
    # for the few raw days of a question that the roll-up answers in the main).
    start_hint: str = ""


def group_columns(by: Sequence[str]) -> list[str]:
    for name in by:
        if name not in GROUP_COLUMNS:
            raise StorageError(f"cannot group usage by {name!r}: choose from {', '.join(GROUP_COLUMNS)}")
    if len(set(by)) != len(by):
        raise StorageError(f"usage grouping names a column twice: {', '.join(by)}")
    return [GROUP_COLUMNS[name] for name in by]


def usage_query(dialect: Dialect, since: float | None, until: float | None,
                by: Sequence[str]) -> tuple[str, list[Any]]:
    """SQL and parameters aggregating usage in the database: the tables hold millions of rows."""
    keys = ", ".join(group_columns(by))
    mark = dialect.placeholder
    clipped = {"lo": "startTime", "hi": "endTime"}   # a session's bounds, clipped to the window
    clip_params: dict[str, list[Any]] = {"lo": [], "hi": []}
    conditions: list[str] = []
    where_params: list[Any] = []
    if since is not None:
        clipped["lo"] = f"{dialect.greatest}(startTime, {mark})"
        clip_params["lo"] = [dialect.to_db_time(since)]
        conditions.append(f"endTime >= {mark}")
        where_params.append(dialect.to_db_time(since))
    if until is not None:
        clipped["hi"] = f"{dialect.least}(endTime, {mark})"
        clip_params["hi"] = [dialect.to_db_time(until)]
        conditions.append(f"startTime < {mark}")
        where_params.append(dialect.to_db_time(until))
    # A dialect's template may name hi before lo: the parameters follow the template.
    template_order = re.findall(r"\{(lo|hi)\}", dialect.sum_seconds)
    params = [value for name in template_order for value in clip_params[name]]
    seconds = dialect.sum_seconds.format(**clipped)
    hint = f" {dialect.since_hint}" if since is not None and dialect.since_hint else ""
    sql = (f"SELECT {keys + ', ' if keys else ''}COUNT(*), "
           f"{seconds} AS seconds, MIN(startTime), MAX(endTime) "
           f"FROM records{hint}")
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if keys:
        sql += f" GROUP BY {keys}"
    sql += " ORDER BY seconds DESC" + (f", {keys}" if keys else "")
    return sql, params + where_params


def usage_rows(dialect: Dialect, rows: Iterable[Sequence[Any]], width: int) -> list[UsageRow]:
    # Without grouping, an empty window still yields one all-NULL aggregate row: skip it.
    return [UsageRow(key=tuple(row[:width]), sessions=row[width], seconds=float(row[width + 1]),
                     first=dialect.from_db_time(row[width + 2]), last=dialect.from_db_time(row[width + 3]))
            for row in rows if row[width]]


SESSION_COLUMNS = ("sid, node, client_ip, user, computerName, process, startTime, endTime, "
                   "activeSeconds, foregroundSeconds")
NODE_COLUMNS = ("node, computerName, user, client_ip, platform, agent, cfg, firstSeen, lastSeen, online, "
                "reportInterval")
NODES_QUERY = f"SELECT {NODE_COLUMNS} FROM nodes ORDER BY computerName, user, node"


def grow_measured(greatest: str, active: str, foreground: str) -> str:
    """The SET assignments that raise activeSeconds and foregroundSeconds to the values the SQL
    expressions ``active`` and ``foreground`` give: they only grow, and NULL (not measured) never
    replaces a value, so duplicated or reordered reports leave the largest."""
    return ", ".join(f"{column} = {greatest}(COALESCE({column}, {new}), COALESCE({new}, {column}))"
                     for column, new in (("activeSeconds", active), ("foregroundSeconds", foreground)))


def session_values(dialect: Dialect, row: SessionRow) -> tuple[Any, ...]:
    """Parameters for SESSION_COLUMNS."""
    return (row.sid, row.node, row.client_ip, row.user, row.computer, row.process,
            dialect.to_db_time(row.start), dialect.to_db_time(row.end), row.active, row.foreground)


def node_values(dialect: Dialect, row: NodeRow) -> tuple[Any, ...]:
    """Parameters for NODE_COLUMNS: a new node is first seen when it is last seen."""
    seen = dialect.to_db_time(row.seen)
    return (row.node, row.computer, row.user, row.client_ip, row.platform, row.agent, row.cfg,
            seen, seen, int(row.online), row.interval)


def node_status(dialect: Dialect, row: Sequence[Any]) -> NodeStatus:
    """A NodeStatus from a row of NODES_QUERY."""
    return NodeStatus(*row[:7], first_seen=dialect.from_db_time(row[7]),
                      last_seen=dialect.from_db_time(row[8]), online=bool(row[9]),
                      interval=None if row[10] is None else float(row[10]))
