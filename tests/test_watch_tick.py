"""The hub's tick: changes that raise no file-system event where the hub watches (a network share
edited from another computer, the target of a symlinked watch file, a watch the system refused)
reach the nodes within one tick. The tests shorten the tick through Hub's constructor."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.keys import allow, init_hub_keys
from node.keys import init_node_keys
from tests.dbrows import raw_sql
from tests.hubthread import ConfigListener, hub_thread
from tests.processes import Mesh, free_port, start
from tests.sandbox import without_inotify
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(60)

TICK = 0.5


def relink(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` in one step, as deployment tools switch a release."""
    fresh = link.with_name(link.name + ".new")
    fresh.symlink_to(target)
    os.replace(fresh, link)


def test_a_symlinked_watch_file_follows_its_links_as_they_are_now(tmp_path: Path, sqlite_url: str) -> None:
    releases = tmp_path / "releases"
    for release, text in (("v1", "chrome\n"), ("v2", "chrome\nfirefox\n")):
        (releases / release).mkdir(parents=True)
        (releases / release / "list.txt").write_text(text)
    current = releases / "current"
    current.symlink_to(releases / "v1")
    (tmp_path / "hub").mkdir()
    watch = tmp_path / "hub" / "monitorProcesses.txt"
    watch.symlink_to(current / "list.txt")
    with hub_thread(watch, sqlite_url, TICK) as endpoint:
        listener = ConfigListener(endpoint)
        try:
            wait_for(lambda: listener.labels() == ["chrome"], 10, "the first list")
            # Nothing changes in the hub's folder: the release link elsewhere moves to v2.
            relink(current, releases / "v2")
            wait_for(lambda: listener.labels() == ["chrome", "firefox"], 10, "the list of the new release")
            # An edit in place, in a folder the hub does not watch (as on a share edited elsewhere).
            (releases / "v2" / "list.txt").write_text("chrome\nfirefox\nzoom\n")
            wait_for(lambda: listener.labels() == ["chrome", "firefox", "zoom"], 10, "the edited list")
        finally:
            listener.close()


def test_the_command_line_hub_runs_where_inotify_is_refused(sqlite_mesh: Mesh) -> None:
    mesh = sqlite_mesh
    mesh.watch_file.write_text("anything\n")
    hub = mesh.start_hub(wrapper=without_inotify())
    assert (f"cannot watch {mesh.folder} for changes (inotify instance limit reached): "
            "the watch list is re-read every 30 s instead") in hub.log()
    assert hub.stop() == 0
    assert "Traceback" not in hub.log()


def test_where_inotify_is_refused_the_tick_still_brings_watch_list_and_allow_list_changes(
        tmp_path: Path, sqlite_url: str) -> None:
    keys, node_keys = tmp_path / "keys", tmp_path / "node-keys"
    init_hub_keys(keys, force=False)
    init_node_keys(node_keys, "pc-late", force=False)
    watch = tmp_path / "monitorProcesses.txt"
    watch.write_text("anything\n")
    config_port, report_port = free_port(), free_port()
    hub = start("tests.hubthread", ["--tick", str(TICK), "--watch", str(watch), "--db", sqlite_url,
                                    "--config-endpoint", f"tcp://127.0.0.1:{config_port}",
                                    "--report-endpoint", f"tcp://127.0.0.1:{report_port}",
                                    "--curve", str(keys)],
                tmp_path, "hub.log", wrapper=without_inotify())
    node = start("node", ["--config-endpoint", f"tcp://127.0.0.1:{config_port}",
                          "--report-endpoint", f"tcp://127.0.0.1:{report_port}", "--node-id", "pc-late/dora",
                          "--hub-key", str(keys / "hub.key"), "--keys-dir", str(node_keys),
                          "--auth-retry", "1", "--log-level", "DEBUG"], tmp_path, "node.log")
    try:
        hub.wait_log("hub listening")
        for folder, what in ((tmp_path, "the watch list is re-read"),
                             (keys / "allowed", "the allow-list is checked")):
            assert f"cannot watch {folder} for changes (inotify instance limit reached): {what}" in hub.log()
        node.wait_log("denied this node's key")

        allow(keys, [str(node_keys / "node.key")])
        wait_for(lambda: raw_sql(sqlite_url, "SELECT node FROM nodes") == [("pc-late/dora",)], 20,
                 "the node's reports once its key is allowed")
        watch.write_text("anything\nsomething\n")
        node.wait_log("2 labels")
        assert hub.stop() == 0
        assert "Traceback" not in hub.log()
    finally:
        node.kill()
        hub.kill()
