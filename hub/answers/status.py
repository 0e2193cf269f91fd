"""Which nodes are online: judged from the interval the hub asked them to report at."""
from __future__ import annotations

from dataclasses import dataclass

from hub.storage import NodeStatus, Storage

# A node counts as offline once it has missed this many report intervals.
OFFLINE_AFTER_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class NodeState:
    node: NodeStatus
    online: bool


def node_states(storage: Storage, now: float, fallback_interval: float) -> list[NodeState]:
    """Every node with its state now: offline after a bye, or once silent for 3 of the intervals
    stored with it by the hub (``fallback_interval`` for rows an older hub stored without one)."""
    states = []
    for node in storage.nodes():
        # A switched-off PC sends no bye: its stored flag stays "online", so silence decides too.
        interval = node.interval if node.interval is not None else fallback_interval
        fresh = node.last_seen >= now - OFFLINE_AFTER_INTERVALS * interval
        states.append(NodeState(node, node.online and fresh))
    return states
