"""Per-node clock offsets: how far each node's wall clock is from the hub's.

Every report carries ``sent``, the node's clock when it sent the report. ``received - sent`` is the
node's offset plus the time the report spent on the wire and in the hub's queues, and that transit
time is never negative. So the smallest difference over the last few reports is the best estimate
of the offset: a report that waited in a queue only makes the difference larger. A node whose clock
jumps (NTP stepping it, a person setting it) is followed within one window.

Offsets within ``TRUSTED_SKEW`` are taken as zero: a clock that close is kept by NTP, and the hub
cannot measure it better than the network delay anyway. Larger offsets are added to the node's
session times, so a desktop whose clock is ten minutes off still yields sessions on the hub's clock.

A node's first reports are a weak witness: after a hub restart under load, they can wait seconds in
the hub's queue, and that wait looks exactly like a clock behind. So an offset under
``DOUBTFUL_SKEW`` counts only once ``CONFIRMING_SAMPLES`` reports agree on it. A larger one is
applied at once: a hub that far behind is overloaded, and a clock that far off would otherwise store
the first sessions minutes away from the truth (a session's start is never corrected later).
"""
from __future__ import annotations

import logging
from collections import deque

log = logging.getLogger("procmesh.hub")

WINDOW = 6  # reports: 30 s at the default 5 s interval
TRUSTED_SKEW = 0.5  # seconds
DOUBTFUL_SKEW = 5.0  # seconds
CONFIRMING_SAMPLES = 3
# A correction that moves by more than this since it was last logged is worth a line in the log.
NOTABLE_CHANGE = 2.0


class ClockOffsets:
    """Smoothed ``hub clock - node clock`` per node, from the reports' ``sent`` times."""

    def __init__(self, window: int = WINDOW) -> None:
        self._window = window
        self._samples: dict[str, deque[float]] = {}
        self._logged: dict[str, float] = {}

    def observe(self, node: str, sent: float, received: float) -> float:
        """Record one report; return the offset to add to that report's times."""
        samples = self._samples.get(node)
        if samples is None:
            samples = self._samples[node] = deque(maxlen=self._window)
        samples.append(received - sent)
        offset = min(samples)
        if abs(offset) < TRUSTED_SKEW or (abs(offset) < DOUBTFUL_SKEW
                                           and len(samples) < CONFIRMING_SAMPLES):
            offset = 0.0
        if abs(offset - self._logged.get(node, 0.0)) >= NOTABLE_CHANGE:
            self._logged[node] = offset
            if offset:
                log.warning("node %s: its clock is %.1f s %s the hub's; correcting its session times",
                            node, abs(offset), "behind" if offset > 0 else "ahead of")
            else:
                log.info("node %s: its clock agrees with the hub's again", node)
        return offset

    def forget(self, node: str) -> None:
        """Drop a node that said goodbye; its next run is measured afresh."""
        self._samples.pop(node, None)
        self._logged.pop(node, None)
