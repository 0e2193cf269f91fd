"""The nodes a hub hears from now, for its minute summary and its open-files warning.

A node that says goodbye leaves at once; one that goes silent (switched off, killed, its network
gone) leaves once it has missed ``OFFLINE_AFTER_INTERVALS`` report intervals, the rule by which
``status`` calls a node offline. Without that, the count would only grow until each bye.
"""
from __future__ import annotations

from hub.answers.status import OFFLINE_AFTER_INTERVALS


class RecentNodes:
    """Node ids and when each was last heard from (the caller's monotonic clock)."""

    def __init__(self, interval: float) -> None:
        self.window = OFFLINE_AFTER_INTERVALS * interval
        self._heard: dict[str, float] = {}

    def heard(self, node: str, now: float) -> bool:
        """Note a report of ``node``; True when the node is new or was silent, i.e. it joins."""
        last = self._heard.get(node)
        self._heard[node] = now
        return last is None or now - last > self.window

    def left(self, node: str) -> None:
        self._heard.pop(node, None)

    def count(self, now: float) -> int:
        """How many nodes were heard from within the window; the others are forgotten."""
        self._heard = {node: last for node, last in self._heard.items() if now - last <= self.window}
        return len(self._heard)
