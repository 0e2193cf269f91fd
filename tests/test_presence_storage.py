"""activeSeconds and foregroundSeconds in `records`: stored, only ever raised, NULL when not measured,
added to a database of release 0.1 at hub start."""
from __future__ import annotations

import itertools
from typing import Iterator

import pytest

from common.ids import new_sid
from common.protocol import Report, SessionState
from hub.storage import SessionRow, Storage, open_storage
from hub.storage.base import coalesce_sessions
from hub.writer import Received, Writer
from tests.conftest import storage_with_schema
from tests.dbrows import raw_sql
from tests.test_schema_upgrade import create_old_database
from tests.waiting import wait_for

T0 = 1_790_000_000.0
Measured = tuple["float | None", "float | None"]


def row(sid: bytes, end: float, active: float | None, foreground: float | None) -> SessionRow:
    return SessionRow(sid, "pc1/alice", "10.0.0.7", "alice", "pc1", "editor", T0, end, active, foreground)


def measured(url: str) -> dict[bytes, Measured]:
    return {bytes(sid): (active, foreground) for sid, active, foreground in
            raw_sql(url, "SELECT sid, activeSeconds, foregroundSeconds FROM records")}


@pytest.fixture
def second_hub(storage_url: str, storage: Storage) -> Iterator[Storage]:
    """Another hub's storage on the same database: it knows none of the first one's sessions."""
    with open_storage(storage_url) as other:
        yield other


def test_measured_seconds_are_stored_and_unmeasured_ones_are_null(storage: Storage, storage_url: str) -> None:
    sids = [new_sid() for _ in range(3)]
    storage.write([row(sids[0], T0 + 60, 42.5, 12.25), row(sids[1], T0 + 60, 30.0, None),
                   row(sids[2], T0 + 60, None, None)], [])
    assert measured(storage_url) == {sids[0]: (42.5, 12.25), sids[1]: (30.0, None), sids[2]: (None, None)}


# Reports of one session as a node sends them over time, each carrying the values it had then.
GROWING = [(T0 + 10, None, None), (T0 + 20, 8.0, None), (T0 + 30, 15.0, 4.0), (T0 + 40, 15.0, 9.5)]


@pytest.mark.parametrize("order", [list(p) for p in itertools.permutations(range(4))][::5])
def test_duplicated_and_reordered_reports_leave_the_largest_values(
        storage: Storage, second_hub: Storage, storage_url: str, order: list[int]) -> None:
    sid = new_sid()
    for step, index in enumerate(order + order):
        end, active, foreground = GROWING[index]
        # Alternate between a hub that has stored the session (an UPDATE of what it knows) and one
        # that has not (an insert that finds the row there).
        (storage if step % 2 else second_hub).write([row(sid, end, active, foreground)], [])
    assert measured(storage_url) == {sid: (15.0, 9.5)}


def test_one_batch_keeps_the_largest_values_of_each_session() -> None:
    sid = new_sid()
    rows = [row(sid, end, active, foreground) for end, active, foreground in reversed(GROWING)]
    (merged,) = coalesce_sessions(rows)
    assert (merged.end, merged.active, merged.foreground) == (T0 + 40, 15.0, 9.5)


def test_the_writer_keeps_the_largest_values_of_reports_pending_together(sqlite_url: str) -> None:
    sid = new_sid()

    class NoAcks:
        def send(self, acks: dict) -> None: ...
        def close(self) -> None: ...

    with storage_with_schema(sqlite_url) as store:
        writer = Writer(store, NoAcks())
        received = [Received(Report("pc1/alice", "pc1", "alice", seq, T0, "", "a", "Linux",
                                    (SessionState(sid, "editor", T0, end, True, None, active, fg),)),
                             "10.0.0.7", T0)
                    for seq, (end, active, fg) in enumerate(reversed(GROWING))]
        writer.submit(received)
        writer.start()
        wait_for(lambda: measured(sqlite_url).get(sid) == (15.0, 9.5), 10, "the largest values stored")
        writer.stop(5)
        writer.join(10)


def test_a_database_of_release_0_1_gets_the_columns_and_its_rows_stay_unmeasured(storage_url: str) -> None:
    create_old_database(storage_url)
    with storage_with_schema(storage_url) as store:
        sid = new_sid()
        store.write([row(sid, T0 + 60, 50.0, 20.0)], [])
    assert measured(storage_url) == {b"\x01" * 16: (None, None), sid: (50.0, 20.0)}

