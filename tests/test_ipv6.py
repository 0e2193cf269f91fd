"""IPv6: the hub listens on both address families, nodes reach it by an IPv6 address or by a name
that has IPv6 addresses only, and a hub on a system without IPv6 still listens on IPv4."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from node.cli import endpoints
from tests.dbrows import raw_sql
from tests.processes import Mesh, Running, start
from tests.sandbox import with_hosts_file
from tests.waiting import wait_for
from tests.without_ipv6 import LIBRARY as SECCOMP

pytestmark = pytest.mark.timeout(90)


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6_loopback = pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback")
FAMILIES = {"v6only.example": {socket.AF_INET6}, "dual.example": {socket.AF_INET, socket.AF_INET6},
            "v4only.example": {socket.AF_INET}}


def hub_settings(*hubs: str, config: tuple[str, ...] = (), report: tuple[str, ...] = ()) -> dict:
    return {"hub": hubs, "config_endpoint": config, "report_endpoint": report}


def families(host: str) -> set[int]:
    return FAMILIES.get(host, set())


@pytest.mark.parametrize("hub, endpoint, ipv6", [
    ("::1", "tcp://[::1]:8805", True),
    ("[fd00::5]", "tcp://[fd00::5]:8805", True),
    ("fd00::5", "tcp://[fd00::5]:8805", True),
    ("10.0.0.5", "tcp://10.0.0.5:8805", False),
    ("v6only.example", "tcp://v6only.example:8805", True),
    # A name with both kinds keeps IPv4, where a firewall opened for IPv4 only lets it through.
    ("dual.example", "tcp://dual.example:8805", False),
    ("v4only.example", "tcp://v4only.example:8805", False),
    ("unknown.example", "tcp://unknown.example:8805", False),
])
def test_a_hub_address_gives_its_endpoints_and_whether_they_need_ipv6(hub: str, endpoint: str, ipv6: bool) -> None:
    found = endpoints(hub_settings(hub), families)
    assert found.config == (endpoint,) and found.report == (endpoint.replace("8805", "8806"),)
    assert found.ipv6 is ipv6


def test_one_hub_reachable_over_ipv6_only_turns_ipv6_on_for_all() -> None:
    assert endpoints(hub_settings("v4only.example", "::1"), families).ipv6
    given = hub_settings(config=("tcp://10.0.0.5:9000",), report=("tcp://[fd00::5]:9001",))
    assert endpoints(given, families).ipv6


def dual_stack_hub(mesh: Mesh, without_ipv6: bool = False) -> Running:
    """A hub on every address, as it listens by default (``tcp://*:PORT``); ``without_ipv6`` runs
    it as on a system that has no IPv6 (tests/without_ipv6.py)."""
    args = mesh.hub_args()
    for flag, port in (("--config-endpoint", mesh.config_port), ("--report-endpoint", mesh.report_port)):
        args[args.index(flag) + 1] = f"tcp://*:{port}"
    program, args = ("tests.without_ipv6", ["hub", *args]) if without_ipv6 else ("hub", args)
    hub = start(program, args, mesh.folder, "hub.log")
    mesh.children.append(hub)
    hub.wait_log("hub listening")
    return hub


def node_at(mesh: Mesh, host: str, node_id: str, wrapper: list[str] | None = None) -> Running:
    node = start("node", ["--config-endpoint", f"tcp://{host}:{mesh.config_port}",
                          "--report-endpoint", f"tcp://{host}:{mesh.report_port}",
                          "--node-id", node_id, "--log-level", "DEBUG"],
                 mesh.folder, f"{node_id}.log", wrapper=wrapper or ())
    mesh.children.append(node)
    return node


def addresses(mesh: Mesh) -> dict[str, str]:
    """Each node's address as the hub stored it (the hub creates its tables before it listens)."""
    return dict(raw_sql(mesh.db_url, "SELECT node, client_ip FROM nodes"))


@needs_ipv6_loopback
def test_nodes_reach_the_hub_over_ipv6_and_ipv4_alike(sqlite_mesh: Mesh) -> None:
    mesh = sqlite_mesh
    mesh.watch_file.write_text("anything\n")
    hub = dual_stack_hub(mesh)
    node_at(mesh, "[::1]", "over-ipv6")
    node_at(mesh, "127.0.0.1", "over-ipv4")
    wait_for(lambda: len(addresses(mesh)) == 2, 20, "a report from each node")
    # IPv4 peers of the dual-stack socket are stored as IPv4 addresses, as before.
    assert addresses(mesh) == {"over-ipv6": "::1", "over-ipv4": "127.0.0.1"}
    assert hub.stop() == 0


@needs_ipv6_loopback
def test_a_node_reaches_a_hub_whose_name_has_only_an_ipv6_address(sqlite_mesh: Mesh, tmp_path: Path) -> None:
    mesh = sqlite_mesh
    mesh.watch_file.write_text("anything\n")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 hub6.test\n")
    wrapper = with_hosts_file(hosts)
    dual_stack_hub(mesh)
    node = node_at(mesh, "hub6.test", "by-name", wrapper)
    wait_for(lambda: addresses(mesh).get("by-name") == "::1", 20, "the node's report over IPv6")
    assert "hub host hub6.test has IPv6 addresses only: connecting over IPv6" in node.log()


@pytest.mark.skipif(SECCOMP is None, reason="needs libseccomp to take IPv6 away from a process")
def test_a_hub_on_a_system_without_ipv6_still_listens_on_ipv4(sqlite_mesh: Mesh) -> None:
    mesh = sqlite_mesh
    mesh.watch_file.write_text("anything\n")
    hub = dual_stack_hub(mesh, without_ipv6=True)
    assert "this process cannot create IPv6 sockets" in hub.log()
    node_at(mesh, "127.0.0.1", "plain-ipv4")
    wait_for(lambda: addresses(mesh).get("plain-ipv4") == "127.0.0.1", 20, "the node's report")
    assert hub.stop() == 0
    assert "Traceback" not in hub.log()
