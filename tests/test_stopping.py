"""Stopping a real node agent from another thread, as the Windows end-session window and the
service's control handler do, against a real hub process: the answer to WM_ENDSESSION comes only
after the final report and bye are out."""
from __future__ import annotations

import json
import threading

import pytest

from node.agent import Endpoints, NodeAgent, NodeIdentity
from node.stopping import SessionEndHandler, StopRelay
from tests.dbrows import last_seen
from tests.processes import Mesh
from tests.waiting import wait_for

# Only the bye can mark a node offline within the test when the hub is asked with this interval.
NO_TIMEOUT_INTERVAL = "3600"


def agent_for(mesh: Mesh, node: str) -> NodeAgent:
    return NodeAgent(NodeIdentity(node, "pc-test", "tester"),
                     Endpoints((f"tcp://127.0.0.1:{mesh.config_port}",),
                               (f"tcp://127.0.0.1:{mesh.report_port}",)))


def online(mesh: Mesh, node: str) -> bool | None:
    result = mesh.hub_cli("status", "--format", "json", "--interval", NO_TIMEOUT_INTERVAL)
    assert result.returncode == 0, result.stderr
    return {n["node"]: n["online"] for n in json.loads(result.stdout)}.get(node)


def start_node_thread(relay: StopRelay, agent: NodeAgent) -> threading.Thread:
    # The agent's loop in its own thread, as in the node its main thread; the test's thread plays
    # the window's message pump.
    thread = threading.Thread(target=relay.run, args=(agent,), daemon=True)
    thread.start()
    return thread


@pytest.fixture
def mesh(sqlite_mesh: Mesh) -> Mesh:
    sqlite_mesh.watch_file.write_text("pmnothing\n")
    sqlite_mesh.start_hub()
    return sqlite_mesh


def test_the_end_of_the_session_returns_only_after_the_bye_is_out(mesh: Mesh) -> None:
    relay = StopRelay()
    thread = start_node_thread(relay, agent_for(mesh, "ending"))
    wait_for(lambda: online(mesh, "ending"), 30, "the node reporting")
    handler = SessionEndHandler(relay)
    assert handler.query_end_session() is True
    handler.end_session(True)
    assert not thread.is_alive(), "WM_ENDSESSION answered while the node was still running"
    wait_for(lambda: online(mesh, "ending") is False, 15, "the hub marking the node offline (its bye)")


def test_a_cancelled_logoff_leaves_the_node_running(mesh: Mesh) -> None:
    relay = StopRelay()
    thread = start_node_thread(relay, agent_for(mesh, "staying"))
    wait_for(lambda: online(mesh, "staying"), 30, "the node reporting")
    SessionEndHandler(relay).end_session(False)
    seen = last_seen(mesh.db_url)["staying"]
    wait_for(lambda: last_seen(mesh.db_url)["staying"] > seen, 15, "a report after the cancelled logoff")
    assert thread.is_alive() and online(mesh, "staying")
    assert relay.stop_and_wait("test over", 15)


def test_a_stop_asked_before_the_node_runs_stops_it_as_it_starts(mesh: Mesh) -> None:
    relay = StopRelay()
    assert relay.stop_and_wait("the session ends during start-up", 0) is False
    thread = start_node_thread(relay, agent_for(mesh, "late"))
    wait_for(lambda: not thread.is_alive(), 15, "the node stopping by itself")
    assert relay.stop_and_wait("again", 0) is True
