"""Two hubs on one MariaDB database, nodes reporting to both, one hub killed mid-run."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.dbrows import stored_sessions
from tests.fakeapps import stop_fake_app, unique_name
from tests.processes import Mesh, Running, start
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)


def start_node(folder: Path, node_id: str, hubs: list[Mesh]) -> Running:
    args = ["--node-id", node_id, "--log-level", "DEBUG"]
    for hub in hubs:
        args += ["--config-endpoint", f"tcp://127.0.0.1:{hub.config_port}",
                 "--report-endpoint", f"tcp://127.0.0.1:{hub.report_port}"]
    return start("node", args, folder, f"node-{node_id.replace('/', '-')}.log")


def ends_of(db_url: str, label: str) -> list[float]:
    """The end of every stored session of ``label``, one per row."""
    return [row.end for _, row in stored_sessions(db_url) if row.process == label]


def test_a_hub_killed_mid_run_loses_nothing_and_splits_no_session(
        tmp_path: Path, mariadb_url: str, fake_app) -> None:
    hub_a, hub_b = Mesh(tmp_path / "a", mariadb_url), Mesh(tmp_path / "b", mariadb_url)
    label = unique_name()
    for mesh in (hub_a, hub_b):
        mesh.folder.mkdir()
    hub_a.watch_file.write_text(f"{label}\n")
    # Both hubs read the same watch file, so they publish the same list and nodes never flip.
    hub_b.watch_file.symlink_to(hub_a.watch_file)
    nodes: list[Running] = []
    try:
        running_a, running_b = hub_a.start_hub(), hub_b.start_hub()
        app = fake_app(label)
        nodes = [start_node(tmp_path, node_id, [hub_a, hub_b]) for node_id in ("pc1/alice", "pc2/bob")]

        # Reports go round-robin: each hub hears from both nodes.
        for running in (running_a, running_b):
            for node_id in ("pc1/alice", "pc2/bob"):
                running.wait_log(f"node joined: {node_id}", timeout=20)
        wait_for(lambda: len(ends_of(mariadb_url, label)) == 2, 20, "one session per node")

        running_a.kill()
        killed_at = time.time()
        # Hub B alone takes over: the same two sessions keep growing, no new rows appear.
        wait_for(lambda: min(ends_of(mariadb_url, label)) > killed_at, 20,
                 "both sessions growing after hub A died")
        running_until = time.time()
        wait_for(lambda: min(ends_of(mariadb_url, label)) >= running_until, 20,
                 "both sessions recorded at a moment the program still ran")
        stop_fake_app(app)
        gone_at = time.time()
        for node in nodes:
            assert node.stop() == 0
        ends = ends_of(mariadb_url, label)
        assert len(ends) == 2
        # Each ends at the last scan that saw the program: after a moment it ran, never after it went
        # (the goodbye closes the sessions where they were last seen, not at the moment of the bye).
        assert all(running_until <= end <= gone_at for end in ends), (running_until, ends, gone_at)
        assert running_b.stop() == 0
        assert "Traceback" not in running_b.log() + "".join(node.log() for node in nodes)
    finally:
        for process in nodes:
            process.kill()
        hub_a.close()
        hub_b.close()
