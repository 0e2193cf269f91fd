"""A node started while the hub is down watches with the list its previous run got from the hub."""
from __future__ import annotations

import time

import psutil
import pytest

from hub.storage import open_storage
from tests.fakeapps import unique_name
from tests.processes import Mesh
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(90)


def first_start(mesh: Mesh, label: str) -> float | None:
    with open_storage(mesh.db_url) as storage:
        rows = storage.usage(None, None, ["process"])
    return next((row.first for row in rows if row.key == (label,)), None)


def test_usage_while_the_hub_is_down_is_recorded_with_the_cached_list(sqlite_mesh: Mesh, fake_app) -> None:
    mesh = sqlite_mesh
    label = unique_name()
    mesh.watch_file.write_text(f"{label}\n")
    hub = mesh.start_hub()
    node = mesh.start_node("cache-pc/alice")
    node.wait_log("applied config")
    assert node.stop() == 0
    assert hub.stop() == 0

    # The hub is down: the node's next run has only its cached list to go by.
    node = mesh.start_node("cache-pc/alice")
    node.wait_log("watching with the list of the previous run")
    app = fake_app(label)
    started = psutil.Process(app.pid).create_time()
    # A process is created under its parent's name and takes its own at exec: a scan in between
    # cannot match it, and the next one counts it from that scan, the first that could have.
    wait_for(lambda: psutil.Process(app.pid).name() == label, 10, "the program under its name")
    named = time.time()
    # Two scans see the program while no hub listens; their reports go nowhere.
    unsent = node.log().count("not sent")
    wait_for(lambda: node.log().count("not sent") >= unsent + 2, 10, "two scans with the hub down")
    hub = mesh.start_hub()
    start = wait_for(lambda: first_start(mesh, label), 20, "the session seen while the hub was down")
    assert started - 0.001 <= start <= named
    assert node.stop() == 0
    assert hub.stop() == 0
