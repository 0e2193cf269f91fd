"""Privacy and injection: what a node sends, and hostile text stored exactly as it was sent."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import pytest
import zmq

from common.ids import new_sid
from common.protocol import Report, SessionState, encode_report
from hub.storage import open_storage
from tests.fakeapps import unique_name
from tests.processes import Mesh, run_cli
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(90)

# Everything a report holds; README's "What leaves a desktop" lists the same.
REPORT_KEYS = {"v", "kind", "node", "host", "user", "seq", "sent", "cfg", "agent", "os", "sessions"}
HOSTILE = "Robert'); DROP TABLE records;-- \"q\" `b` \\ %s %(x)s ? :1 Ünï 😀🖥️"


@pytest.fixture
def mesh(tmp_path: Path, storage_url: str) -> Iterator[Mesh]:
    m = Mesh(tmp_path, storage_url)
    yield m
    m.close()


def test_a_node_sends_only_matched_labels_never_other_processes_or_command_lines(
        tmp_path: Path, sqlite_url: str, fake_app) -> None:
    watched, unwatched = unique_name(), unique_name()
    fake_app(watched, "3599.271828")
    fake_app(unwatched, "3598.314159")
    mesh = Mesh(tmp_path, sqlite_url)
    # Matched by its command line: the command line itself must still stay on the desktop.
    mesh.watch_file.write_text("Tool = cmd:*3599.271828*\n")
    mesh.start_hub()
    try:
        result = run_cli("node", *mesh.endpoints, "--once", "--node-id", "pc-01/alice", cwd=tmp_path)
    finally:
        mesh.close()
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == REPORT_KEYS
    assert [session[1] for session in report["sessions"]] == ["Tool"]
    for private in (watched, unwatched, "3599.271828", "3598.314159", str(tmp_path)):
        assert private not in result.stdout


def test_hostile_labels_hosts_and_ids_are_stored_verbatim(mesh: Mesh, fake_app) -> None:
    program = unique_name()
    fake_app(program)
    label, node_id = f"{HOSTILE} label", f"{HOSTILE}/{HOSTILE}"
    mesh.watch_file.write_text(f"{label} = {program}\n")
    mesh.start_hub()
    # Through the whole chain: watch file, config, a real node, its report, the database.
    mesh.start_node(node_id)
    # And a report from a script whose host and user names are hostile too.
    now = time.time()
    session = SessionState(new_sid(), HOSTILE, now - 5, now, True)
    send_plain(mesh.report_port, encode_report(
        Report(f"raw {HOSTILE}", f"host {HOSTILE}", f"user {HOSTILE}", 1, now, "", "test", "Linux",
               (session,)), "json"))

    def stored() -> tuple[set, set]:
        with open_storage(mesh.db_url) as storage:
            return ({row.key for row in storage.usage(None, None, ["computer", "user", "process"])},
                    {(n.node, n.computer, n.user) for n in storage.nodes()})

    wait_for(lambda: len(stored()[1]) == 2, 20, "both nodes stored")
    usage, nodes = stored()
    assert (f"host {HOSTILE}", f"user {HOSTILE}", HOSTILE) in usage
    assert label in {process for _, _, process in usage}
    assert (f"raw {HOSTILE}", f"host {HOSTILE}", f"user {HOSTILE}") in nodes
    assert node_id in {node for node, _, _ in nodes}


def send_plain(port: int, frame: bytes) -> None:
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.linger = 5000
    push.connect(f"tcp://127.0.0.1:{port}")
    try:
        push.send(frame)
    finally:
        push.close()
        ctx.term()
