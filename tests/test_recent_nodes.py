"""The hub's count of nodes (minute summary, open-files warning) is the nodes heard from in the
last 3 intervals: one that goes silent without a goodbye leaves it."""
from __future__ import annotations

import threading
import time

import zmq

from common.protocol import Report, encode_report
from hub.recent import RecentNodes
from tests.dbrows import raw_sql
from tests.hublog import summaries
from tests.waiting import wait_for


def test_a_silent_node_leaves_the_count_once_it_missed_three_intervals() -> None:
    nodes = RecentNodes(interval=5.0)
    assert nodes.heard("a", 100.0) and nodes.heard("b", 100.0)
    assert not nodes.heard("a", 110.0)
    assert nodes.count(115.0) == 2
    assert nodes.count(115.5) == 1        # b: silent for more than 3 x 5 s
    assert nodes.heard("b", 116.0)        # b back: it joins again
    nodes.left("a")                       # a said goodbye
    assert nodes.count(116.0) == 1


def report(node: str, seq: int) -> bytes:
    return encode_report(Report(node, node, "user", seq, time.time(), "", "test", "Linux"))


def test_the_summary_counts_a_node_killed_without_goodbye_only_until_it_missed_three_intervals(
        new_mesh, sqlite_url: str) -> None:
    mesh = new_mesh(sqlite_url, watch="anything\n", interval=0.5)
    hub = mesh.start_hub()
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.linger = 0
    push.connect(f"tcp://127.0.0.1:{mesh.report_port}")
    stop = threading.Event()

    def live_node() -> None:
        seq = 0
        while not stop.is_set():
            seq += 1
            push.send(report("live", seq))
            stop.wait(0.2)

    sender = threading.Thread(target=live_node)
    try:
        push.send(report("gone", 1))
        wait_for(lambda: ("gone",) in raw_sql(mesh.db_url, "SELECT node FROM nodes"), 15, "gone's report")
        heard = time.monotonic()   # the hub heard "gone" before this moment, and never again
        sender.start()             # "live" reports until the hub has stopped
        wait_for(lambda: time.monotonic() > heard + 3 * mesh.interval + 1.0, 10, "three intervals and more")
        assert hub.stop() == 0
    finally:
        stop.set()
        if sender.is_alive():
            sender.join()
        push.close()
        ctx.term()
    assert summaries(hub.log())[-1].nodes == 1
