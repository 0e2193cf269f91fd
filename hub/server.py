"""The hub's socket thread: one thread owns every hub socket under one zmq.Poller.

XPUB carries the config broadcast and per-node acks; PULL receives reports. Two inproc PULL sockets
bring work from the other threads: new watch lists from the file watcher and committed acks from the
writer. Decoded reports go to the writer through its queue.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import zmq

from common.errors import ProcmeshError
from common.protocol import (MAX_FRAME_BYTES, Config, ProtocolError, ack_frame,
                             config_frame, decode_report, make_config)
from common.timing import DEFAULT_IDLE_AFTER
from common.watchlist import WatchEntry
from hub.addresses import peer_address
from hub.auth import Plaintext, Security
from hub.clock import ClockOffsets
from hub.limits import near_capacity
from hub.recent import RecentNodes
from hub import metrics
from hub.storage import Storage
from hub.watcher import WatchFileWatcher
from hub.writer import Received, Writer

log = logging.getLogger("procmesh.hub")

REBROADCAST_SECONDS = 30.0
SUMMARY_SECONDS = 60.0
STOP_FLUSH_SECONDS = 5.0
# The poll timeout bounds how long a signal handler's stop request waits to be noticed.
POLL_CAP_MS = 250
WATCH_ENDPOINT = "inproc://procmesh-watch"
ACK_ENDPOINT = "inproc://procmesh-acks"


@dataclass(frozen=True)
class HubOptions:
    config_endpoint: str
    report_endpoint: str
    interval: float
    grace: float
    watch_file: Path
    # Nodes the open-files limit leaves room for (hub.limits); None: no known limit.
    node_capacity: int | None = None
    idle_after: float = DEFAULT_IDLE_AFTER


class BindError(ProcmeshError):
    """An endpoint the hub cannot bind (port in use, bad address)."""


class InprocSender:
    """A PUSH socket created lazily in whichever thread sends first, since sockets are not shared."""

    def __init__(self, ctx: zmq.Context, endpoint: str) -> None:
        self._ctx = ctx
        self._endpoint = endpoint
        self._socket: zmq.Socket | None = None

    def send(self, payload: Any) -> None:
        if self._socket is None:
            self._socket = self._ctx.socket(zmq.PUSH)
            self._socket.connect(self._endpoint)
        self._socket.send(msgpack.packb(payload, use_bin_type=True))

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _tune_for_many_peers(sock: zmq.Socket) -> None:
    """Options for a socket with thousands of connections.

    libzmq cancels a timer by a linear search through all timers of its I/O thread. A ZMTP
    heartbeat cancels one per connection per interval and a handshake timeout one per connection
    at connect: with 16,000 connections, heartbeats alone kept a core 70 % busy and a login storm
    of 8,000 nodes took minutes instead of seconds (bench/hub_ingest.py --sockets 0). TCP
    keepalive and the retransmission limit, which the kernel runs, drop the connections of desktops
    that vanished (power off) instead: after 60 s of silence 3 probes 10 s apart, or after 60 s
    of unacknowledged data. Nodes keep their own heartbeats, to notice a frozen hub; answering
    them costs the hub no timer. Without a handshake timeout a peer that never completes the
    handshake holds its connection until TCP gives up on it, which costs no more than a peer that
    completes it and stays.
    """
    sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
    sock.setsockopt(zmq.TCP_KEEPALIVE_IDLE, 60)
    sock.setsockopt(zmq.TCP_KEEPALIVE_INTVL, 10)
    sock.setsockopt(zmq.TCP_KEEPALIVE_CNT, 3)
    sock.setsockopt(zmq.TCP_MAXRT, 60_000)
    sock.setsockopt(zmq.HANDSHAKE_IVL, 0)


class Hub:
    def __init__(self, options: HubOptions, storage: Storage, watch: list[WatchEntry],
                 security: Security | None = None, tick_seconds: float = REBROADCAST_SECONDS) -> None:
        """``tick_seconds``: how often the config is re-broadcast and the watch file and the
        allow-list are checked for changes no file-system event reported."""
        self.options = options
        self._tick = tick_seconds
        self._security = security or Plaintext()
        self._ctx = zmq.Context()
        # A pending send with the default linger would make term() wait forever.
        self._ctx.linger = 0
        self._storage = storage
        self._version = 0
        self._config = self._next_config(watch)
        self._stop = threading.Event()
        self._signals = 0
        self._nodes = RecentNodes(options.interval)
        self._clocks = ClockOffsets()
        self._drops: Counter[str] = Counter()
        self._received = 0
        self._beat: float | None = None   # when the socket loop last turned; None: not serving
        self._sockets: list[zmq.Socket] = []
        self._bind()
        self._writer = Writer(storage, InprocSender(self._ctx, ACK_ENDPOINT), interval=options.interval)
        self._watcher = WatchFileWatcher(options.watch_file, watch,
                                         InprocSender(self._ctx, WATCH_ENDPOINT),
                                         checked_every=tick_seconds)

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self._ctx.socket(kind)
        self._sockets.append(sock)
        return sock

    def _bind(self) -> None:
        # Before any bind: a CURVE socket without its ZAP handler running would admit every key.
        self._security.start(self._ctx)
        self._xpub = self._socket(zmq.XPUB)
        self._xpub.setsockopt(zmq.XPUB_WELCOME_MSG, config_frame(self._config))
        self._pull = self._socket(zmq.PULL)
        # An oversized frame makes libzmq drop that connection; nodes split reports well below it.
        self._pull.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
        self._pull.setsockopt(zmq.RCVHWM, 20_000)
        for sock, endpoint in ((self._xpub, self.options.config_endpoint),
                               (self._pull, self.options.report_endpoint)):
            _tune_for_many_peers(sock)
            # Both families: "*" binds "::" with IPv4 mapped in, and IPv6 addresses are accepted.
            # Where the system has no IPv6 at all, libzmq falls back to IPv4 by itself
            # (tests/test_ipv6.py runs a hub that cannot create IPv6 sockets).
            sock.setsockopt(zmq.IPV6, 1)
            self._security.secure(sock)
            try:
                sock.bind(endpoint)
            except zmq.ZMQError as exc:
                self._close_sockets()
                raise BindError(f"cannot listen on {endpoint}: {zmq.strerror(exc.errno)}") from None
        self._watch_in = self._socket(zmq.PULL)
        self._watch_in.bind(WATCH_ENDPOINT)
        self._acks_in = self._socket(zmq.PULL)
        self._acks_in.bind(ACK_ENDPOINT)

    def _next_config(self, watch: list[WatchEntry]) -> Config:
        self._version += 1
        return make_config(watch, self.options.interval, self.options.grace, self._version, time.time(),
                           self.options.idle_after)

    # ---- lifecycle ------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        if hasattr(signal, "SIGHUP"):  # POSIX only; on Windows an edit to the file is the way.
            signal.signal(signal.SIGHUP, lambda *_: self._watcher.request_reload())

    def _on_stop_signal(self, signum: int, _frame: Any) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second stop signal: exiting at once, pending session updates are not stored")
            os._exit(1)
        log.info("received %s: storing what is pending, then stopping", signal.Signals(signum).name)
        self.request_stop()

    def request_stop(self) -> None:
        """Make ``run`` store what is pending and return; from any thread."""
        self._stop.set()

    def run(self) -> bool:
        """Serve until stopped; False when the hub stopped because of a fault, or stopped with
        session updates it could not store (the nodes send them again, but it is worth a code)."""
        self._writer.start()
        self._watcher.start()
        self._beat = time.monotonic()
        unwatch = metrics.watch_hub(metrics.HubGauges(lambda: self._nodes.online(time.monotonic()),
                                                      lambda: self._writer.pending_rows,
                                                      lambda: self._config.version))
        log.info("hub listening: config %s, reports %s; watch list %s: %d labels, digest %s",
                 self.options.config_endpoint, self.options.report_endpoint,
                 self.options.watch_file, len(self._config.watch), self._config.digest)
        served = False
        try:
            served = self._loop()
        finally:
            self._beat = None
            unwatch()
            stored = self._shutdown()
        return served and stored

    def problems(self, stalled_after: float = 5.0) -> list[str]:
        """Why the hub is not healthy now (for /healthz); empty while it serves and stores."""
        if self._beat is None:
            return ["the hub is not serving its sockets"]
        found = []
        if time.monotonic() - self._beat > stalled_after:
            found.append(f"the socket loop has not turned for {time.monotonic() - self._beat:.0f} s")
        if not self._writer.is_alive():
            found.append("the database writer stopped")
        elif self._writer.last_error:
            found.append(f"database writes fail: {self._writer.last_error}")
        return found

    def _loop(self) -> bool:
        """Serve until asked to stop (True) or until the writer is gone (False)."""
        poller = zmq.Poller()
        for sock in (self._pull, self._xpub, self._watch_in, self._acks_in):
            poller.register(sock, zmq.POLLIN)
        next_tick = time.monotonic() + self._tick
        next_summary = time.monotonic() + SUMMARY_SECONDS
        while not self._stop.is_set():
            events = dict(poller.poll(POLL_CAP_MS))
            if self._pull in events:
                self._receive_reports()
            if self._xpub in events:
                self._drain_subscriptions()
            if self._watch_in in events:
                self._publish_new_watch_list()
            if self._acks_in in events:
                self._publish_acks()
            if not self._writer.is_alive():
                log.error("the database writer stopped unexpectedly; stopping the hub")
                return False
            now = self._beat = time.monotonic()
            if now >= next_tick:
                self._on_tick()
                next_tick = now + self._tick
            if now >= next_summary:
                self._log_summary("last minute")
                next_summary = now + SUMMARY_SECONDS
        return True

    def _on_tick(self) -> None:
        # Safety net for a subscriber that attached between welcome message and subscribe.
        self._xpub.send(config_frame(self._config))
        # Changes that raise no file-system event: network shares edited elsewhere, symlinks.
        self._watcher.request_check()
        self._security.refresh()

    def _shutdown(self) -> bool:
        """Stop every thread; True when everything received was stored."""
        self._log_summary("since the last summary")
        self._watcher.stop()
        self._writer.stop(STOP_FLUSH_SECONDS)
        self._writer.join(STOP_FLUSH_SECONDS + 1.0)
        self._close_sockets()
        if self._writer.is_alive():
            # Stuck in a database call: its socket stays open, so term() would wait for ever.
            log.error("the database did not answer within %.0f s; stopping without it", STOP_FLUSH_SECONDS)
            return False
        self._ctx.term()
        log.info("hub stopped")
        return self._writer.unstored == 0

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
        self._security.stop()

    # ---- socket work ----------------------------------------------------------------------------

    def _receive_reports(self, batch: int = 1000) -> None:
        """Read up to ``batch`` frames, then let the poller serve the other sockets too."""
        received: list[Received] = []
        now = time.time()
        monotonic = time.monotonic()
        for _ in range(batch):
            try:
                frame = self._pull.recv(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            try:
                report = self._security.check_sender(decode_report(frame.bytes), frame)
            except ProtocolError as exc:
                self._count_drop(exc)
                continue
            self._received += 1
            peer = peer_address(frame.get("Peer-Address") or "")
            if self._nodes.heard(report.node, monotonic):
                log.info("node joined: %s (computer %s, user %s, address %s, agent %s)",
                         report.node, report.host, report.user, peer, report.agent)
            offset = self._clocks.observe(report.node, report.sent, now)
            if report.kind == "bye":
                self._nodes.left(report.node)
                self._clocks.forget(report.node)
                log.info("node left: %s", report.node)
            received.append(Received(report, peer, now, offset))
        if received:
            metrics.REPORTS_RECEIVED.inc(len(received))
            self._writer.submit(received)

    def _count_drop(self, exc: ProtocolError) -> None:
        if not self._drops[exc.reason]:
            log.warning("dropped a report (%s); further drops are counted once a minute", exc)
        self._drops[exc.reason] += 1
        metrics.REPORTS_DROPPED.labels(exc.reason).inc()

    def _drain_subscriptions(self) -> None:
        while True:
            try:
                self._xpub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return

    def _publish_new_watch_list(self) -> None:
        watch = [WatchEntry(label, tuple(patterns))
                 for label, patterns in msgpack.unpackb(self._watch_in.recv())]
        self._config = self._next_config(watch)
        frame = config_frame(self._config)
        self._xpub.setsockopt(zmq.XPUB_WELCOME_MSG, frame)
        self._xpub.send(frame)
        log.info("config published: version %d, %d labels, digest %s",
                 self._config.version, len(watch), self._config.digest)

    def _publish_acks(self) -> None:
        while True:
            try:
                acks = msgpack.unpackb(self._acks_in.recv(zmq.NOBLOCK))
            except zmq.Again:
                return
            for node, seqs in acks.items():
                self._xpub.send(ack_frame(node, seqs))

    def _log_summary(self, period: str) -> None:
        drops = ", ".join(f"{reason} {n}" for reason, n in sorted(self._drops.items())) or "none"
        nodes = self._nodes.count(time.monotonic())
        log.info("%s: %d reports received; %d nodes heard from in the last %g s; reports dropped: %s",
                 period, self._received, nodes, self._nodes.window, drops)
        if near_capacity(nodes, self.options.node_capacity):
            log.warning("%d nodes connected: the open-files limit leaves room for about %d; raise it "
                        "(ulimit -n, or LimitNOFILE= for a systemd service) before more nodes are "
                        "turned away", nodes, self.options.node_capacity)
        self._received = 0
        self._drops.clear()
