"""The node's handshake watch against a real CURVE server in this process: what it logs and when
it asks for new sockets."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator

import pytest
import zmq

from common.curve import read_key_file, write_key_pair
from hub.auth import CurveServer
from hub.keys import init_hub_keys
from node.handshake import HubLinks
from node.keys import CurveClient
from tests.waiting import wait_for


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """A CURVE PULL socket behind the hub's ZAP handler with an empty allow-list."""
    init_hub_keys(tmp_path / "keys", force=False)
    ctx = zmq.Context()
    curve = CurveServer(tmp_path / "keys")
    curve.start(ctx)
    pull = ctx.socket(zmq.PULL)
    pull.linger = 0
    curve.secure(pull)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    yield f"tcp://127.0.0.1:{port}", read_key_file(tmp_path / "keys" / "hub.key").public
    pull.close()
    curve.stop()
    ctx.term()


def client(tmp_path: Path, hub_key: bytes) -> CurveClient:
    pair = write_key_pair(tmp_path / "node", "node", {"name": "pc-01"})
    return CurveClient(hub_key, pair, "pc-01")


def connect(ctx: zmq.Context, links: HubLinks, endpoint: str) -> zmq.Socket:
    push = ctx.socket(zmq.PUSH)
    push.linger = 0
    push.reconnect_ivl = 100   # fast retries, so several failures happen within the test
    links.prepare(push)
    push.connect(endpoint)
    return push


def watch(links: HubLinks, sub: zmq.Socket, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        links.poll(sub, 0.05)


def test_a_wrong_hub_key_is_logged_once_however_often_libzmq_retries(
        tmp_path: Path, server, caplog: pytest.LogCaptureFixture) -> None:
    endpoint, _ = server
    wrong = write_key_pair(tmp_path / "other", "hub", {}).public
    links = HubLinks(client(tmp_path, wrong), auth_retry=0.2)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)   # stands for the node's SUB socket, which the poll also serves
    push = connect(ctx, links, endpoint)
    try:
        with caplog.at_level(logging.ERROR, logger="procmesh.node"):
            watch(links, sub, 1.5)
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1, errors
        assert "hub_key is probably not the hub's public key" in errors[0]
        assert "hub_key is probably not" in links.problem
        # libzmq keeps retrying by itself: no new socket is asked for.
        assert links.due() == []
    finally:
        links.close(push)
        sub.close()
        ctx.term()


def test_a_denied_socket_is_due_for_replacement_after_auth_retry(
        tmp_path: Path, server, caplog: pytest.LogCaptureFixture) -> None:
    endpoint, hub_key = server
    curve = client(tmp_path, hub_key)
    links = HubLinks(curve, auth_retry=0.4)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    push = connect(ctx, links, endpoint)
    try:
        def denied() -> bool:
            links.poll(sub, 0.05)
            return "denied" in links.problem

        with caplog.at_level(logging.ERROR, logger="procmesh.node"):
            wait_for(denied, 5, "the denial")
            denied_at = time.monotonic()
        message = caplog.records[-1].getMessage()
        assert f"procmesh-hub keys allow '{curve.pair.public.decode()}' --name pc-01" in message
        assert links.due() == []
        wait_for(links.due, 2, "the socket due for replacement")
        # auth_retry 0.4 s, give or take a quarter.
        assert time.monotonic() - denied_at >= 0.3 - 0.05
        assert links.due() == [push]
    finally:
        links.close(push)
        sub.close()
        ctx.term()
