"""Storage backends against real databases: a SQLite file and a MariaDB server."""
from __future__ import annotations

import random
import re
import secrets
import socket
import sqlite3
import threading
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pymysql
import pytest

from common.ids import new_sid
from hub.storage import (DatabaseURL, NodeRow, NodeStatus, SessionRow, Storage, StorageError,
                         StorageUnavailable, UsageRow, open_storage, parse_db_url)
from hub.storage.base import usage_query
from hub.storage import mariadb
from hub.storage.mariadb import SCHEMA_SQL, MariaDBStorage, connect_kwargs, split_sql
from hub.storage.sqlite import SQLiteStorage
from tests.dbrows import db_time, raw_sql
from tests.processes import run_cli
from tests.waiting import wait_for

RECORDS_SQL = Path(__file__).resolve().parent.parent / "records.sql"
T0 = 1_700_000_000.0   # 2023-11-14 22:13:20 UTC
ORIGINAL_COLUMNS = ["id", "client_ip", "user", "computerName", "process", "startTime", "endTime"]


def session(start: float = T0, end: float = T0 + 60, *, user: str = "alice", computer: str = "pc1",
            process: str = "chrome") -> SessionRow:
    return SessionRow(sid=new_sid(start), node=f"{computer}/{user}", client_ip="10.0.0.7", user=user,
                      computer=computer, process=process, start=start, end=end)


def node(seen: float = T0, *, computer: str = "pc1", user: str = "alice", online: bool = True,
         agent: str = "procmesh 1.0") -> NodeRow:
    return NodeRow(node=f"{computer}/{user}", computer=computer, user=user, client_ip="10.0.0.7",
                   platform="Linux", agent=agent, cfg="c0ffee", seen=seen, online=online)


def stored_ends(url: str) -> dict[bytes, float]:
    return {bytes(sid): db_time(end) for sid, end in raw_sql(url, "SELECT sid, endTime FROM records")}


def count_records(url: str) -> int:
    return raw_sql(url, "SELECT COUNT(*) FROM records")[0][0]


def is_mariadb(url: str) -> bool:
    return parse_db_url(url).backend == "mariadb"


# --- schema -------------------------------------------------------------------------------------

def test_records_sql_and_the_mariadb_ddl_are_the_same_statements() -> None:
    assert split_sql(RECORDS_SQL.read_text(encoding="utf-8")) == split_sql(SCHEMA_SQL)
    assert len(split_sql(SCHEMA_SQL)) >= 2


def records_sql_columns(table: str) -> list[str]:
    text = RECORDS_SQL.read_text(encoding="utf-8")
    body = re.search(rf"CREATE TABLE IF NOT EXISTS {table} \((.*?)\n\)", text, re.S).group(1)
    return re.findall(r"^\s+(\w+)\s+(?:BIGINT|VARCHAR|DATETIME|BINARY|TINYINT|DOUBLE|INT|DATE)", body, re.M)


def table_columns(url: str, table: str) -> list[str]:
    if is_mariadb(url):
        sql = ("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
               "AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION")
    else:
        sql = "SELECT name FROM pragma_table_info(?) ORDER BY cid"
    return [name for (name,) in raw_sql(url, sql, (table,))]


def record_indexes(url: str) -> set[tuple[str, ...]]:
    if is_mariadb(url):
        sql = ("SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
               "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'records' AND INDEX_NAME <> 'PRIMARY' "
               "ORDER BY INDEX_NAME, SEQ_IN_INDEX")
    else:
        sql = ("SELECT il.name, ii.name FROM pragma_index_list('records') AS il "
               "JOIN pragma_index_info(il.name) AS ii ORDER BY il.name, ii.seqno")
    columns: dict[str, tuple[str, ...]] = {}
    for index, column in raw_sql(url, sql):
        columns[index] = columns.get(index, ()) + (column,)
    return set(columns.values())


def table_names(url: str) -> set[str]:
    if is_mariadb(url):
        sql = ("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
               "AND TABLE_TYPE = 'BASE TABLE'")
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {name for (name,) in raw_sql(url, sql)}


def test_schema_is_created_on_an_empty_database_and_again_harmlessly(storage_url: str) -> None:
    row = session()
    with open_storage(storage_url) as store:
        assert table_names(storage_url) == set()
        store.ensure_schema()
        store.ensure_schema()
        store.write([row], [node()])
    assert table_names(storage_url) == {"records", "nodes", "rollup_usage", "rollup_peak", "rollup_peak_top",
                                        "rollup_hours", "rollup_programs", "rollup_dirty", "rollup_state",
                                        "web_users"}
    with open_storage(storage_url) as store:
        store.ensure_schema()
        assert [u.sessions for u in store.usage(None, None, ["process"])] == [1]
        assert len(store.nodes()) == 1


def test_tables_have_the_columns_of_records_sql(storage: Storage, storage_url: str) -> None:
    assert records_sql_columns("records")[:7] == ORIGINAL_COLUMNS
    for table in ("records", "nodes", "web_users"):
        assert table_columns(storage_url, table) == records_sql_columns(table)


def test_records_has_the_report_indexes(storage: Storage, storage_url: str) -> None:
    assert record_indexes(storage_url) == {
        ("sid",), ("endTime",), ("startTime",), ("computerName", "startTime"), ("user", "startTime"),
        ("process", "startTime")}


# --- writing sessions ---------------------------------------------------------------------------

def test_writing_the_same_batch_twice_changes_nothing(storage: Storage, storage_url: str) -> None:
    batch = [session(user="alice"), session(user="bob"), session(process="word")]
    storage.write(batch, [node()])
    before = (stored_ends(storage_url), storage.usage(None, None, ["user", "process"]), storage.nodes())
    storage.write(batch, [node()])
    assert count_records(storage_url) == 3
    after = (stored_ends(storage_url), storage.usage(None, None, ["user", "process"]), storage.nodes())
    assert after == before


def test_end_only_grows(storage: Storage, storage_url: str) -> None:
    row = session(end=T0 + 100)
    storage.write([row], [])
    storage.write([replace(row, end=T0 + 50)], [])
    assert stored_ends(storage_url) == {row.sid: T0 + 100}
    storage.write([replace(row, end=T0 + 200)], [])
    assert stored_ends(storage_url) == {row.sid: T0 + 200}


def test_duplicates_and_reordering_in_and_across_batches(storage: Storage, storage_url: str) -> None:
    a, b = session(end=T0 + 30), session(user="bob", end=T0 + 10)
    storage.write([a, b, replace(a, end=T0 + 90), replace(a, end=T0 + 60), b], [])
    assert stored_ends(storage_url) == {a.sid: T0 + 90, b.sid: T0 + 10}
    storage.write([replace(b, end=T0 + 40), replace(a, end=T0 + 70), replace(b, end=T0 + 20)], [])
    assert stored_ends(storage_url) == {a.sid: T0 + 90, b.sid: T0 + 40}
    assert count_records(storage_url) == 2


def test_any_order_of_reports_ends_with_the_latest_end(storage: Storage, storage_url: str) -> None:
    rng = random.Random(7)
    rows = [session(start=T0 + i, user=f"user{i % 5}") for i in range(40)]
    reports = [replace(row, end=row.start + rng.randrange(1, 10_000) / 1000)
               for row in rows for _ in range(6)]
    rng.shuffle(reports)
    for at in range(0, len(reports), 25):
        storage.write(reports[at:at + 25], [])
    latest: dict[bytes, float] = {}
    for report in reports:
        latest[report.sid] = max(latest.get(report.sid, 0.0), report.end)
    assert stored_ends(storage_url) == latest


def test_writing_nothing_is_harmless(storage: Storage, storage_url: str) -> None:
    storage.write([], [])
    assert count_records(storage_url) == 0


def test_times_round_trip_in_utc_at_millisecond_precision(storage: Storage, storage_url: str) -> None:
    row = session(start=T0 + 0.123, end=T0 + 3600.4564)
    storage.write([row], [])
    (usage,) = storage.usage(None, None, ["process"])
    assert (usage.first, usage.last, usage.seconds) == (T0 + 0.123, T0 + 3600.456, 3600.333)
    (start, end), = raw_sql(storage_url, "SELECT startTime, endTime FROM records")
    assert str(start).startswith("2023-11-14 22:13:20.123") and str(end).startswith("2023-11-14 23:13:20.456")


def test_rows_deleted_behind_the_writers_back_are_stored_again(storage: Storage, storage_url: str) -> None:
    rows = [session(user="alice"), session(user="bob")]
    storage.write(rows, [])
    raw_sql(storage_url, "DELETE FROM records WHERE user = ?", ("alice",))
    storage.write([replace(row, end=T0 + 120) for row in rows], [])
    assert stored_ends(storage_url) == {row.sid: T0 + 120 for row in rows}


def test_sql_metacharacters_and_emoji_are_stored_verbatim(storage: Storage) -> None:
    user, computer = "O'Brien; DROP TABLE records;--", 'pc-"\\%_?'
    storage.write([session(user=user, computer=computer, process="画图🎨", end=T0 + 20),
                   session(user=user, computer=computer, process="画图🎵", end=T0 + 10)],
                  [node(user=user, computer=computer)])
    assert [u.key for u in storage.usage(None, None, ["computer", "user", "process"])] == [
        (computer, user, "画图🎨"), (computer, user, "画图🎵")]
    (status,) = storage.nodes()
    assert (status.node, status.user, status.computer) == (f"{computer}/{user}", user, computer)


# --- usage --------------------------------------------------------------------------------------

@pytest.fixture
def lab(storage: Storage) -> Storage:
    storage.write([
        session(T0, T0 + 100, computer="pc1", user="alice", process="chrome"),
        session(T0, T0 + 50, computer="pc1", user="bob", process="word"),
        session(T0 + 10, T0 + 40, computer="pc2", user="alice", process="chrome"),
        session(T0, T0 + 10, computer="pc2", user="carol", process="chrome"),
        session(T0 + 5, T0 + 35, computer="pc2", user="dave", process="chrome"),
    ], [])
    return storage


@pytest.mark.parametrize("by, expected", [
    ("computer", [(("pc1",), 2, 150.0), (("pc2",), 3, 70.0)]),
    ("user", [(("alice",), 2, 130.0), (("bob",), 1, 50.0), (("dave",), 1, 30.0), (("carol",), 1, 10.0)]),
    ("process", [(("chrome",), 4, 170.0), (("word",), 1, 50.0)]),
])
def test_usage_groups_by_each_column(lab: Storage, by: str, expected: list[tuple[Any, ...]]) -> None:
    assert [(u.key, u.sessions, u.seconds) for u in lab.usage(None, None, [by])] == expected


def test_usage_groups_by_several_columns_in_the_order_asked(lab: Storage) -> None:
    # (pc2, alice) and (pc2, dave) tie on seconds: the key breaks the tie.
    assert lab.usage(None, None, ["computer", "user"]) == [
        UsageRow(("pc1", "alice"), 1, 100.0, T0, T0 + 100),
        UsageRow(("pc1", "bob"), 1, 50.0, T0, T0 + 50),
        UsageRow(("pc2", "alice"), 1, 30.0, T0 + 10, T0 + 40),
        UsageRow(("pc2", "dave"), 1, 30.0, T0 + 5, T0 + 35),
        UsageRow(("pc2", "carol"), 1, 10.0, T0, T0 + 10),
    ]
    assert [u.key for u in lab.usage(None, None, ["process", "computer"])] == [
        ("chrome", "pc1"), ("chrome", "pc2"), ("word", "pc1")]


def test_usage_without_grouping_is_the_total(lab: Storage) -> None:
    assert lab.usage(None, None, []) == [UsageRow((), 5, 220.0, T0, T0 + 100)]


def test_usage_counts_only_the_part_inside_the_window(storage: Storage) -> None:
    storage.write([
        session(T0, T0 + 100, process="straddles"),
        session(T0 - 50, T0 + 39.999, process="ends before since"),
        session(T0 + 20, T0 + 40, process="ends at since"),
        session(T0 + 70, T0 + 90, process="starts at until"),
        session(T0 + 50, T0 + 60, process="inside"),
    ], [])
    window = storage.usage(T0 + 40, T0 + 70, ["process"])
    assert [(u.key, u.sessions, u.seconds, u.first, u.last) for u in window] == [
        (("straddles",), 1, 30.0, T0, T0 + 100),
        (("inside",), 1, 10.0, T0 + 50, T0 + 60),
        (("ends at since",), 1, 0.0, T0 + 20, T0 + 40),
    ]
    assert [u.seconds for u in storage.usage(T0 + 40, None, ["process"])][:2] == [60.0, 20.0]
    assert [u.seconds for u in storage.usage(None, T0 + 10, ["process"])] == [60.0, 10.0]


def test_reports_with_a_start_read_sessions_through_the_endTime_index(storage: Storage, storage_url: str) -> None:
    # A grouping index would give the GROUP BY order for free but read every row of a big table.
    sql, params = usage_query(storage.dialect, T0, None, ["process"])
    explain = "EXPLAIN " if is_mariadb(storage_url) else "EXPLAIN QUERY PLAN "
    assert "records_endTime" in str(raw_sql(storage_url, explain + sql, tuple(params)))


def test_usage_of_nothing_is_empty(storage: Storage) -> None:
    assert storage.usage(None, None, ["computer"]) == []
    assert storage.usage(None, None, []) == []
    storage.write([session(T0, T0 + 10)], [])
    assert storage.usage(T0 + 100, T0 + 200, ["user"]) == []
    assert storage.usage(T0 + 100, T0 + 200, []) == []


@pytest.mark.parametrize("by", [["host"], ["computerName"], ["user", "user"], ["user; DROP TABLE records"]])
def test_usage_rejects_unknown_or_repeated_columns(storage: Storage, by: list[str]) -> None:
    with pytest.raises(StorageError, match="computer, user, process|twice"):
        storage.usage(None, None, by)


# --- nodes --------------------------------------------------------------------------------------

def test_nodes_keep_first_seen_and_advance_last_seen(storage: Storage) -> None:
    storage.write([], [node(T0, user="bob"), node(T0 + 1, computer="pc0", user="zed")])
    storage.write([], [node(T0 + 60, user="bob", online=False, agent="procmesh 1.1")])
    assert storage.nodes() == [
        NodeStatus("pc0/zed", "pc0", "zed", "10.0.0.7", "Linux", "procmesh 1.0", "c0ffee",
                   first_seen=T0 + 1, last_seen=T0 + 1, online=True),
        NodeStatus("pc1/bob", "pc1", "bob", "10.0.0.7", "Linux", "procmesh 1.1", "c0ffee",
                   first_seen=T0, last_seen=T0 + 60, online=False),
    ]
    storage.write([], [node(T0 + 30, user="bob", online=True)])   # an older report arriving late
    assert storage.nodes()[1].last_seen == T0 + 60


def test_an_unchanged_node_advances_last_seen_and_a_deleted_one_comes_back(storage: Storage,
                                                                          storage_url: str) -> None:
    storage.write([], [node(T0)])
    storage.write([], [node(T0 + 5)])           # unchanged but for the time
    storage.write([], [node(T0 + 4)])           # late: last seen never goes back
    assert [(n.first_seen, n.last_seen) for n in storage.nodes()] == [(T0, T0 + 5)]
    raw_sql(storage_url, "DELETE FROM nodes")   # an administrator's purge
    storage.write([], [node(T0 + 10)])
    assert [(n.first_seen, n.last_seen) for n in storage.nodes()] == [(T0 + 10, T0 + 10)]


def test_sessions_and_nodes_are_written_in_one_transaction(storage: Storage, storage_url: str) -> None:
    row = session()
    with pytest.raises(StorageError):
        storage.write([row], [replace(node(), computer=None)])   # violates NOT NULL
    assert count_records(storage_url) == 0
    storage.write([row], [node()])
    assert stored_ends(storage_url) == {row.sid: row.end}


# --- SQLite -------------------------------------------------------------------------------------

def test_sqlite_path_is_relative_to_the_working_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_storage("sqlite:///relative.db") as store:
        store.ensure_schema()
    assert (tmp_path / "relative.db").is_file()


def test_sqlite_in_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(StorageError, match=f"folder {re.escape(str(missing))} does not exist"):
        open_storage(f"sqlite:///{missing / 'procmesh.db'}")
    assert not (tmp_path / "no").exists()


def test_sqlite_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database, just notes\n" * 100)
    with pytest.raises(StorageError, match="notes.db: file is not a database") as raised:
        open_storage(f"sqlite:///{path}")
    assert not isinstance(raised.value, StorageUnavailable)


def test_sqlite_locked_by_another_writer_is_unavailable_then_works(sqlite_url: str) -> None:
    path = parse_db_url(sqlite_url).path
    with SQLiteStorage(path, busy_timeout=0.2) as store:
        store.ensure_schema()
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StorageUnavailable, match="database is locked"):
                store.write([session()], [])
            assert store.usage(None, None, []) == []   # WAL: reading goes on meanwhile
            other.execute("ROLLBACK")
        store.write([session()], [])
    assert count_records(sqlite_url) == 1


# --- MariaDB ------------------------------------------------------------------------------------

@pytest.mark.parametrize("known_capacity", [500_000, 7])
def test_mariadb_ids_stay_dense(mariadb_url: str, known_capacity: int) -> None:
    """Reporting the same sessions over and over must not burn auto-increment values."""
    rows = [session(start=T0 + i, user=f"user{i % 7}") for i in range(50)]
    with MariaDBStorage(parse_db_url(mariadb_url), known_capacity=known_capacity) as store:
        store.ensure_schema()
        for report in range(20):
            # Sessions open as time goes on; each report repeats every open one, some twice.
            current = [replace(row, end=row.start + report) for row in rows[:30 + report]]
            store.write(current + current[::5], [node(T0 + report)])
    with open_storage(mariadb_url) as second_hub:   # knows nothing yet: must SELECT, then UPDATE
        second_hub.write([replace(row, end=T0 + 1000) for row in rows], [])
    (low, high, count), = raw_sql(mariadb_url, "SELECT MIN(id), MAX(id), COUNT(*) FROM records")
    assert count == len(rows)
    assert high - low + 1 == count


def mariadb_connection_ids(admin: pymysql.connections.Connection, url: str) -> list[int]:
    with admin.cursor() as cursor:
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST "
                       "WHERE DB = %s AND ID <> CONNECTION_ID()", (parse_db_url(url).database,))
        return [connection_id for (connection_id,) in cursor.fetchall()]


def only_connection_id(admin: pymysql.connections.Connection, url: str) -> int:
    """The id of the one connection to the test database; a connection the test just closed can
    linger in the process list for a moment, so wait for it to go."""
    def single() -> list[int] | None:
        ids = mariadb_connection_ids(admin, url)
        return ids if len(ids) == 1 else None

    return wait_for(single, 10, "exactly one connection to the test database")[0]


def write_with_one_retry(store: Storage, rows: list[SessionRow]) -> None:
    try:
        store.write(rows, [])
    except StorageUnavailable:
        store.write(rows, [])


def test_mariadb_write_after_the_connection_was_killed(mariadb_url: str,
                                                       mariadb_admin: pymysql.connections.Connection) -> None:
    first = [session(user=f"first{i}") for i in range(5)]
    second = [replace(row, end=T0 + 300) for row in first] + [session(user=f"second{i}") for i in range(5)]
    with open_storage(mariadb_url) as store:
        store.ensure_schema()
        store.write(first, [])
        victim = only_connection_id(mariadb_admin, mariadb_url)
        with mariadb_admin.cursor() as cursor:
            cursor.execute("KILL %s", (victim,))
        write_with_one_retry(store, second)
        assert mariadb_connection_ids(mariadb_admin, mariadb_url) != [victim]
        assert stored_ends(mariadb_url) == {row.sid: row.end for row in second}
        current = only_connection_id(mariadb_admin, mariadb_url)
        with mariadb_admin.cursor() as cursor:
            cursor.execute("KILL %s", (current,))
        assert len(store.usage(None, None, ["user"])) == 10   # reads reconnect too


def test_mariadb_connection_killed_in_the_middle_of_a_write(
        mariadb_url: str, mariadb_admin: pymysql.connections.Connection) -> None:
    row, other = session(), session(user="bob")
    with open_storage(mariadb_url) as store:
        store.ensure_schema()
        store.write([row], [])
        victim = only_connection_id(mariadb_admin, mariadb_url)
        with closing(pymysql.connect(**connect_kwargs(parse_db_url(mariadb_url)))) as locker:
            with locker.cursor() as cursor:   # holds the row, so the storage's UPDATE waits mid-transaction
                cursor.execute("SELECT id FROM records WHERE sid = %s FOR UPDATE", (row.sid,))

            killed = threading.Event()

            def kill_the_waiting_update() -> None:
                wait_for(lambda: waiting_update(mariadb_admin, victim), timeout=10,
                         message="the storage's UPDATE waiting for the row lock")
                with mariadb_admin.cursor() as cursor:
                    cursor.execute("KILL %s", (victim,))
                killed.set()

            killer = threading.Thread(target=kill_the_waiting_update)
            killer.start()
            with pytest.raises(StorageUnavailable, match="cannot write to MariaDB at"):
                store.write([replace(row, end=T0 + 500), other], [])
            killer.join()
            assert killed.is_set()   # not the lock wait timeout
            locker.rollback()
        store.write([replace(row, end=T0 + 500), other], [])
    assert stored_ends(mariadb_url) == {row.sid: T0 + 500, other.sid: other.end}


def waiting_update(admin: pymysql.connections.Connection, connection_id: int) -> bool:
    with admin.cursor() as cursor:
        cursor.execute("SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = %s", (connection_id,))
        return any((info or "").startswith("UPDATE ") and "records" in info for (info,) in cursor.fetchall())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_mariadb_unreachable_is_unavailable_with_a_clear_line() -> None:
    port = free_port()
    with pytest.raises(StorageUnavailable) as raised:
        open_storage(f"mariadb://root:hunter2-secret@127.0.0.1:{port}/procmesh")
    message = str(raised.value)
    assert message.startswith(f"cannot connect to MariaDB at 127.0.0.1:{port} as root: ")
    assert "hunter2" not in message and "\n" not in message


def test_mariadb_wrong_password_is_an_error_without_the_password(mariadb_server: DatabaseURL) -> None:
    url = replace(mariadb_server, password="hunter2-secret")
    with pytest.raises(StorageError) as raised:
        MariaDBStorage(url)
    message = str(raised.value)
    assert not isinstance(raised.value, StorageUnavailable)
    assert f"as {url.user}: Access denied" in message
    assert "hunter2" not in message and "\n" not in message


def test_mariadb_unknown_database_is_an_error(mariadb_server: DatabaseURL) -> None:
    url = replace(mariadb_server, database="procmesh_no_such_database")
    with pytest.raises(StorageError, match="Unknown database 'procmesh_no_such_database'") as raised:
        MariaDBStorage(url)
    assert not isinstance(raised.value, StorageUnavailable)


@pytest.fixture
def restricted_account(mariadb_url: str, mariadb_admin: pymysql.connections.Connection
                       ) -> Iterator[DatabaseURL]:
    """An account that may read and write the tables but not create any."""
    user, password = f"pm_{secrets.token_hex(5)}", secrets.token_hex(16)
    database = parse_db_url(mariadb_url).database
    with mariadb_admin.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        # Identifiers cannot be parameters; the database name is the fixture's own hex.
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE ON `{database}`.* TO %s@'%%'", (user,))
    try:
        yield replace(parse_db_url(mariadb_url), user=user, password=password)
    finally:
        with mariadb_admin.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))


def test_mariadb_account_without_create_privilege_works_on_existing_tables(
        mariadb_url: str, restricted_account: DatabaseURL) -> None:
    with open_storage(mariadb_url) as owner:
        owner.ensure_schema()
    with MariaDBStorage(restricted_account) as store:
        store.ensure_schema()
        store.write([session()], [node()])
        assert len(store.nodes()) == 1


def test_the_hub_reads_the_mariadb_password_from_a_file_and_never_shows_it(
        tmp_path: Path, mariadb_url: str, restricted_account: DatabaseURL) -> None:
    with open_storage(mariadb_url) as owner:
        owner.ensure_schema()
    url = replace(restricted_account, password="").redacted()
    secret = tmp_path / "db-password"
    secret.write_text(restricted_account.password + "\n")
    ok = run_cli("hub", "status", "--db", url, "--db-password-file", str(secret), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    secret.write_text("wrong-" + restricted_account.password + "\n")
    denied = run_cli("hub", "status", "--db", url, "--db-password-file", str(secret), cwd=tmp_path)
    assert denied.returncode == 1 and "Access denied" in denied.stderr
    assert restricted_account.password not in denied.stderr + denied.stdout + ok.stderr + ok.stdout


def test_a_statement_the_client_stops_waiting_for_is_stopped_on_the_server(
        mariadb_url: str, mariadb_admin: pymysql.connections.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mariadb, "STATEMENT_TIMEOUT", 1)
    monkeypatch.setattr(mariadb, "IO_TIMEOUT", 4)
    marker = f"procmesh_slow_{secrets.token_hex(4)}"
    with open_storage(mariadb_url) as store:
        with pytest.raises(StorageUnavailable) as failed:
            # Ten billion rows to count, minutes of work; not SLEEP(), which stops by itself when
            # the client goes away (a comment marks the statement in the process list).
            store.read(f"SELECT /* {marker} */ COUNT(*) FROM seq_1_to_100000 AS a JOIN seq_1_to_100000 AS b", [])

    def running() -> list[int]:
        with mariadb_admin.cursor() as cursor:
            cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s "
                           "AND ID <> CONNECTION_ID()", [f"%{marker}%seq_1_to_%"])
            return [row[0] for row in cursor.fetchall()]
    try:
        wait_for(lambda: not running(), timeout=10, message="the slow statement to stop on the server")
    finally:
        with mariadb_admin.cursor() as cursor:   # failed or not, leave no work to the server
            for thread in running():
                cursor.execute("KILL QUERY %s", [thread])
    assert "max_statement_time" in str(failed.value)   # the error says why

