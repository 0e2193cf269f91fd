"""CURVE end to end: a real hub with --curve, real nodes with and without keys, on loopback."""
from __future__ import annotations

import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import zmq

from common.curve import KeyPair, read_key_file
from common.ids import new_sid
from common.protocol import Report, SessionState, encode_report
from hub.keys import allow, init_hub_keys, revoke
from hub.storage.timefmt import from_text
from node.keys import init_node_keys
from tests.fakeapps import unique_name
from tests.hublog import summaries
from tests.processes import Mesh, Running, start
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(90)


@dataclass
class CurveLab:
    """A mesh whose hub has a key pair; nodes get key pairs of their own on request."""

    mesh: Mesh
    label: str

    @property
    def keys(self) -> Path:
        return self.mesh.folder / "keys"

    def start_hub(self, *extra: str) -> Running:
        hub = start("hub", [*self.mesh.hub_args(), "--curve", "--keys-dir", str(self.keys), *extra],
                    self.mesh.folder, f"hub-{len(self.mesh.children)}.log")
        self.mesh.children.append(hub)
        hub.wait_log("hub listening")
        return hub

    def node_keys(self, name: str, allowed: bool) -> Path:
        folder = self.mesh.folder / f"node-keys-{name}"
        init_node_keys(folder, name, force=False)
        if allowed:
            allow(self.keys, [str(folder / "node.key")])
        return folder

    def start_node(self, node_id: str, keys: Path | None, *extra: str) -> Running:
        curve = ["--hub-key", str(self.keys / "hub.key"), "--keys-dir", str(keys)] if keys else []
        return self.mesh.start_node(node_id, *curve, "--auth-retry", "1", *extra)

    def stored(self) -> set[tuple[str, str]]:
        """(node, process) of every stored session."""
        path = self.mesh.db_url.removeprefix("sqlite:///")
        if not Path(path).exists():
            return set()
        with sqlite3.connect(path) as conn:
            return set(conn.execute("SELECT node, process FROM records"))

    def stored_nodes(self) -> set[str]:
        return {node for node, _ in self.stored()}

    def computers(self) -> set[tuple[str, str]]:
        """(node, computerName) of every stored session and of every row of ``nodes``."""
        path = self.mesh.db_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            return set(conn.execute("SELECT node, computerName FROM records UNION "
                                    "SELECT node, computerName FROM nodes"))

    def assert_only_stored(self, node: str) -> None:
        """Wait for ``node``'s session, let it report a second longer, then nobody else may be stored."""
        wait_for(lambda: (node, self.label) in self.stored(), 20, f"a session of {node}")
        # Meanwhile the other nodes have had every chance to report as well.
        first_end = self.stored_end(node)
        wait_for(lambda: self.stored_end(node) >= first_end + 1, 10, f"more reports of {node}")
        assert self.stored_nodes() == {node}

    def stored_end(self, node: str) -> float:
        path = self.mesh.db_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            (end,) = conn.execute("SELECT MAX(endTime) FROM records WHERE node = ?", (node,)).fetchone()
        return 0.0 if end is None else from_text(end)


@pytest.fixture
def lab(tmp_path: Path, sqlite_url: str, fake_app) -> Iterator[CurveLab]:
    label = unique_name()
    fake_app(label)
    mesh = Mesh(tmp_path, sqlite_url)
    mesh.watch_file.write_text(f"{label}\n")
    init_hub_keys(tmp_path / "keys", force=False)
    yield CurveLab(mesh, label)
    mesh.close()


def public_key(folder: Path) -> str:
    return read_key_file(folder / "node.key").public.decode()


def test_an_allowed_node_is_stored_and_an_unknown_key_is_denied_and_logged(lab: CurveLab) -> None:
    good = lab.node_keys("pc-good", allowed=True)
    stranger = lab.node_keys("pc-stranger", allowed=False)
    hub = lab.start_hub()
    lab.start_node("pc-good/alice", good)
    denied = lab.start_node("pc-stranger/bob", stranger)

    hub.wait_log(f"denied a node key that is not allowed: {public_key(stranger)} from 127.0.0.1")
    denied.wait_log("denied this node's key")
    assert f"procmesh-hub keys allow '{public_key(stranger)}' --name pc-stranger" in denied.log()
    lab.assert_only_stored("pc-good/alice")
    # The computer is the name the key was made and allowed for, not this machine's host name.
    assert lab.computers() == {("pc-good/alice", "pc-good")}


def test_a_plaintext_node_against_a_curve_hub_stores_nothing(lab: CurveLab) -> None:
    good = lab.node_keys("pc-good", allowed=True)
    lab.start_hub()
    lab.start_node("pc-good/alice", good)
    plain = lab.start_node("pc-plain/carl", None)
    plain.wait_log("requires CURVE encryption")
    lab.assert_only_stored("pc-good/alice")


def test_a_denied_node_reports_once_allowed_without_a_restart(lab: CurveLab) -> None:
    late = lab.node_keys("pc-late", allowed=False)
    hub = lab.start_hub()
    node = lab.start_node("pc-late/dora", late)
    node.wait_log("denied this node's key")
    hub.wait_log("denied a node key")

    allow(lab.keys, [str(late / "node.key")])
    hub.wait_log("added pc-late")
    # With the default auth_retry of 60 s this takes about a minute; the test uses 1 s.
    wait_for(lambda: ("pc-late/dora", lab.label) in lab.stored(), 30, "the late node's session")
    assert "accepted this node's key" in node.log()
    assert node.proc.poll() is None and "Traceback" not in node.log()


def test_a_revoked_key_stops_being_stored(lab: CurveLab) -> None:
    a, b = lab.node_keys("pc-a", allowed=True), lab.node_keys("pc-b", allowed=True)
    hub = lab.start_hub()
    lab.start_node("pc-a/alice", a)
    lab.start_node("pc-b/bob", b)
    wait_for(lambda: lab.stored_nodes() == {"pc-a/alice", "pc-b/bob"}, 20, "both nodes stored")

    revoke(lab.keys, ["pc-a"])
    # The node stays connected (ZAP only runs at connection time): its reports are dropped.
    hub.wait_log("dropped a report (key-revoked: report for 'pc-a/alice'")
    revoked_at = time.time()
    # pc-b, still allowed, keeps being stored: proof that reports after the revocation were written.
    wait_for(lambda: lab.stored_end("pc-b/bob") > revoked_at + 1, 15, "pc-b stored after the revocation")
    assert lab.stored_end("pc-a/alice") < revoked_at
    assert "removed pc-a" in hub.log()


def test_a_report_for_another_nodes_id_is_dropped(lab: CurveLab) -> None:
    folder = lab.node_keys("pc-a", allowed=True)
    hub = lab.start_hub()
    pair = read_key_file(folder / "node.key_secret", need_secret=True)
    hub_key = read_key_file(lab.keys / "hub.key").public
    now = time.time()

    def report(node: str) -> bytes:
        session = SessionState(new_sid(), lab.label, now - 10, now, True)
        return encode_report(Report(node, "pc-a", "mallory", 1, now, "", "test", "Linux", (session,)))

    send_with_key(pair, hub_key, lab.mesh.report_port,
                  # Another PC, a PC whose name merely starts alike, a bare other name, then its own.
                  [report("pc-b/alice"), report("pc-ab/alice"), report("pc-b"), report("pc-a/mallory")])
    wait_for(lambda: "pc-a/mallory" in lab.stored_nodes(), 15, "the key's own report stored")
    assert lab.stored_nodes() == {"pc-a/mallory"}
    assert "dropped a report (node-not-owned: report for 'pc-b/alice' from the key of 'pc-a'" in hub.log()


def test_the_computer_stored_is_the_keys_name_and_a_report_claiming_another_is_dropped(
        lab: CurveLab) -> None:
    folder = lab.node_keys("pc-a", allowed=True)
    hub = lab.start_hub()
    pair = read_key_file(folder / "node.key_secret", need_secret=True)
    hub_key = read_key_file(lab.keys / "hub.key").public
    now = time.time()

    def report(node: str, host: str) -> bytes:
        session = SessionState(new_sid(), lab.label, now - 10, now, True)
        return encode_report(Report(node, host, "mallory", 1, now, "", "test", "Linux", (session,)))

    send_with_key(pair, hub_key, lab.mesh.report_port,
                  # Its own node id, but another computer; then a Windows PC naming itself in capitals.
                  [report("pc-a/mallory", "bob-pc"), report("PC-A/alice", "PC-A")])
    wait_for(lambda: "PC-A/alice" in lab.stored_nodes(), 15, "the key's own report stored")
    assert lab.computers() == {("PC-A/alice", "pc-a")}
    assert "dropped a report (host-not-owned: report with host 'bob-pc' from the key of 'pc-a'" in hub.log()
    assert hub.stop() == 0
    dropped: Counter[str] = Counter()
    for summary in summaries(hub.log()):
        dropped.update(summary.drops)
    assert dropped == {"host-not-owned": 1}


def test_accept_any_node_encrypts_but_admits_every_key(lab: CurveLab) -> None:
    anyone = lab.node_keys("pc-anyone", allowed=False)
    hub = lab.start_hub("--accept-any-node")
    lab.start_node("whatever/eve", anyone)
    wait_for(lambda: ("whatever/eve", lab.label) in lab.stored(), 20, "the unlisted node's session")
    assert f"admitted a new node key {public_key(anyone)} from 127.0.0.1" in hub.log()


def send_with_key(pair: KeyPair, hub_key: bytes, port: int, frames: list[bytes]) -> None:
    """Send frames over one CURVE connection, in order, as a node with ``pair`` would."""
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.linger = 5000
    push.curve_serverkey = hub_key
    push.curve_publickey = pair.public
    push.curve_secretkey = pair.secret
    push.connect(f"tcp://127.0.0.1:{port}")
    try:
        for frame in frames:
            push.send(frame)
    finally:
        push.close()
        ctx.term()
