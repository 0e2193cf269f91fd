"""Whether the node's sockets must speak IPv6 to reach its hubs.

libzmq connects over IPv6 only with ZMQ_IPV6 set, and then resolves names for IPv6 alone, taking
the IPv4 address only when a name has no IPv6 one. Set everywhere, it would move every node
whose hub has both kinds of address over to IPv6, which a firewall opened for IPv4 only would
block. So it is set only when a hub is reachable over IPv6 alone: given as an IPv6 address, or
by a name that has IPv6 addresses and no IPv4 one when the node starts.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Callable, Iterable

log = logging.getLogger("procmesh.node")

Families = Callable[[str], set[int]]


def address_families(host: str) -> set[int]:
    """The address families ``host`` resolves to now; empty when it does not resolve."""
    try:
        return {info[0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        return set()


def endpoint_host(endpoint: str) -> str | None:
    """The host of a ``tcp://[SOURCE;]HOST:PORT`` endpoint, brackets kept; None for others."""
    if not endpoint.startswith("tcp://"):
        return None
    return endpoint[len("tcp://"):].rpartition(";")[2].rpartition(":")[0]


def needs_ipv6(endpoints: Iterable[str], families: Families = address_families) -> bool:
    return any(_only_ipv6(host, families) for host in map(endpoint_host, endpoints) if host)


def _only_ipv6(host: str, families: Families) -> bool:
    if host.startswith("["):
        return True
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        pass   # a name
    found = families(host)
    if socket.AF_INET6 in found and socket.AF_INET not in found:
        log.info("hub host %s has IPv6 addresses only: connecting over IPv6", host)
        return True
    return False
