"""The writer thread: drains decoded reports into the database and tells the hub what to ack.

Pending sessions are coalesced by session id (keeping the latest ``end`` and the largest active and
foreground seconds), so memory grows with the number of distinct sessions, not with the report
rate or the length of a database outage. A flush
writes everything pending in one transaction; only after the commit are the nodes' acks released.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from common.protocol import MAX_ACK_SEQS, Report
from hub import metrics
from hub.isolate import store_acceptable_rows
from hub.storage import NodeRow, SessionRow, Storage, StorageError, StorageUnavailable

log = logging.getLogger("procmesh.hub.writer")

# Measured with 10,000 nodes (bench/hub_ingest.py): 0.1 s halves p99 report->commit against 0.2 s
# (MariaDB 760 -> 440 ms, SQLite 1,458 -> 698 ms) at the same hub CPU; flat-out throughput is set
# by FLUSH_ROWS, and 2,000, 5,000 or 20,000 rows stored 24,600-30,400 rows/s, within the noise.
FLUSH_ROWS = 5000
FLUSH_SECONDS = 0.1
RETRY_FIRST = 0.5
RETRY_MAX = 30.0
STATS_EVERY = 60.0
INBOX_LIMIT = 200  # batches of up to one poll's worth of reports each
OUTAGE_LOG_EVERY = 60.0
# A batch refused this many times in a row is searched for the rows the database will not take.
REFUSALS_BEFORE_ISOLATING = 3
REFUSED_ROWS_LOGGED = 10


class Received(NamedTuple):
    """One valid report as the hub's socket thread saw it."""

    report: Report
    client_ip: str
    received: float
    clock_offset: float = 0.0  # add to the node's times to get the hub's (see hub/clock.py)


@dataclass(slots=True)
class _Pending:
    sessions: dict[bytes, SessionRow] = field(default_factory=dict)
    nodes: dict[str, NodeRow] = field(default_factory=dict)
    acks: dict[str, list[int]] = field(default_factory=dict)
    reports: int = 0
    since: float | None = None
    interval: float | None = None   # the hub's, stored with each node so `status` can judge silence

    def add(self, item: Received) -> None:
        report = item.report
        offset = item.clock_offset
        for s in report.sessions:
            end = s.end + offset
            known = self.sessions.get(s.sid)
            if known is None:
                self.sessions[s.sid] = SessionRow(
                    s.sid, report.node, item.client_ip, s.owner or report.user, report.host,
                    s.label, s.start + offset, end, s.active, s.foreground)
            else:
                known.grow(end, s.active, s.foreground)
        self.nodes[report.node] = NodeRow(
            report.node, report.host, report.user, item.client_ip, report.os, report.agent,
            report.cfg, item.received, report.kind != "bye", self.interval)
        seqs = self.acks.setdefault(report.node, [])
        seqs.append(report.seq)
        if len(seqs) > 2 * MAX_ACK_SEQS:
            # A long outage must not grow this without bound; an ack names the latest ones only.
            del seqs[:-MAX_ACK_SEQS]
        self.reports += 1
        if self.since is None:
            self.since = time.monotonic()


@dataclass(slots=True)
class WriterStats:
    flushes: int = 0
    reports: int = 0
    rows: int = 0
    failures: int = 0
    refused: int = 0


class AckSink(Protocol):
    """Where the writer hands ``{node: [committed seqs]}`` after each commit."""

    def send(self, acks: dict[str, list[int]]) -> None: ...

    def close(self) -> None: ...


class Writer(threading.Thread):
    """Owns the database connection; releases acks to ``ack_sink`` after each commit."""

    def __init__(self, storage: Storage, ack_sink: AckSink,
                 flush_rows: int = FLUSH_ROWS, flush_seconds: float = FLUSH_SECONDS,
                 interval: float | None = None) -> None:
        """interval: the seconds between reports the hub asks nodes for, stored with each node."""
        super().__init__(name="procmesh-writer", daemon=True)
        # Bounded: when the writer falls behind, the socket thread blocks, ZeroMQ's queues fill and
        # nodes' sends fail fast; their next report carries the same state, so nothing is lost.
        self.inbox: queue.Queue[list[Received] | None] = queue.Queue(INBOX_LIMIT)
        self.stats = WriterStats()
        self.unstored = 0  # session updates given up on at stop
        self.last_error: str | None = None   # while writes fail: why (for /healthz)
        self._storage = storage
        self._ack_sink = ack_sink
        self._flush_rows = flush_rows
        self._flush_seconds = flush_seconds
        self._interval = interval
        self._pending = _Pending(interval=interval)
        self._retry_at = 0.0
        self._retry_delay = RETRY_FIRST
        self._outage_logged: float | None = None
        self._refusals = 0
        self._stopping = False
        self._stop_deadline = 0.0

    @property
    def pending_rows(self) -> int:
        return len(self._pending.sessions)

    def submit(self, batch: list[Received]) -> None:
        self.inbox.put(batch)

    def stop(self, within: float) -> None:
        """Ask the thread to flush what it holds (trying for ``within`` seconds) and end."""
        self._stop_deadline = time.monotonic() + within
        self.inbox.put(None)

    def run(self) -> None:
        next_stats = time.monotonic() + STATS_EVERY
        while True:
            self._drain(self._wait_time())
            now = time.monotonic()
            if self._due(now):
                self._flush(now)
            if now >= next_stats:
                self._log_stats()
                next_stats = now + STATS_EVERY
            if self._stopping and (not self._pending.reports or now >= self._stop_deadline):
                break
        if self._pending.reports:
            self.unstored = len(self._pending.sessions)
            log.error("stopping with %d session updates not stored: the database did not accept them",
                      self.unstored)
        self._storage.close()
        self._ack_sink.close()

    def _wait_time(self) -> float:
        now = time.monotonic()
        if self._stopping:
            return max(0.0, min(self._retry_at - now, 0.05))
        if self._pending.since is None:
            return 1.0
        return max(0.0, max(self._pending.since + self._flush_seconds, self._retry_at) - now)

    def _drain(self, timeout: float) -> None:
        """Take everything queued; block up to ``timeout`` for the first item only."""
        try:
            item = self.inbox.get(timeout=timeout) if timeout > 0 else self.inbox.get_nowait()
            while True:
                if item is None:
                    self._stopping = True
                else:
                    for received in item:
                        self._pending.add(received)
                    if len(self._pending.sessions) >= self._flush_rows:
                        return
                item = self.inbox.get_nowait()
        except queue.Empty:
            return

    def _due(self, now: float) -> bool:
        pending = self._pending
        if not pending.reports or now < self._retry_at:
            return False
        return (self._stopping or len(pending.sessions) >= self._flush_rows
                or now - (pending.since or now) >= self._flush_seconds)

    def _flush(self, now: float) -> None:
        pending = self._pending
        try:
            with metrics.WRITE_SECONDS.time():
                self._storage.write(list(pending.sessions.values()), list(pending.nodes.values()))
        except StorageUnavailable as exc:
            self._retry_later(now, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a driver surprise must not kill the only writer
            if not isinstance(exc, StorageError):
                if not self.stats.failures:  # once a minute at most, not at every retry
                    log.exception("unexpected error while writing to the database")
                exc = StorageError(f"unexpected {type(exc).__name__}: {exc}")
            if not self._isolate_refused_rows():
                self._retry_later(now, exc)
                return
        self._committed(pending)

    def _isolate_refused_rows(self) -> bool:
        """After repeated refusals, store what the database accepts and drop what it refuses;
        True when that settled the batch."""
        self._refusals += 1
        if self._refusals < REFUSALS_BEFORE_ISOLATING:
            return False
        # Whatever comes of it, the next search waits for as many refusals again.
        self._refusals = 0
        pending = self._pending
        try:
            refused = store_acceptable_rows(self._storage, list(pending.sessions.values()),
                                            list(pending.nodes.values()))
        except StorageUnavailable:
            return False
        if refused is None:
            return False
        self.stats.refused += len(refused)
        for item in refused[:REFUSED_ROWS_LOGGED]:
            log.error("the database refuses this row, which is dropped: %s (%s)", item.row, item.reason)
        if len(refused) > REFUSED_ROWS_LOGGED:
            log.error("... and %d more refused rows dropped", len(refused) - REFUSED_ROWS_LOGGED)
        return True

    def _committed(self, pending: _Pending) -> None:
        self._refusals = 0
        self.last_error = None
        metrics.ROWS_WRITTEN.inc(len(pending.sessions))
        if self._outage_logged is not None:
            log.warning("database writes work again; stored %d pending session updates",
                        len(pending.sessions))
            self._outage_logged = None
        self.stats.flushes += 1
        self.stats.reports += pending.reports
        self.stats.rows += len(pending.sessions)
        self._retry_delay = RETRY_FIRST
        self._pending = _Pending(interval=self._interval)
        self._ack_sink.send(pending.acks)

    def _retry_later(self, now: float, exc: StorageError) -> None:
        self.stats.failures += 1
        self.last_error = str(exc)
        metrics.DATABASE_ERRORS.inc()
        self._retry_at = now + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX)
        # An outage produces one failure per retry; a person needs one line a minute, not hundreds.
        if self._outage_logged is None or now - self._outage_logged >= OUTAGE_LOG_EVERY:
            kind = "unavailable" if isinstance(exc, StorageUnavailable) else "refused the write"
            log.error("database %s: %s; holding %d session updates from %d nodes, retrying",
                      kind, exc, len(self._pending.sessions), len(self._pending.nodes))
            self._outage_logged = now

    def _log_stats(self) -> None:
        s = self.stats
        log.info("stored %d reports as %d session rows in %d flushes (%d failed) in the last minute",
                 s.reports, s.rows, s.flushes, s.failures)
        self.stats = WriterStats()
