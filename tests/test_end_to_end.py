"""A real hub and real node processes on loopback, watching real programs, storing to real databases."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import psutil
import pytest
import zmq

from common.ids import new_sid
from common.protocol import Report, SessionState, encode_report
from hub.storage import UsageRow, open_storage
from tests.dbrows import stored_online
from tests.fakeapps import unique_name
from tests.processes import Mesh, run_cli, start
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def mesh(new_mesh, storage_url: str) -> Mesh:
    return new_mesh(storage_url)


def usage(mesh: Mesh) -> dict[str, UsageRow]:
    with open_storage(mesh.db_url) as storage:
        return {row.key[0]: row for row in storage.usage(None, None, ["process"])}


def stored_end(mesh: Mesh, label: str) -> float:
    row = usage(mesh).get(label)
    return row.last if row else 0.0


def node_states(mesh: Mesh) -> dict[str, dict]:
    result = mesh.hub_cli("status", "--format", "json", "--interval", str(mesh.interval))
    assert result.returncode == 0, result.stderr
    return {n["node"]: n for n in json.loads(result.stdout)}


def test_programs_on_a_node_become_sessions_in_the_database(mesh: Mesh, fake_app) -> None:
    first, second = unique_name(), unique_name()
    early_program = fake_app(first)
    fake_app(second)
    created = psutil.Process(early_program.pid).create_time()
    mesh.watch_file.write_text(f"# lab list\n{first}\n")
    hub = mesh.start_hub()
    node = mesh.start_node("e2e-pc/alice")

    row = wait_for(lambda: usage(mesh).get(first), 20, "the first program's session")
    # The program ran before the node started: its session starts when the program did.
    assert abs(row.first - created) < 0.002

    # Editing the watch file reaches the running node, which starts tracking the new label.
    mesh.watch_file.write_text(f"# lab list\n{first}\nRenamed = {second}\n")
    wait_for(lambda: "Renamed" in usage(mesh), 20, "the label added by editing the watch file")
    hub.wait_log("config published")

    report = mesh.hub_cli("report", "--by", "process", "--format", "json")
    assert report.returncode == 0, report.stderr
    by_process = {r["process"]: r for r in json.loads(report.stdout)}
    assert set(by_process) == {first, "Renamed"}
    assert by_process[first]["seconds"] > 0
    table = mesh.hub_cli("report")
    assert first in table.stdout and "Renamed" in table.stdout

    status = node_states(mesh)["e2e-pc/alice"]
    assert status["online"] is True
    assert status["address"] == "127.0.0.1"

    last_end = stored_end(mesh, first)
    assert node.stop() == 0
    # The node's goodbye closes its sessions and marks it offline: the stored flag, which no
    # amount of silence changes (status would also call a silent node offline after 3 intervals).
    wait_for(lambda: stored_online(mesh.db_url)["e2e-pc/alice"] is False, 10, "node offline after bye")
    assert "node left: e2e-pc/alice" in hub.log()
    assert stored_end(mesh, first) >= last_end
    assert hub.stop() == 0
    assert "Traceback" not in hub.log() + node.log()


def test_nodes_started_before_and_after_the_hub_both_get_the_watch_list(sqlite_mesh: Mesh, fake_app) -> None:
    mesh = sqlite_mesh
    name = unique_name()
    fake_app(name)
    mesh.watch_file.write_text(f"{name}\n")
    early = mesh.start_node("early-node")
    early.wait_log("node early-node started")
    mesh.start_hub()
    # The late node reports in JSON, as a script in another language would; the hub detects it.
    mesh.start_node("late-node", "--codec", "json")
    # Both nodes report their own session of the same program.
    wait_for(lambda: (usage(mesh).get(name) or UsageRow((), 0, 0, 0, 0)).sessions == 2, 30,
             "one session from each node")
    states = node_states(mesh)
    assert states["early-node"]["config"] == states["late-node"]["config"] != ""


def test_a_broken_watch_file_keeps_the_last_good_list(sqlite_mesh: Mesh, fake_app) -> None:
    mesh = sqlite_mesh
    name, later = unique_name(), unique_name()
    fake_app(name)
    fake_app(later)
    mesh.watch_file.write_text(f"{name}\n")
    hub = mesh.start_hub()
    mesh.start_node("steady-node")
    wait_for(lambda: usage(mesh).get(name), 20, "the first session")

    mesh.watch_file.write_text(f"{name}\nbroken = re:(unclosed\n")
    hub.wait_log("line 2:")
    assert "keeping the previous list" in hub.log()
    # The node goes on recording with the list in force.
    end_before = stored_end(mesh, name)
    wait_for(lambda: stored_end(mesh, name) > end_before, 10, "sessions still growing")

    mesh.watch_file.write_text(f"{name}\n{later}\n")
    wait_for(lambda: later in usage(mesh), 20, "the repaired list applied")


def test_hub_writes_a_sample_watch_list_in_an_empty_folder(tmp_path: Path) -> None:
    mesh = Mesh(tmp_path, "sqlite:///procmesh.db")
    args = [a for a in mesh.hub_args() if a not in ("--watch", str(mesh.watch_file))]
    hub = start("hub", args, tmp_path, "hub.log")
    mesh.children.append(hub)
    try:
        hub.wait_log("hub listening")
        assert "wrote a commented sample" in hub.log()
        assert (tmp_path / "monitorProcesses.txt").read_text().startswith("# procmesh watch list")
        assert (tmp_path / "procmesh.db").exists()
        assert hub.stop() == 0
    finally:
        mesh.close()


def test_malformed_frames_are_dropped_and_valid_reports_still_stored(sqlite_mesh: Mesh) -> None:
    mesh = sqlite_mesh
    mesh.watch_file.write_text("anything\n")
    hub = mesh.start_hub()
    now = time.time()
    good = Report("script-node", "lab-7", "bob", 1, now, "", "test", "Linux",
                  (SessionState(new_sid(), "painter", now - 30, now, True),))
    garbage = [b"", b"\xc1", b"{]", b"\x91" * 50_000, b"x" * (2 << 20),
               encode_report(good).replace(b"painter", b"paint\xff\xfe")]
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.linger = 2000
    push.connect(f"tcp://127.0.0.1:{mesh.report_port}")
    try:
        for frame in garbage:
            push.send(frame)
        # An oversized frame makes libzmq drop that connection: the valid report uses a fresh one.
        second = ctx.socket(zmq.PUSH)
        second.linger = 2000
        second.connect(f"tcp://127.0.0.1:{mesh.report_port}")
        second.send(encode_report(good, "json"))
        second.close()
    finally:
        push.close()
        ctx.term()
    wait_for(lambda: "painter" in usage(mesh), 10, "the valid report stored")
    assert "dropped a report (undecodable" in hub.log()
    assert hub.proc.poll() is None
    assert hub.stop() == 0


def test_a_second_node_for_the_same_user_exits_quietly(sqlite_mesh: Mesh) -> None:
    mesh = sqlite_mesh
    mesh.watch_file.write_text("anything\n")
    first = mesh.start_node("only-once")
    first.wait_log("node only-once started")
    second = mesh.start_node("only-once")
    assert second.proc.wait(15) == 0
    assert "already running" in second.log()
    assert first.proc.poll() is None


def test_once_prints_what_would_be_reported(sqlite_mesh: Mesh, fake_app) -> None:
    mesh = sqlite_mesh
    name = unique_name()
    fake_app(name)
    mesh.watch_file.write_text(f"Tool = {name}\n")
    mesh.start_hub()
    result = run_cli("node", *mesh.endpoints, "--once", "--node-id", "once-node", cwd=mesh.folder)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["node"] == "once-node"
    assert [s[1] for s in report["sessions"]] == ["Tool"]
    # --once only looks: nothing reaches the database.
    assert "Tool" not in usage(mesh)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP exists on POSIX only")
def test_sighup_republishes_the_watch_list(sqlite_mesh: Mesh) -> None:
    mesh = sqlite_mesh
    mesh.watch_file.write_text("anything\n")
    hub = mesh.start_hub()
    hub.proc.send_signal(signal.SIGHUP)
    hub.wait_log("config published: version 2")
    assert hub.stop() == 0
