"""'No hub reachable' from connect and disconnect events: once after the wait, once when a hub is
back; with an injected clock, and with real sockets and a port that starts listening later."""
from __future__ import annotations

import logging

import zmq

from node.handshake import HubLinks, Reachability
from tests.processes import free_port
from tests.waiting import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_no_hub_for_the_whole_wait_is_said_once(caplog) -> None:
    clock = Clock()
    reach = Reachability(["tcp://hub:8805", "tcp://hub:8806"], after=120, clock=clock)
    with caplog.at_level(logging.INFO, logger="procmesh.node"):
        clock.now = 119
        reach.check()
        assert messages(caplog) == []
        clock.now = 180
        reach.check()
        clock.now = 900
        reach.check()
    [line] = messages(caplog)
    assert line.startswith("no hub reachable at tcp://hub:8805, tcp://hub:8806 for 3 minutes")


def test_a_hub_coming_back_is_said_once_and_the_wait_starts_again(caplog) -> None:
    clock = Clock()
    reach = Reachability(["tcp://hub:8805"], after=120, clock=clock)
    with caplog.at_level(logging.INFO, logger="procmesh.node"):
        reach.connected("sub", "tcp://hub:8805")
        clock.now = 1000
        reach.check()
        assert messages(caplog) == []           # connected all along
        reach.disconnected("sub", "tcp://hub:8805")
        clock.now = 1100
        reach.check()
        assert messages(caplog) == []           # down for 100 s only
        clock.now = 1300
        reach.check()
        reach.connected("sub", "tcp://hub:8805")
        reach.connected("push", "tcp://hub:8806")
    assert [m.split(":")[0] for m in messages(caplog)] == ["no hub reachable at tcp", "a hub is reachable again at tcp"]
    assert "after 5 minutes without any" in messages(caplog)[1]


def test_one_hub_of_two_still_up_is_not_unreachable(caplog) -> None:
    clock = Clock()
    reach = Reachability(after=120, clock=clock)
    reach.connected("push", "tcp://hub-a:8806")
    reach.connected("push", "tcp://hub-b:8806")
    reach.disconnected("push", "tcp://hub-a:8806")
    clock.now = 1000
    with caplog.at_level(logging.INFO, logger="procmesh.node"):
        reach.check()
        assert messages(caplog) == []
        reach.forget("push")                     # the socket was replaced: its connections are gone
        clock.now = 1200
        reach.check()
    assert len(caplog.records) == 1 and "no hub reachable" in messages(caplog)[0]


def test_real_sockets_a_missing_hub_then_its_arrival(caplog) -> None:
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    links = HubLinks(reachability=Reachability([endpoint], after=0.3))
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    push = ctx.socket(zmq.PUSH)
    push.linger = 0
    push.reconnect_ivl = 100
    links.prepare(push)
    push.connect(endpoint)
    pull = None
    try:
        with caplog.at_level(logging.INFO, logger="procmesh.node"):
            wait_for(lambda: links.poll(sub, 0.05) or "no hub reachable" in caplog.text, 10,
                     "the no-hub line")
            pull = ctx.socket(zmq.PULL)
            pull.linger = 0
            pull.bind(endpoint)
            wait_for(lambda: links.poll(sub, 0.05) or "reachable again" in caplog.text, 10,
                     "the hub-is-back line")
        assert [m.split(" at ")[0] for m in messages(caplog)] == ["no hub reachable", "a hub is reachable again"]
        assert endpoint in messages(caplog)[1]
    finally:
        links.close(push)
        for sock in (sub, pull):
            if sock is not None:
                sock.close()
        ctx.term()
