"""The node's durable outbox: a real SQLite file that outlives the node process."""
from __future__ import annotations

import logging
from pathlib import Path

import sqlite3
from contextlib import closing

from common.protocol import SessionState, make_config
from common.watchlist import WatchEntry
from node.clock import Reading
from node.continuity import Carry, CarriedSession
from node.outbox import Outbox
from node.sessions import Changes
from tests.processes import Mesh
from tests.waiting import wait_for

OPEN = SessionState(b"o" * 16, "chrome", 100.0, 160.0, True)
CLOSED = SessionState(b"c" * 16, "Office", 10.0, 20.0, False, "alice")
CARRY = Carry(Reading(160.0, 5000.25, 12.5),
              (CarriedSession(OPEN.sid, "chrome", None, 100.0, 160.0,
                              frozenset({(4242, 99.123456789), (4243, 99.5)})),))


def test_sessions_survive_closing_and_reopening(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "out.sqlite")
    outbox.save(Changes([OPEN, CLOSED], []))
    outbox.close()
    assert sorted(Outbox(tmp_path / "out.sqlite").load()) == sorted([OPEN, CLOSED])


def test_updates_replace_and_acknowledged_sessions_leave(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "out.sqlite")
    outbox.save(Changes([OPEN, CLOSED], []))
    later = OPEN._replace(end=200.0, open=False)
    outbox.save(Changes([later], [CLOSED.sid]))
    assert outbox.load() == [later]


def test_the_folder_is_created(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "a" / "b" / "out.sqlite")
    outbox.save(Changes([OPEN], []))
    assert outbox.load() == [OPEN]


def test_an_unreadable_file_is_moved_aside_and_replaced(tmp_path: Path, caplog) -> None:
    path = tmp_path / "out.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.ERROR, logger="procmesh.node"):
        outbox = Outbox(path)
    assert outbox.load() == []
    outbox.save(Changes([OPEN], []))
    assert outbox.load() == [OPEN]
    assert [p.name for p in tmp_path.iterdir() if ".unreadable-" in p.name]
    assert "unreadable" in caplog.text


def test_a_node_whose_data_folder_cannot_be_created_runs_and_reports_without_outbox(
        sqlite_mesh: Mesh, fake_app) -> None:
    mesh = sqlite_mesh
    name = mesh.watch_new_program(fake_app)
    mesh.start_hub()
    blocker = mesh.folder / "profile-is-a-file"
    blocker.write_text("")
    # A roaming or read-only profile: the data folder cannot be created, so the lock moves to the
    # runtime folder and the outbox is left out.
    env = {"XDG_DATA_HOME": str(blocker / "data"), "XDG_RUNTIME_DIR": str(mesh.folder / "run")}
    node = mesh.start_node("homeless", extra_env=env)
    node.wait_log("cannot use the outbox")
    wait_for(lambda: name in mesh.hub_cli("report", "--format", "csv").stdout, 30, "the session stored")
    assert list((mesh.folder / "run" / "procmesh").glob("node-homeless-*.lock"))
    assert node.stop() == 0
    assert "Traceback" not in node.log() and "node homeless stopped" in node.log()


def test_the_last_watch_list_is_kept_for_the_next_run(tmp_path: Path) -> None:
    config = make_config([WatchEntry("chrome", ("chrome",))], 5.0, 30.0, 3, 1_790_000_000.0)
    outbox = Outbox(tmp_path / "out.sqlite")
    assert outbox.load_config() is None
    outbox.save_config(config)
    outbox.save_config(config)
    outbox.close()
    assert Outbox(tmp_path / "out.sqlite").load_config() == config


def test_the_carry_survives_reopening_and_each_scan_replaces_it(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "out.sqlite")
    assert outbox.load_carry() is None
    outbox.save(Changes([OPEN], [], CARRY))
    outbox.close()
    outbox = Outbox(tmp_path / "out.sqlite")
    assert outbox.load_carry() == CARRY
    nothing_open = Carry(Reading(165.0, 5005.25, None), ())
    outbox.save(Changes([], [], nothing_open))
    assert outbox.load_carry() == nothing_open
    # Saving sessions alone (an ack, a stop) leaves the carry of the last scan as it was.
    outbox.save(Changes([OPEN._replace(open=False)], []))
    assert outbox.load_carry() == nothing_open


def test_an_outbox_of_an_earlier_release_opens_with_no_carry(tmp_path: Path) -> None:
    path = tmp_path / "out.sqlite"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE sessions (sid BLOB PRIMARY KEY, label TEXT NOT NULL, owner TEXT, "
                   "start REAL NOT NULL, end REAL NOT NULL, open INTEGER NOT NULL)")
        db.execute("INSERT INTO sessions (sid, label, start, end, open) VALUES (?, ?, ?, ?, ?)",
                   OPEN[:5])
    outbox = Outbox(path)
    assert outbox.load() == [OPEN] and outbox.load_carry() is None
    outbox.save(Changes([], [], CARRY))
    assert outbox.load_carry() == CARRY
