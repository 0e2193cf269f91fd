"""Finding the rows a real SQLite database refuses, and how many writes the search costs."""
from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Iterator, Sequence

import pytest

from common.ids import new_sid
from hub.isolate import REFUSED_BEFORE_GIVING_UP, store_acceptable_rows
from hub.storage import NodeRow, SessionRow
from hub.storage.sqlite import SQLiteStorage
from tests.conftest import storage_with_schema
from tests.dbrows import stored_sessions

T0 = 1_700_000_000.0
ROWS = 1000


class CountingStorage:
    """A real storage whose writes are counted: the search must stay cheap."""

    def __init__(self, storage: SQLiteStorage) -> None:
        self._storage = storage
        self.writes = 0

    def write(self, sessions: Sequence[SessionRow], nodes: Sequence[NodeRow]) -> None:
        self.writes += 1
        self._storage.write(sessions, nodes)


@pytest.fixture
def storage(sqlite_url: str) -> Iterator[CountingStorage]:
    with storage_with_schema(sqlite_url) as store:
        yield CountingStorage(store)


def rows(labels: Sequence[str]) -> list[SessionRow]:
    return [SessionRow(new_sid(T0), "pc1/alice", "10.0.0.7", "alice", "pc1", label, T0, T0 + 60)
            for label in labels]


def test_poison_rows_are_named_and_every_other_row_stored(storage, sqlite_url) -> None:
    labels = ["chrome"] * ROWS
    labels[17] = labels[640] = "bad\udc80label"  # a lone surrogate: no driver encodes it
    sessions = rows(labels)
    refused = store_acceptable_rows(storage, sessions, [])
    assert refused is not None
    assert [item.row.sid for item in refused] == [sessions[17].sid, sessions[640].sid]
    assert len(stored_sessions(sqlite_url)) == ROWS - 2
    assert storage.writes <= 4 * 10 + 1  # two bad rows, each about 2 log2(1000) writes away


def test_a_database_that_refuses_everything_is_given_up_on_early(storage, sqlite_url) -> None:
    with closing(sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))) as conn, conn:
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON records "
                     "BEGIN SELECT RAISE(ABORT, 'writes are refused'); END")
    assert store_acceptable_rows(storage, rows(["chrome"] * ROWS), []) is None
    assert stored_sessions(sqlite_url) == []
    # Depth-first to the first leaves, then one write per further refused leaf or subtree.
    assert storage.writes < 4 * REFUSED_BEFORE_GIVING_UP + 10
