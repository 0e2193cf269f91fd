"""What a number means, end to end: a real node process stopped, killed, frozen or put to sleep
around a running program, or told to watch a program that already runs, reporting to a real hub.
The stored rows of one program never overlap, and never count time nobody watched."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.dbrows import StoredSession, last_seen, stored_sessions
from tests.fakeapps import unique_name
from tests.processes import Mesh, Running
from tests.simnodes import millis
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)

# Long enough for a node to stop and start again on a busy machine.
RESTART_GRACE = 15.0


def rows_of(mesh: Mesh, label: str) -> list[StoredSession]:
    return sorted((row for _, row in stored_sessions(mesh.db_url) if row.process == label),
                  key=lambda row: row.start)


def watched_program(mesh: Mesh, fake_app, node_id: str, **node_options) -> tuple[str, float, Running]:
    """A program on the watch list, when it started, and a node that has reported it to the hub."""
    label = unique_name()
    app = fake_app(label)
    mesh.watch_file.write_text(f"{label}\n")
    mesh.start_hub()
    node = mesh.start_node(node_id, **node_options)
    reported_after(mesh, label, time.time())
    return label, psutil.Process(app.pid).create_time(), node


def reported_after(mesh: Mesh, label: str, moment: float, rows: int = 1) -> list[StoredSession]:
    """The program's rows once the latest one ends a few scans after ``moment``."""
    return wait_for(lambda: (found := rows_of(mesh, label)) and len(found) >= rows
                    and found[-1].end > moment + 2 * mesh.interval and found, 30,
                    f"{rows} row(s) reported after {moment:.1f}")


def assert_no_overlap(rows: list[StoredSession]) -> None:
    for row, following in zip(rows, rows[1:]):
        assert row.end <= following.start, rows


def test_a_node_restarted_while_a_program_runs_stores_one_session(new_mesh, storage_url: str,
                                                                  fake_app) -> None:
    mesh = new_mesh(storage_url, grace=RESTART_GRACE)
    label, created, node = watched_program(mesh, fake_app, "restarted")
    assert node.stop() == 0  # SIGTERM: the node says goodbye, its session closed
    stopped = time.time()
    mesh.start_node("restarted")
    [row] = reported_after(mesh, label, stopped)
    assert millis(row.start) == millis(created)

    report = mesh.hub_cli("report", "--by", "process", "--format", "json")
    assert report.returncode == 0, report.stderr
    [usage] = [r for r in json.loads(report.stdout) if r["process"] == label]
    # Counted once: never more than the time the program has been running.
    assert usage["sessions"] == 1 and usage["seconds"] <= time.time() - created


def test_a_killed_node_restarted_within_grace_continues_its_session(sqlite_mesh: Mesh, fake_app) -> None:
    mesh = sqlite_mesh
    mesh.grace = RESTART_GRACE
    label, created, node = watched_program(mesh, fake_app, "killed")
    node.kill()
    killed = time.time()
    mesh.start_node("killed")
    [row] = reported_after(mesh, label, killed)
    assert millis(row.start) == millis(created)


def test_a_node_restarted_after_more_than_grace_counts_from_its_first_scan(sqlite_mesh: Mesh,
                                                                           fake_app) -> None:
    mesh = sqlite_mesh
    label, _, node = watched_program(mesh, fake_app, "late")
    assert node.stop() == 0
    [before] = rows_of(mesh, label)
    wait_for(lambda: time.time() > before.end + mesh.grace + mesh.interval, 10, "grace to pass")
    restarted = time.time()
    mesh.start_node("late")
    rows = reported_after(mesh, label, restarted, rows=2)
    assert len(rows) == 2 and rows[0] == before
    assert_no_overlap(rows)
    assert rows[1].start >= restarted


def test_a_node_frozen_longer_than_grace_does_not_count_the_frozen_time(sqlite_mesh: Mesh,
                                                                       fake_app) -> None:
    mesh = sqlite_mesh
    label, _, node = watched_program(mesh, fake_app, "frozen")
    os.kill(node.proc.pid, signal.SIGSTOP)
    frozen = time.time()
    try:
        wait_for(lambda: time.time() > frozen + mesh.grace + mesh.interval, 10, "grace to pass")
    finally:
        thawed = time.time()
        os.kill(node.proc.pid, signal.SIGCONT)
    rows = reported_after(mesh, label, thawed, rows=2)
    assert len(rows) == 2
    assert_no_overlap(rows)
    assert rows[0].end <= frozen and millis(rows[1].start) >= millis(thawed)


def write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def test_a_suspend_shorter_than_grace_is_not_counted(sqlite_mesh: Mesh, fake_app) -> None:
    mesh = sqlite_mesh
    mesh.grace = RESTART_GRACE
    asleep_file = mesh.folder / "asleep-seconds"
    label, _, _ = watched_program(mesh, fake_app, "sleepy", asleep_file=asleep_file)
    # The node's asleep counter grows by a second: a suspend far shorter than grace.
    suspended = time.time()
    write_atomically(asleep_file, "1.0")
    rows = reported_after(mesh, label, suspended, rows=2)
    assert len(rows) == 2
    assert_no_overlap(rows)
    assert rows[0].end <= suspended and rows[1].start >= suspended


def test_a_label_added_while_its_program_runs_counts_from_the_scan_before_it_was_matched(
        sqlite_mesh: Mesh, fake_app) -> None:
    mesh = sqlite_mesh
    label = unique_name()
    app = fake_app(label)
    created = psutil.Process(app.pid).create_time()
    mesh.watch_file.write_text("nothing-to-see\n")
    mesh.start_hub()
    mesh.start_node("editor")
    # The node has scanned (a program first seen by a node's first scan counts from its start).
    wait_for(lambda: last_seen(mesh.db_url).get("editor"), 20, "a report from the node")
    wait_for(lambda: time.time() > created + 2 * mesh.interval, 10, "the program to run a while")
    edited = time.time()
    mesh.watch_file.write_text(f"nothing-to-see\n{label}\n")
    [row] = reported_after(mesh, label, edited)
    # Not from the program's start: from the last scan before the new list, at most one interval.
    assert row.start >= edited - mesh.interval
