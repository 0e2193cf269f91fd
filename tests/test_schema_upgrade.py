"""A database created by an earlier release is brought up to this release's schema at hub start."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pymysql
import pytest

from hub.storage import StorageError, open_storage, parse_db_url
from hub.storage.mariadb import SCHEMA_SQL, split_sql
from hub.storage.schema import parse_table
from hub.storage.sqlite import SCHEMA as SQLITE_SCHEMA
from tests.conftest import _test_dsn, new_database
from tests.dbrows import raw_sql

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OLD_RELEASE = "0.1"


def is_mariadb(url: str) -> bool:
    return parse_db_url(url).backend == "mariadb"


def old_ddl(url: str) -> list[str]:
    backend = "mariadb" if is_mariadb(url) else "sqlite"
    return split_sql((FIXTURES / f"schema_{OLD_RELEASE}_{backend}.sql").read_text(encoding="utf-8"))


def current_ddl(url: str) -> list[str]:
    return split_sql(SCHEMA_SQL) if is_mariadb(url) else list(SQLITE_SCHEMA)


def create_old_database(url: str) -> None:
    """The tables as the old release made them, with one session and one node in them."""
    for statement in old_ddl(url):
        raw_sql(url, statement)
    raw_sql(url, "INSERT INTO records (client_ip, user, computerName, process, startTime, endTime, sid, node) "
                 "VALUES ('10.0.0.7', 'alice', 'pc1', 'chrome', '2026-01-05 08:00:00.000', "
                 "'2026-01-05 09:00:00.000', ?, 'pc1/alice')", (b"\x01" * 16,))
    raw_sql(url, "INSERT INTO nodes (node, computerName, user, client_ip, platform, agent, cfg, firstSeen, "
                 "lastSeen, online) VALUES ('pc1/alice', 'pc1', 'alice', '10.0.0.7', 'Linux', 'a', 'c', "
                 "'2026-01-05 08:00:00.000', '2026-01-05 09:00:00.000', 1)")


def shape(url: str) -> dict[str, Any]:
    """Every table's columns (type, nullability, default), every index's columns, every view."""
    if is_mariadb(url):
        columns = raw_sql(url, "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT "
                               "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()")
        indexes = raw_sql(url, "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
                               "WHERE TABLE_SCHEMA = DATABASE() ORDER BY SEQ_IN_INDEX")
        views = raw_sql(url, "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()")
    else:
        columns = raw_sql(url, "SELECT m.name, c.name, c.type, c.\"notnull\", c.dflt_value FROM sqlite_master m "
                               "JOIN pragma_table_info(m.name) c WHERE m.type = 'table'")
        indexes = raw_sql(url, "SELECT m.tbl_name, m.name, i.name FROM sqlite_master m "
                               "JOIN pragma_index_info(m.name) i WHERE m.type = 'index' ORDER BY i.seqno")
        views = raw_sql(url, "SELECT name FROM sqlite_master WHERE type = 'view'")
    index_columns: dict[tuple[str, str], list[str]] = {}
    for table, index, column in indexes:
        index_columns.setdefault((table, index), []).append(column)
    return {"columns": {(table, column): rest for table, column, *rest in columns},
            "indexes": index_columns, "views": {name for (name,) in views}}


@pytest.fixture
def fresh_url(storage_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A second empty database on the same backend as storage_url."""
    if not is_mariadb(storage_url):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    admin: pymysql.connections.Connection = request.getfixturevalue("mariadb_admin")
    name, url = new_database(admin, _test_dsn())
    try:
        yield url
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def test_a_database_of_the_previous_release_gets_the_current_schema_and_keeps_its_rows(
        storage_url: str, fresh_url: str) -> None:
    create_old_database(storage_url)
    with open_storage(storage_url) as store:
        store.ensure_schema()
    with open_storage(fresh_url) as store:
        store.ensure_schema()
    assert shape(storage_url) == shape(fresh_url)
    with open_storage(storage_url) as store:
        store.ensure_schema()   # nothing left to do: runs no statement, changes nothing
        (usage,) = store.usage(None, None, ["computer", "user", "process"])
        assert (usage.key, usage.sessions, usage.seconds) == (("pc1", "alice", "chrome"), 1, 3600.0)
        assert [n.node for n in store.nodes()] == ["pc1/alice"]


def with_column(statement: str, column: str) -> str:
    """A CREATE TABLE statement with one more column at the end of its body."""
    head, _, tail = statement.strip().rpartition(")")
    return f"{head}, {column}){tail}"


def later_release(url: str, nodes_column: str) -> list[str]:
    """The current DDL plus what a later release might add: a column, an index, a table, a view."""
    ddl = []
    for statement in current_ddl(url):
        if re.match(r"CREATE TABLE IF NOT EXISTS nodes\b", statement):
            statement = with_column(statement, nodes_column)
        if re.match(r"CREATE TABLE IF NOT EXISTS records\b", statement) and is_mariadb(url):
            statement = with_column(statement, "KEY records_node (node)")
        ddl.append(statement)
    if not is_mariadb(url):
        ddl.append("CREATE INDEX IF NOT EXISTS records_node ON records (node)")
    ddl.append("CREATE TABLE IF NOT EXISTS probe (k INTEGER NOT NULL)")
    ddl.append("CREATE VIEW IF NOT EXISTS probe_nodes AS SELECT node, note FROM nodes")
    return ddl


def test_an_upgrade_adds_a_nullable_column_an_index_a_table_and_a_view(storage_url: str) -> None:
    create_old_database(storage_url)
    ddl = later_release(storage_url, "note VARCHAR(40) NULL")
    with open_storage(storage_url) as store:
        store.ensure_schema(ddl)
        store.ensure_schema(ddl)
    found = shape(storage_url)
    assert ("nodes", "note") in found["columns"]
    assert found["indexes"][("records", "records_node")] == ["node"]
    assert ("probe", "k") in found["columns"] and found["views"] >= {"probe_nodes"}
    assert raw_sql(storage_url, "SELECT node, note FROM probe_nodes") == [("pc1/alice", None)]


def test_a_column_that_old_rows_cannot_fill_is_refused_with_one_line(storage_url: str) -> None:
    create_old_database(storage_url)
    before = shape(storage_url)
    with open_storage(storage_url) as store:
        with pytest.raises(StorageError, match=r"column nodes\.note cannot be added .* NOT NULL without a DEFAULT"):
            store.ensure_schema(later_release(storage_url, "note VARCHAR(40) NOT NULL"))
    assert shape(storage_url) == before


def test_a_create_table_statement_is_taken_apart_into_columns_and_keys() -> None:
    table = parse_table("CREATE TABLE IF NOT EXISTS t (id BIGINT NOT NULL AUTO_INCREMENT, "
                        "note VARCHAR(9) NULL COMMENT 'a, b (c)', amount DECIMAL(10,2) DEFAULT 0, "
                        "PRIMARY KEY (id), UNIQUE KEY t_note (note), KEY t_both (note, amount)) ENGINE=InnoDB")
    assert table.name == "t"
    assert table.columns == {"id": "BIGINT NOT NULL AUTO_INCREMENT",
                             "note": "VARCHAR(9) NULL COMMENT 'a, b (c)'", "amount": "DECIMAL(10,2) DEFAULT 0"}
    assert table.keys == {"t_note": "UNIQUE KEY t_note (note)", "t_both": "KEY t_both (note, amount)"}
