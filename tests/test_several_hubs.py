"""Two hubs on one MariaDB database, nodes reporting to both, one hub killed mid-run."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from hub.storage import open_storage
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


def sessions_of(db_url: str, label: str) -> tuple[int, float]:
    """How many sessions of ``label`` are stored, and their latest end."""
    with open_storage(db_url) as storage:
        rows = [row for row in storage.usage(None, None, ["process"]) if row.key == (label,)]
    return (rows[0].sessions, rows[0].last) if rows else (0, 0.0)


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
        wait_for(lambda: sessions_of(mariadb_url, label)[0] == 2, 20, "one session per node")

        running_a.kill()
        killed_at = time.time()
        # Hub B alone takes over: the same two sessions keep growing, no new rows appear.
        wait_for(lambda: sessions_of(mariadb_url, label)[1] > killed_at + 4 * hub_a.interval, 20,
                 "sessions still growing after hub A died")
        stop_fake_app(app)
        gone_at = time.time()
        for node in nodes:
            assert node.stop() == 0
        count, last_end = sessions_of(mariadb_url, label)
        assert count == 2
        # The sessions end at the last scan that saw the program, one interval before it went at most.
        assert gone_at - hub_a.interval - 0.5 <= last_end <= gone_at
        assert running_b.stop() == 0
        assert "Traceback" not in running_b.log() + "".join(node.log() for node in nodes)
    finally:
        for process in nodes:
            process.kill()
        hub_a.close()
        hub_b.close()
