"""A thousand nodes, each with its own SUB and PUSH connection, reconnect to a restarted hub: every
one gets the watch list again (the XPUB welcome message) and resumes reporting."""
from __future__ import annotations

import statistics

import pytest
import zmq

from node.agent import _tune
from tests.dbrows import last_seen
from tests.hublog import first_time
from tests.processes import Mesh
from tests.simnodes import ALWAYS, start_sim
from tests.waiting import wait_for

SIM_PROCESSES = 2
NODES_EACH = 500
NODES = SIM_PROCESSES * NODES_EACH
# 500 reports/s in all: a busy lab, without drowning two cores in simulated traffic.
INTERVAL = 2.0
CONFIG_WITHIN = 10.0  # seconds after the hub is back


@pytest.fixture
def mesh(new_mesh, sqlite_url: str) -> Mesh:
    return new_mesh(sqlite_url, watch=f"{ALWAYS}\n", interval=INTERVAL, grace=30.0)


def reporting_since(url: str, moment: float) -> int:
    return sum(seen > moment for seen in last_seen(url).values())


@pytest.mark.timeout(180)
def test_a_thousand_nodes_get_the_config_and_report_again_after_a_hub_restart(mesh: Mesh) -> None:
    hub = mesh.start_hub()
    # One SUB and one PUSH per node, as real nodes have, with the nodes' own socket tuning.
    sims = [start_sim(mesh, NODES_EACH, "--sockets", str(NODES_EACH), name=f"storm{i}")
            for i in range(SIM_PROCESSES)]
    wait_for(lambda: reporting_since(mesh.db_url, 0) == NODES, 90, "every node reporting")

    assert hub.stop() == 0
    hub = mesh.start_hub()
    back = first_time(hub.log(), "hub listening")
    wait_for(lambda: reporting_since(mesh.db_url, back) == NODES, 60, "every node reporting again")

    truths = [sim.finish() for sim in sims]
    assert all(truth.drained for truth in truths)
    assert hub.stop() == 0
    delays = {}
    for truth in truths:
        for name, node in truth.nodes.items():
            after = [t for t in node.config_times if t >= back]
            assert after, f"{name} got no config from the restarted hub"
            delays[name] = after[0] - back
    assert len(delays) == NODES
    late = {name: round(delay, 2) for name, delay in delays.items() if delay > CONFIG_WITHIN}
    assert late == {}
    ordered = sorted(delays.values())
    print(f"time to config after the hub's return, {NODES} nodes: p50 {statistics.median(ordered):.2f} s, "
          f"p99 {ordered[int(0.99 * len(ordered)) - 1]:.2f} s, max {ordered[-1]:.2f} s")


def test_node_sockets_reconnect_after_different_delays() -> None:
    ctx = zmq.Context()
    sockets = [ctx.socket(zmq.SUB) for _ in range(20)]
    try:
        for sock in sockets:
            _tune(sock)
        intervals = [sock.getsockopt(zmq.RECONNECT_IVL) for sock in sockets]
        assert all(1000 <= ivl <= 3000 for ivl in intervals), intervals
        # Twenty sockets drawing the same delay from 2,001 is a broken randomisation, not bad luck.
        assert len(set(intervals)) > 1
        # libzmq's longest wait is the maximum plus a random part of the first interval: it must
        # stay under the 10 s in which a lab is to be back after a hub restart of any length.
        longest = max(sock.getsockopt(zmq.RECONNECT_IVL_MAX) + ivl for sock, ivl in zip(sockets, intervals))
        assert longest < 10_000
    finally:
        for sock in sockets:
            sock.close(linger=0)
        ctx.term()
