"""A hub killed mid-run and started again loses nothing and splits nothing."""
from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.dbrows import last_seen, stored_sessions
from tests.processes import Mesh
from tests.simnodes import ALWAYS, BLINK, differences, start_sim
from tests.waiting import wait_for

NODES = 200
# Grace well above the interval, so a scan delayed by a busy machine does not end the "always"
# session; the blinking label stays away longer than grace, so its sessions really close.
INTERVAL, GRACE = 0.5, 4.0
BLINK_ON_OFF = "1.5,5"


@pytest.fixture
def mesh(new_mesh, sqlite_url: str) -> Mesh:
    return new_mesh(sqlite_url, watch=f"{ALWAYS}\n{BLINK}\n", interval=INTERVAL, grace=GRACE)


def all_nodes_seen_after(url: str, moment: float) -> bool:
    seen = last_seen(url)
    return len(seen) == NODES and min(seen.values()) > moment


def labels_stored(url: str) -> Counter[str]:
    return Counter(row.process for _, row in stored_sessions(url))


@pytest.mark.timeout(180)
def test_sigkilled_hub_restarted_on_the_same_database_loses_and_splits_nothing(mesh: Mesh) -> None:
    hub = mesh.start_hub()
    sim = start_sim(mesh, NODES, "--sockets", "4", "--blink", BLINK_ON_OFF)
    wait_for(lambda: all_nodes_seen_after(mesh.db_url, 0), 60, "every simulated node stored")
    # Closed sessions exist before the crash: some of them are unacknowledged when the hub dies.
    wait_for(lambda: labels_stored(mesh.db_url)[BLINK] >= NODES, 60, "blinking sessions stored")

    hub.kill()
    restarted = time.time()
    hub = mesh.start_hub()
    wait_for(lambda: all_nodes_seen_after(mesh.db_url, restarted), 60, "every node reporting again")
    # About one more blink cycle, so sessions also open and close on the new hub.
    blinks = labels_stored(mesh.db_url)[BLINK]
    wait_for(lambda: labels_stored(mesh.db_url)[BLINK] >= blinks + NODES, 60, "more blinking sessions")

    truth = sim.finish()
    assert truth.drained, "some closed sessions were never acknowledged"
    assert hub.stop() == 0
    stored = stored_sessions(mesh.db_url)
    assert differences(truth, stored) == []
    # One continuous session is one row: the label seen at every scan has one row per node...
    always = [row for _, row in stored if row.process == ALWAYS]
    assert sorted(row.node for row in always) == sorted(truth.nodes)
    # ... and it kept growing on the restarted hub.
    assert min(row.end for row in always) > restarted
    assert "Traceback" not in hub.log()
