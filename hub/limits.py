"""The open-files limit, which caps how many nodes one hub can serve.

Every node holds two TCP connections to the hub (config and reports), and each connection is an
open file. Linux starts many services with a soft limit of 1,024 files, enough for only ~500 nodes,
while the hard limit is usually far higher; raising the soft limit needs no privilege.
(libzmq's own ZMQ_MAX_SOCKETS, 1,023 by default, counts ZeroMQ sockets, of which the hub has a
handful whatever the number of nodes, not TCP connections.)
"""
from __future__ import annotations

import logging

try:
    import resource
except ImportError:  # Windows: no such limit to raise
    resource = None  # type: ignore[assignment]

log = logging.getLogger("procmesh.hub")

# Files the hub needs besides node connections: database, log, watch-file watcher, inproc sockets.
RESERVED_FILES = 64
WARN_AT = 0.9


def raise_open_files_limit() -> int | None:
    """Raise the soft open-files limit to the hard one; return how many nodes it leaves room for."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit from %d to %d: %s", soft, hard, exc)
    if soft == resource.RLIM_INFINITY:
        return None
    return node_capacity(soft)


def node_capacity(open_files: int) -> int:
    return max(0, (open_files - RESERVED_FILES) // 2)


def near_capacity(nodes: int, capacity: int | None) -> bool:
    return capacity is not None and nodes >= WARN_AT * capacity
