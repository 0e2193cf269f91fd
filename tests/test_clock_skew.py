"""Nodes whose clocks are ten minutes off still yield sessions on the hub's clock."""
from __future__ import annotations

import time

import psutil
import pytest
import zmq

from common.ids import new_sid
from common.protocol import Report, SessionState, encode_report
from hub.clock import DOUBTFUL_SKEW, TRUSTED_SKEW
from tests.dbrows import last_seen, stored_sessions
from tests.fakeapps import stop_fake_app, unique_name
from tests.processes import Mesh
from tests.simnodes import millis
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)

SHIFTS = {"ahead": 600.0, "behind": -600.0}
TOLERANCE = 1.0  # seconds
TOO_DEEP = b"\x91" * 2000 + b"\xc0"
FIRST_BACKLOG_FRAMES = 15_000
# The rule under test decides only for delays between TRUSTED_SKEW and DOUBTFUL_SKEW: aim between.
AIMED_DELAY = 2.0
ATTEMPTS = 4


def ends_by_node(mesh: Mesh, label: str) -> dict[str, float]:
    return {row.node: row.end for _, row in stored_sessions(mesh.db_url) if row.process == label}


def test_sessions_of_nodes_with_skewed_clocks_are_stored_on_the_hub_clock(sqlite_mesh: Mesh, fake_app) -> None:
    mesh = sqlite_mesh
    name = unique_name()
    app = fake_app(name)
    started = psutil.Process(app.pid).create_time()  # this machine's clock is the hub's
    mesh.watch_file.write_text(f"{name}\n")
    hub = mesh.start_hub()
    for node, shift in SHIFTS.items():
        mesh.start_node(node, clock_shift=shift)
    wait_for(lambda: len(ends_by_node(mesh, name)) == len(SHIFTS), 30, "a session from each node")

    # The last scan that saw the program came after each node's latest report stored now...
    seen_alive = last_seen(mesh.db_url)
    stop_fake_app(app)
    gone = time.time()  # ... and before this.
    # Wait for a report made after the program ended: from then on the sessions' ends are final.
    wait_for(lambda: all(t > gone + 2 * mesh.interval for t in last_seen(mesh.db_url).values()), 30,
             "reports from both nodes after the program ended")

    stored = {row.node: row for _, row in stored_sessions(mesh.db_url) if row.process == name}
    for node in SHIFTS:
        row = stored[node]
        assert abs(row.start - started) < TOLERANCE, (node, row.start - started)
        assert seen_alive[node] - TOLERANCE < row.end < gone + TOLERANCE, (node, row.end - gone)
        print(f"node {node}: start {row.start - started:+.3f} s from the program's start, "
              f"end {row.end - gone:+.3f} s from its end")
    log = hub.log()
    assert "node ahead: its clock is 600" in log and "node behind: its clock is 600" in log


def delayed_first_report(mesh: Mesh, node: str, backlog: int) -> tuple[float, float]:
    """Send ``backlog`` frames the hub must read and drop, then a node's first report, from this
    machine's clock (the hub's). Returns when the report was sent, and how long it waited in the
    hub's queue: the hub's receive time, which it stores as the node's last-seen time, minus that."""
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.linger = 30_000
    push.connect(f"tcp://127.0.0.1:{mesh.report_port}")
    # Each frame is nested too deep to decode, which the hub finds out only after ~0.1 ms of work.
    for _ in range(backlog):
        push.send(TOO_DEEP)
    now = time.time()
    report = Report(node, "pc", "u", 1, now, "", "test", "Linux",
                    (SessionState(new_sid(), "app", now - 10.0, now, True),))
    push.send(encode_report(report))
    push.close()
    ctx.term()
    received = wait_for(lambda: last_seen(mesh.db_url).get(node), 60, f"{node}'s report stored")
    return now, received - now


def test_a_first_report_delayed_in_the_hubs_queue_is_not_taken_for_clock_skew(sqlite_mesh: Mesh) -> None:
    mesh = sqlite_mesh
    mesh.watch_file.write_text("anything\n")
    mesh.start_hub()
    # A backlog, as after a hub restart under load. How long the hub takes to read it depends on the
    # machine, so the backlog is scaled until the report's wait falls where the rule decides.
    backlog, delays = FIRST_BACKLOG_FRAMES, []
    for attempt in range(ATTEMPTS):
        node = f"punctual-{attempt}"
        sent, delay = delayed_first_report(mesh, node, backlog)
        delays.append(round(delay, 2))
        if TRUSTED_SKEW <= delay < DOUBTFUL_SKEW:
            break
        backlog = int(backlog * AIMED_DELAY / max(delay, 0.05))
    else:
        pytest.fail(f"no backlog made a delay between {TRUSTED_SKEW} and {DOUBTFUL_SKEW} s: {delays}")
    print(f"the first report waited {delay:.2f} s in the hub's queue (backlog of {backlog} frames)")
    [row] = wait_for(lambda: [row for _, row in stored_sessions(mesh.db_url) if row.node == node], 30,
                     f"{node}'s session stored")
    # The sender's clock is the hub's: nothing to correct, although the report arrived late.
    assert (millis(row.start), millis(row.end)) == (millis(sent - 10.0), millis(sent)), row.end - sent
