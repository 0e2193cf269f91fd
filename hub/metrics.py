"""The hub's Prometheus metrics, counted where the work happens and served by the web side at /metrics.

One registry of the hub's own, not prometheus_client's global one: ``procmesh-hub web`` alone
serves no ingest figures, and a test may run several hubs in one process. The socket thread and
the writer count with one call per batch, never per report or row; the values that are simply the
state of the hub (nodes online, pending rows, watch-list version) are read when scraped, through
``HubGauges``, so the hot paths carry no code for them.
"""
from __future__ import annotations

from typing import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from common import __version__

# The *_created series only double every counter on the page; nothing here reads them.
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)

REPORTS_RECEIVED = Counter("procmesh_reports_received", "Valid reports received from nodes",
                           registry=REGISTRY)
REPORTS_DROPPED = Counter("procmesh_reports_dropped", "Frames dropped as invalid, by reason",
                          ["reason"], registry=REGISTRY)
ROWS_WRITTEN = Counter("procmesh_session_rows_written", "Session rows committed (inserted or updated)",
                       registry=REGISTRY)
WRITE_SECONDS = Histogram("procmesh_write_seconds", "Time to write one batch to the database",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                          registry=REGISTRY)
DATABASE_ERRORS = Counter("procmesh_database_errors", "Writes the database refused or could not take",
                          registry=REGISTRY)
HUB_INFO = Info("procmesh_hub", "The hub's release", registry=REGISTRY)
HUB_INFO.info({"version": __version__})


class HubGauges(Collector):
    """Gauges read from the running hub at scrape time."""

    def __init__(self, nodes_online: Callable[[], int], pending_rows: Callable[[], int],
                 watch_list_version: Callable[[], int]) -> None:
        self._reads = (
            ("procmesh_nodes_online", "Nodes heard from within 3 report intervals, without a bye",
             nodes_online),
            ("procmesh_pending_rows", "Session updates received and not yet committed", pending_rows),
            ("procmesh_watch_list_version", "Version of the watch list in force", watch_list_version),
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, documentation, read in self._reads:
            yield GaugeMetricFamily(name, documentation, value=read())


def watch_hub(gauges: HubGauges) -> Callable[[], None]:
    """Register a running hub's gauges; returns what unregisters them when it stops."""
    REGISTRY.register(gauges)
    return lambda: REGISTRY.unregister(gauges)
