"""Real node processes killed, or restarted while the hub is down: their sessions end where the node
last saw them, are never stretched by the hub, and reach the database once the hub is back."""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass

import pytest

from common.protocol import SessionState
from tests.dbrows import StoredSession, last_seen, stored_sessions
from tests.fakeapps import stop_fake_app, unique_name
from tests.processes import Mesh, Running
from tests.simnodes import millis
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def mesh(sqlite_mesh: Mesh) -> Mesh:
    return sqlite_mesh


def sessions_of(mesh: Mesh, label: str) -> dict[bytes, StoredSession]:
    return {sid: row for sid, row in stored_sessions(mesh.db_url) if row.process == label}


def stored_end(mesh: Mesh, label: str) -> float:
    return max((row.end for row in sessions_of(mesh, label).values()), default=0.0)


def end_of(mesh: Mesh, sid: bytes) -> float:
    row = dict(stored_sessions(mesh.db_url)).get(sid)
    return row.end if row else 0.0


def outbox(mesh: Mesh, node: str) -> list[SessionState]:
    """What the node keeps for the hub, read from its outbox file (see node/cli.py's node_file)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", node)
    paths = list((mesh.folder / "data" / "procmesh").glob(f"node-{safe}-*.outbox.sqlite"))
    if not paths:
        return []
    with closing(sqlite3.connect(paths[0])) as db:
        rows = db.execute("SELECT sid, label, start, end, open FROM sessions").fetchall()
    return [SessionState(sid, label, start, end, bool(is_open)) for sid, label, start, end, is_open in rows]


def outbox_end(mesh: Mesh, node: str, label: str) -> float:
    return max((s.end for s in outbox(mesh, node) if s.label == label), default=0.0)


def status_of(mesh: Mesh, node: str) -> dict:
    result = mesh.hub_cli("status", "--format", "json", "--interval", str(mesh.interval))
    assert result.returncode == 0, result.stderr
    return {n["node"]: n for n in json.loads(result.stdout)}[node]


def test_a_killed_node_leaves_its_sessions_as_last_reported_and_shows_offline(mesh: Mesh, fake_app) -> None:
    name = unique_name()
    fake_app(name)
    mesh.watch_file.write_text(f"{name}\n")
    mesh.start_hub()
    node = mesh.start_node("doomed")
    first = wait_for(lambda: stored_end(mesh, name), 30, "the session stored")
    wait_for(lambda: stored_end(mesh, name) > first, 10, "the session growing")
    assert status_of(mesh, "doomed")["online"] is True

    node.kill()
    killed = time.time()
    # The dead node's last word: what its last scan saved in the outbox, sent or not.
    last_scan = outbox_end(mesh, "doomed", name)
    # Watch the stored end over several intervals, however long the report in flight at the kill
    # takes to be stored: it never goes past what the node last saw.
    watch_until = killed + 8 * mesh.interval
    ends: list[float] = []
    wait_for(lambda: ends.append(stored_end(mesh, name)) or time.time() > watch_until, 30,
             "several intervals after the kill", interval=mesh.interval / 4)
    final = stored_end(mesh, name)
    assert millis(max(ends)) <= millis(final) <= millis(min(last_scan, killed)), "it grew after the kill"
    # The last report carried what the last scan saved in the outbox (unless the kill fell between
    # saving the outbox and sending, when the outbox is that one unsent scan ahead).
    assert millis(final) == millis(last_scan) or 0 < last_scan - final <= 2 * mesh.interval

    # Offline once three intervals have passed since its last report, which is its last for good.
    seen = last_seen(mesh.db_url)["doomed"]
    wait_for(lambda: time.time() > seen + 3 * mesh.interval, 10, "three intervals")
    assert status_of(mesh, "doomed")["online"] is False
    assert last_seen(mesh.db_url)["doomed"] == seen


@dataclass
class Orphan:
    """A node whose hub stopped while it watched a program; it scans on."""

    node: Running
    app: subprocess.Popen
    label: str
    stored_before: float  # the end of the program's session when the hub stopped


def orphan_node(mesh: Mesh, fake_app, node_id: str) -> Orphan:
    label = unique_name()
    app = fake_app(label)
    mesh.watch_file.write_text(f"{label}\n")
    hub = mesh.start_hub()
    node = mesh.start_node(node_id)
    wait_for(lambda: stored_end(mesh, label), 30, "the session stored")
    assert hub.stop() == 0
    before = stored_end(mesh, label)
    wait_for(lambda: outbox_end(mesh, node_id, label) > before + 1, 15, "scans after the hub left")
    return Orphan(node, app, label, before)


def test_closed_sessions_of_a_node_restarted_while_the_hub_is_down_are_stored_when_it_returns(
        mesh: Mesh, fake_app) -> None:
    orphan = orphan_node(mesh, fake_app, "patient")
    name, node, before = orphan.label, orphan.node, orphan.stored_before
    # The program ends and its session closes on the node.
    stop_fake_app(orphan.app)
    wait_for(lambda: [s.open for s in outbox(mesh, "patient")] == [False], 15, "the session closed")
    assert node.stop() == 0  # its bye cannot be delivered: the hub is down
    [closed] = outbox(mesh, "patient")
    assert closed.end > before

    mesh.start_node("patient").wait_log("not acknowledged yet")
    mesh.start_hub()
    wait_for(lambda: millis(stored_end(mesh, name)) == millis(closed.end), 30, "the closed session's end")
    assert list(sessions_of(mesh, name)) == [closed.sid]
    wait_for(lambda: outbox(mesh, "patient") == [], 15, "the outbox emptied by the ack")


def test_a_node_killed_while_the_hub_is_down_delivers_what_it_saw_after_restarting(
        mesh: Mesh, fake_app) -> None:
    orphan = orphan_node(mesh, fake_app, "crashy")
    name = orphan.label
    orphan.node.kill()
    [seen] = outbox(mesh, "crashy")
    assert seen.open  # killed: nothing closed it
    # Restarted within grace, the node would continue this session (tests/test_accounting_end_to_end.py); here
    # it comes back later, so the time in between was watched by nobody.
    wait_for(lambda: time.time() > seen.end + mesh.grace + mesh.interval, 10, "grace to pass")

    mesh.start_hub()
    mesh.start_node("crashy")
    wait_for(lambda: millis(end_of(mesh, seen.sid)) == millis(seen.end), 30,
             "the killed run's session with its last end")
    # The program still runs: the new run opens a new session, from its first scan.
    later = wait_for(lambda: [r for sid, r in sessions_of(mesh, name).items() if sid != seen.sid], 30,
                     "the new run's session")
    assert len(later) == 1 and later[0].start > seen.end + mesh.grace
