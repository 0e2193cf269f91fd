"""The writer thread against a real SQLite file: what it stores, when it acks, how it rides out a lock."""
from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import closing
from typing import Any, Callable, Iterator

import pytest

from common.ids import new_sid
from common.protocol import Report, SessionState
from hub.storage import SessionRow, Storage, open_storage, parse_db_url
from hub.storage.sqlite import SQLiteStorage
from hub.storage.timefmt import from_text
from hub.writer import REFUSALS_BEFORE_ISOLATING, AckSink, Received, Writer
from tests.conftest import storage_with_schema
from tests.waiting import wait_for

T0 = 1_700_000_000.0   # 2023-11-14 22:13:20 UTC
CLIENT_IP = "10.0.0.7"
ALICE = "pc1/alice"
BOB = "pc2/bob"
QUICK_FLUSH = 0.05
NEVER_BY_TIMER = 60.0   # longer than any test: only a full batch or stop() can flush


class RecordingAckSink:
    """The writer's output port: keeps each ack map in the order the writer released them."""

    def __init__(self) -> None:
        self.acks: list[dict[str, list[int]]] = []
        self.closed = threading.Event()

    def send(self, acks: dict[str, list[int]]) -> None:
        self.acks.append(dict(acks))

    def close(self) -> None:
        self.closed.set()


class RowsAtAckSink(RecordingAckSink):
    """Also reads the database, from the writer's thread, at the moment each ack is handed over."""

    def __init__(self, db_path: str) -> None:
        super().__init__()
        self._db_path = db_path
        self.rows_at_ack: list[dict[bytes, SessionRow]] = []

    def send(self, acks: dict[str, list[int]]) -> None:
        self.rows_at_ack.append(stored_rows(self._db_path))
        super().send(acks)


class WriteLock:
    """Another connection holding SQLite's write lock, as a second program writing the file would."""

    def __init__(self, db_path: str) -> None:
        self._conn: sqlite3.Connection | None = sqlite3.connect(db_path, isolation_level=None)
        self._conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None


def session(sid: bytes, end: float, *, label: str = "chrome", owner: str | None = None) -> SessionState:
    return SessionState(sid, label, T0, end, True, owner)


def report(seq: int, *sessions: SessionState, node: str = ALICE, kind: str = "report") -> Report:
    host, user = node.split("/")
    return Report(node=node, host=host, user=user, seq=seq, sent=T0, cfg="c0ffee",
                  agent="procmesh 1.0", os="Linux", sessions=sessions, kind=kind)


def batch(*reports: Report) -> list[Received]:
    return [Received(r, CLIENT_IP, T0) for r in reports]


def stored_rows(db_path: str) -> dict[bytes, SessionRow]:
    """The records table read through a connection of its own, as committed."""
    with closing(sqlite3.connect(db_path)) as conn:
        rows = conn.execute("SELECT sid, node, client_ip, user, computerName, process, startTime, "
                            "endTime FROM records").fetchall()
    return {row[0]: SessionRow(*row[:6], start=from_text(row[6]), end=from_text(row[7]))
            for row in rows}


@pytest.fixture
def db_path(sqlite_url: str) -> str:
    return parse_db_url(sqlite_url).path


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Storage]:
    with storage_with_schema(sqlite_url) as storage:
        yield storage


@pytest.fixture
def reader(sqlite_url: str, store: Storage) -> Iterator[Storage]:
    """A second connection for the test's own reads: the writer's connection belongs to its thread."""
    with open_storage(sqlite_url) as storage:
        yield storage


@pytest.fixture
def impatient_store(db_path: str) -> Iterator[Storage]:
    """Gives up on a held lock after 0.1 s, so an outage shows up as failures within the test."""
    with SQLiteStorage(db_path, busy_timeout=0.1) as storage:
        storage.ensure_schema()
        yield storage


@pytest.fixture
def write_lock(db_path: str, impatient_store: Storage) -> Iterator[WriteLock]:
    # Depends on impatient_store so that the tables exist before the lock is taken.
    lock = WriteLock(db_path)
    yield lock
    lock.release()


@pytest.fixture
def sink() -> RecordingAckSink:
    return RecordingAckSink()


@pytest.fixture
def start_writer() -> Iterator[Callable[..., Writer]]:
    started: list[Writer] = []

    def start(storage: Storage, ack_sink: AckSink, **options: Any) -> Writer:
        writer = Writer(storage, ack_sink, **{"flush_seconds": QUICK_FLUSH, **options})
        writer.start()
        started.append(writer)
        return writer

    yield start
    for writer in started:
        writer.stop(within=1.0)
        writer.join(5.0)


# --- storing and acking -------------------------------------------------------------------------

def test_submitted_sessions_are_stored_with_the_reporting_node(start_writer, store, sink, db_path) -> None:
    chrome, word = new_sid(T0), new_sid(T0)
    writer = start_writer(store, sink)
    writer.submit(batch(report(1, session(chrome, T0 + 60), session(word, T0 + 30, label="Office"))))
    wait_for(lambda: sink.acks, timeout=5, message="the ack of the stored report")
    assert stored_rows(db_path) == {
        chrome: SessionRow(chrome, ALICE, CLIENT_IP, "alice", "pc1", "chrome", T0, T0 + 60),
        word: SessionRow(word, ALICE, CLIENT_IP, "alice", "pc1", "Office", T0, T0 + 30),
    }


def test_one_session_in_several_reports_is_written_once_with_its_latest_end(
        start_writer, store, sink, db_path) -> None:
    sid = new_sid(T0)
    writer = start_writer(store, sink)
    writer.submit(batch(*(report(seq, session(sid, T0 + end))
                          for seq, end in ((1, 60), (2, 120), (3, 90)))))
    wait_for(lambda: sink.acks, timeout=5, message="the ack of the batch")
    assert stored_rows(db_path)[sid].end == T0 + 120
    assert (writer.stats.reports, writer.stats.rows) == (3, 1)


def test_ack_names_every_committed_report_of_each_node(start_writer, store, sink) -> None:
    writer = start_writer(store, sink)
    writer.submit(batch(report(5), report(7), report(6), report(3, node=BOB)))
    wait_for(lambda: sink.acks, timeout=5, message="the ack of the batch")
    assert sink.acks == [{ALICE: [5, 7, 6], BOB: [3]}]


def test_the_measured_clock_offset_moves_session_times_to_the_hub_clock(
        start_writer, store, sink, db_path) -> None:
    sid = new_sid(T0)
    writer = start_writer(store, sink)
    writer.submit([Received(report(1, session(sid, T0 + 60)), CLIENT_IP, T0, clock_offset=-600.0)])
    wait_for(lambda: sink.acks, timeout=5, message="the ack of the report")
    row = stored_rows(db_path)[sid]
    assert (row.start, row.end) == (T0 - 600.0, T0 + 60 - 600.0)


def test_ack_is_released_only_once_the_rows_are_committed(start_writer, store, db_path) -> None:
    sid = new_sid(T0)
    sink = RowsAtAckSink(db_path)
    writer = start_writer(store, sink)
    writer.submit(batch(report(1, session(sid, T0 + 60))))
    wait_for(lambda: sink.acks, timeout=5, message="the ack of the report")
    assert [set(rows) for rows in sink.rows_at_ack] == [{sid}]


def test_owner_of_a_session_is_stored_as_its_user(start_writer, store, sink, db_path) -> None:
    owned, unowned = new_sid(T0), new_sid(T0)
    writer = start_writer(store, sink)
    writer.submit(batch(report(1, session(owned, T0 + 60, owner="root"), session(unowned, T0 + 60))))
    wait_for(lambda: sink.acks, timeout=5, message="the ack of the report")
    rows = stored_rows(db_path)
    assert (rows[owned].user, rows[unowned].user) == ("root", "alice")


def test_bye_marks_the_node_offline(start_writer, store, sink, reader) -> None:
    writer = start_writer(store, sink)
    writer.submit(batch(report(1)))
    wait_for(lambda: len(sink.acks) == 1, timeout=5, message="the ack of the report")
    assert [(n.node, n.online) for n in reader.nodes()] == [(ALICE, True)]
    writer.submit(batch(report(2, kind="bye")))
    wait_for(lambda: len(sink.acks) == 2, timeout=5, message="the ack of the bye")
    assert [(n.node, n.online) for n in reader.nodes()] == [(ALICE, False)]


def test_a_full_batch_is_flushed_without_waiting_for_the_timer(start_writer, store, sink) -> None:
    writer = start_writer(store, sink, flush_rows=3, flush_seconds=NEVER_BY_TIMER)
    writer.submit(batch(report(1, *(session(new_sid(T0), T0 + 60) for _ in range(3)))))
    wait_for(lambda: sink.acks, timeout=5, message="the ack of the full batch")
    assert writer.stats.rows == 3


# --- stopping -----------------------------------------------------------------------------------

def test_stop_flushes_what_is_pending_and_ends_the_thread(start_writer, store, sink, db_path) -> None:
    sid = new_sid(T0)
    writer = start_writer(store, sink, flush_seconds=NEVER_BY_TIMER)
    writer.submit(batch(report(4, session(sid, T0 + 60))))
    writer.stop(within=2.0)
    writer.join(5.0)
    assert not writer.is_alive()
    assert set(stored_rows(db_path)) == {sid}
    assert sink.acks == [{ALICE: [4]}]
    assert sink.closed.is_set()


def test_stop_gives_up_on_a_database_that_stays_locked(
        start_writer, impatient_store, write_lock, sink, caplog) -> None:
    writer = start_writer(impatient_store, sink)
    writer.submit(batch(report(1, session(new_sid(T0), T0 + 60))))
    wait_for(lambda: writer.stats.failures >= 1, timeout=5, message="a failed write")
    writer.stop(within=0.3)
    writer.join(5.0)
    assert not writer.is_alive()
    assert sink.acks == []
    assert sink.closed.is_set()
    assert any("not stored" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


# --- database outage ----------------------------------------------------------------------------

def test_reports_held_through_a_lock_are_stored_and_acked_once_it_is_released(
        start_writer, impatient_store, write_lock, sink, db_path, caplog) -> None:
    chrome, word = new_sid(T0), new_sid(T0)
    writer = start_writer(impatient_store, sink)
    writer.submit(batch(report(1, session(chrome, T0 + 60))))
    writer.submit(batch(report(2, session(word, T0 + 30, label="Office"), node=BOB)))
    wait_for(lambda: writer.stats.failures >= 2, timeout=5, message="two failed writes")
    assert sink.acks == []
    assert stored_rows(db_path) == {}

    write_lock.release()
    wait_for(lambda: sink.acks, timeout=5, message="the ack after the lock was released")
    assert sink.acks == [{ALICE: [1], BOB: [2]}]
    assert set(stored_rows(db_path)) == {chrome, word}
    # One line when the outage starts and one when it ends, not one per retry.
    writer_records = [r for r in caplog.records if r.name == "procmesh.hub.writer"]
    assert [r.levelno for r in writer_records] == [logging.ERROR, logging.WARNING]


def test_reports_repeated_during_a_lock_are_held_as_one_row_per_session(
        start_writer, impatient_store, write_lock, sink, db_path) -> None:
    sids = [new_sid(T0) for _ in range(5)]
    reports = [report(seq, *(session(sid, T0 + seq) for sid in sids)) for seq in range(1, 51)]
    writer = start_writer(impatient_store, sink)
    writer.submit(batch(reports[0]))
    wait_for(lambda: writer.stats.failures >= 1, timeout=5, message="a failed write")
    for later in reports[1:]:
        writer.submit(batch(later))
    wait_for(writer.inbox.empty, timeout=5, message="the writer to take every report")

    write_lock.release()
    wait_for(lambda: sink.acks, timeout=5, message="the ack after the lock was released")
    assert sink.acks == [{ALICE: list(range(1, 51))}]
    assert {sid: row.end for sid, row in stored_rows(db_path).items()} == {sid: T0 + 50 for sid in sids}
    assert (writer.stats.reports, writer.stats.rows) == (50, 5)


# --- rows the database refuses ------------------------------------------------------------------

UNENCODABLE = "bad\udc80label"  # a lone surrogate: no database driver can encode it


def test_a_row_the_database_refuses_is_dropped_and_the_rest_stored(
        start_writer, store, sink, db_path, caplog) -> None:
    good = [new_sid(T0) for _ in range(5)]
    bad = new_sid(T0)
    writer = start_writer(store, sink)
    writer.submit(batch(report(1, *(session(sid, T0 + 60) for sid in good)),
                        report(2, session(bad, T0 + 60, label=UNENCODABLE), node=BOB)))
    wait_for(lambda: sink.acks, timeout=15, message="the ack once the refused row is isolated")
    assert set(stored_rows(db_path)) == set(good)
    assert writer.stats.refused == 1
    assert sink.acks == [{ALICE: [1], BOB: [2]}]
    refusals = [r.getMessage() for r in caplog.records if "refuses this row" in r.getMessage()]
    assert len(refusals) == 1 and "bad" in refusals[0]


def test_a_database_that_refuses_every_row_loses_none_of_them(start_writer, store, sink, db_path) -> None:
    # The database itself refuses every write (as a revoked INSERT grant would): nothing it stores
    # tells good rows from bad, so nothing may be thrown away.
    with closing(sqlite3.connect(db_path)) as conn, conn:
        for table in ("records", "nodes"):
            conn.execute(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                         "BEGIN SELECT RAISE(ABORT, 'writes are refused'); END")
    writer = start_writer(store, sink)
    writer.submit(batch(report(1, session(new_sid(T0), T0 + 60), session(new_sid(T0), T0 + 60))))
    wait_for(lambda: writer.stats.failures >= REFUSALS_BEFORE_ISOLATING + 1, timeout=15,
             message="retries past the isolation attempt")
    assert (writer.stats.refused, sink.acks, stored_rows(db_path)) == (0, [], {})
    assert len(writer._pending.sessions) == 2
