"""The node's single thread: a zmq.Poller over the SUB socket, timed by the next scan tick.

The node watches with the config the hub sends (XPUB welcome message or broadcast), or until then
with the one its previous run kept in the outbox. Each tick it scans, updates its sessions and
pushes its whole state; a report that cannot be sent (hub down) is simply not sent, because the
next one carries the same state.
"""
from __future__ import annotations

import logging
import platform
import random
import signal
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import zmq

from common import __version__
from common.errors import ProcmeshError
from common.protocol import (CONFIG_TOPIC, Ack, Config, ProtocolError, Report,
                             SessionState, ack_topic, decode_hub_frame, encode_report)
from common.timing import DEFAULT_IDLE_AFTER, grace_problem
from common.watchlist import Matcher, WatchListError
from node.clock import Clock
from node.handshake import HubLinks
from node.outbox import Outbox
from node.presence.ledger import PresenceLedger
from node.presence.source import PresenceSource
from node.scanner import Scanner
from node.sessions import DEFAULT_MAX_CLOSED, SessionTracker

log = logging.getLogger("procmesh.node")

# Well under the hub's 1,000-session and 1 MiB limits even with 255-character labels and owners.
SESSIONS_PER_REPORT = 500
POLL_CAP_SECONDS = 0.25
BYE_LINGER_MS = 1000
DEFAULT_GRACE = 30.0


@dataclass(frozen=True)
class NodeIdentity:
    node: str
    host: str
    user: str
    os: str = f"{platform.system()} {platform.release()}"
    agent: str = f"procmesh-node {__version__}"


@dataclass(frozen=True)
class Endpoints:
    """Where the hubs are: the node subscribes to every config endpoint and pushes to every report
    endpoint, which ZeroMQ serves round-robin, skipping hubs that are down."""

    config: tuple[str, ...]
    report: tuple[str, ...]
    ipv6: bool = False   # some hub is reachable over IPv6 only (node/ipv6.py)


class NoConfigError(ProcmeshError):
    """The hub sent no watch list in time (``--once``)."""


def chunks(sessions: Sequence[SessionState], size: int = SESSIONS_PER_REPORT) -> Iterator[Sequence[SessionState]]:
    """The sessions split into report-sized pieces; an empty state still yields one empty piece."""
    if not sessions:
        yield ()
    for i in range(0, len(sessions), size):
        yield sessions[i:i + size]


# libzmq waits the current interval plus a random part of the first one, doubling the interval after
# each failed attempt up to the maximum: so a node retries at least every 6 + 3 = 9 s, however long
# the hub was away, and a lab's nodes come back within 10 s of the hub.
RECONNECT_FIRST_MS = (1000, 3000)
RECONNECT_MAX_MS = 6000


def _tune(sock: zmq.Socket, ipv6: bool = False) -> None:
    # Randomised reconnects spread a whole lab's reconnects after a hub restart; heartbeats notice a
    # frozen hub that TCP alone would not.
    if ipv6:
        sock.setsockopt(zmq.IPV6, 1)
    sock.setsockopt(zmq.RECONNECT_IVL, random.randint(*RECONNECT_FIRST_MS))
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_MAX_MS)
    sock.setsockopt(zmq.HEARTBEAT_IVL, 10_000)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 30_000)
    sock.setsockopt(zmq.TCP_KEEPALIVE, 1)


class NodeAgent:
    def __init__(self, identity: NodeIdentity, endpoints: Endpoints, scope: str = "user",
                 codec: str = "msgpack", outbox: Outbox | None = None,
                 max_closed: int = DEFAULT_MAX_CLOSED, links: HubLinks | None = None,
                 clock: Clock | None = None, presence: PresenceSource | None = None) -> None:
        self.identity = identity
        self.endpoints = endpoints
        self.scope = scope
        self.codec = codec
        self.config: Config | None = None
        self._presence = presence
        self._ledger = PresenceLedger(DEFAULT_IDLE_AFTER) if presence is not None else None
        self.tracker = SessionTracker(DEFAULT_GRACE, max_closed=max_closed, presence=self._ledger)
        self._outbox = outbox
        self._clock = clock or Clock()
        self._scanner: Scanner | None = None
        self._interval = 0.0
        self._next_tick: float | None = None
        # Starting from the wall clock keeps seq increasing across restarts of the node, so an ack
        # meant for a previous run can never acknowledge this run's sessions.
        self._seq = int(self._clock.wall() * 1000)
        self._stopping = False
        self._links = links or HubLinks()
        self._ctx = zmq.Context()
        self._ctx.linger = 0
        self._sub = self._open_sub()
        self._push: zmq.Socket | None = None

    # ---- sockets --------------------------------------------------------------------------------

    def _open_sub(self) -> zmq.Socket:
        sub = self._ctx.socket(zmq.SUB)
        _tune(sub, self.endpoints.ipv6)
        self._links.prepare(sub)
        sub.setsockopt(zmq.SUBSCRIBE, CONFIG_TOPIC)
        sub.setsockopt(zmq.SUBSCRIBE, ack_topic(self.identity.node))
        for endpoint in self.endpoints.config:
            sub.connect(endpoint)
        return sub

    def _open_push(self) -> zmq.Socket:
        push = self._ctx.socket(zmq.PUSH)
        _tune(push, self.endpoints.ipv6)
        # Without IMMEDIATE a report to a hub that is down parks in a dead pipe; with it the send
        # fails at once, and the next report carries the same state anyway.
        push.setsockopt(zmq.IMMEDIATE, 1)
        push.setsockopt(zmq.SNDHWM, 32)
        self._links.prepare(push)
        for endpoint in self.endpoints.report:
            push.connect(endpoint)
        return push

    def _replace_denied_sockets(self) -> None:
        """libzmq never retries a handshake the hub denied: after a wait, try with new sockets.

        Only sockets change; sessions, sequence numbers and the config in force stay."""
        for sock in self._links.due():
            self._links.close(sock)
            if sock is self._sub:
                self._sub = self._open_sub()
            else:
                self._push = self._open_push()

    # ---- lifecycle ------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), self._on_stop_signal)

    def _on_stop_signal(self, signum: int, _frame: Any) -> None:
        self.request_stop(f"received {signal.Signals(signum).name}")

    def request_stop(self, reason: str) -> None:
        """Stop after the current poll (at most POLL_CAP_SECONDS) with a final report and bye.
        Safe from any thread: it only sets a flag the loop reads."""
        if not self._stopping:
            log.info("%s: sending the final report", reason)
        self._stopping = True

    def run(self) -> None:
        self._push = self._open_push()
        log.info("node %s started: config from %s, reports to %s, scope %s", self.identity.node,
                 ", ".join(self.endpoints.config), ", ".join(self.endpoints.report), self.scope)
        self._take_over_outbox()
        try:
            while not self._stopping:
                self._replace_denied_sockets()
                self._wait_and_receive(self._seconds_to_tick())
                if self._next_tick is not None and time.monotonic() >= self._next_tick:
                    self._tick()
            self._say_bye()
        finally:
            self.close()

    def _take_over_outbox(self) -> None:
        if self._outbox is None:
            return
        cached = self._outbox.load_config()
        if cached is not None:
            log.info("watching with the list of the previous run (digest %s) until the hub sends one",
                     cached.digest)
            self._apply(cached)
        left = self._outbox.load()
        self.tracker.restore(left, self._outbox.load_carry())
        if left:
            log.info("%d sessions of a previous run are not acknowledged yet; they go with the next "
                     "report", len(left))
        self._save_outbox()

    def _save_outbox(self) -> None:
        changes = self.tracker.changes()
        if self._outbox is not None:
            self._outbox.save(changes)

    def once(self, wait: float) -> Report:
        """Wait for the hub's config, scan once and return the report that would be sent."""
        deadline = time.monotonic() + wait
        while self.config is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                hubs = ", ".join(self.endpoints.config)
                problem = self._links.problem or "is procmesh-hub running and reachable?"
                raise NoConfigError(f"no watch list from the hub at {hubs} within {wait:.0f} s: {problem}")
            self._wait_and_receive(remaining)
        self._scan()
        return self._report(tuple(self.tracker.pending()), self._seq, "report")

    def close(self) -> None:
        for sock in (self._sub, self._push):
            if sock is not None:
                self._links.close(sock)
        self._ctx.term()
        if self._outbox is not None:
            self._outbox.close()
        if self._presence is not None:
            self._presence.close()

    # ---- receiving ------------------------------------------------------------------------------

    def _seconds_to_tick(self) -> float:
        if self._next_tick is None:
            return POLL_CAP_SECONDS
        return min(max(0.0, self._next_tick - time.monotonic()), POLL_CAP_SECONDS)

    def _wait_and_receive(self, timeout: float) -> None:
        if not self._links.poll(self._sub, timeout):
            return
        acknowledged = 0
        while True:
            try:
                frame = self._sub.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            try:
                message = decode_hub_frame(frame)
            except ProtocolError as exc:
                log.warning("ignored a malformed message from the hub: %s", exc)
                continue
            if isinstance(message, Ack):
                acknowledged += self.tracker.acknowledge(message.seqs)
            else:
                self._apply(message)
        if acknowledged:
            self._save_outbox()

    def _apply(self, config: Config) -> None:
        if self.config is not None and config.digest == self.config.digest:
            return
        try:
            matcher = Matcher(config.watch)
        except WatchListError as exc:
            log.error("ignored config %s from the hub: %s", config.digest, exc)
            return
        problem = grace_problem(config.interval, config.grace)
        if problem is not None:
            log.error("ignored config %s from the hub: %s; %s", config.digest, problem,
                      "keeping the one in force" if self.config else "not scanning until a usable one")
            return
        first = self.config is None
        self.config = config
        if self._outbox is not None:
            self._outbox.save_config(config)
        self._scanner = Scanner(matcher, self.scope, created=self._clock.created)
        self.tracker.grace = config.grace
        if self._ledger is not None:
            self._ledger.idle_after = config.idle_after
        self._interval = config.interval
        now = time.monotonic()
        if first:
            # Wait a random part of the interval before the first scan and keep that phase, so a
            # lab that logs in at 8:00 sharp does not report in lockstep.
            self._next_tick = now + random.uniform(0, config.interval)
        else:
            self._next_tick = min(self._next_tick or now, now + config.interval)
        log.info("applied config %s (version %d): %d labels, interval %.1f s, grace %.0f s, "
                 "idle after %.0f s", config.digest, config.version, len(config.watch),
                 config.interval, config.grace, config.idle_after)

    # ---- scanning and reporting -----------------------------------------------------------------

    def _scan(self) -> None:
        assert self._scanner is not None
        # Read before the scan: a process created while the scan ran may be missed by it, and the
        # next scan then counts it from its start, which is after this moment. The desktop is read
        # right after the clock: a reading's idle time counts back from that moment.
        at = self._clock.read()
        readings = self._presence.read() if self._presence is not None else {}
        self.tracker.observe(at, self._scanner.scan(), readings)

    def _tick(self) -> None:
        self._scan()
        self._save_outbox()
        self._send(tuple(self.tracker.pending()), last_kind="report")
        assert self._next_tick is not None
        self._next_tick += self._interval
        now = time.monotonic()
        if self._next_tick <= now:
            # Fell behind (suspend, overload): skip the missed ticks but keep the phase.
            missed = (now - self._next_tick) // self._interval + 1
            self._next_tick += missed * self._interval

    def _say_bye(self) -> None:
        self.tracker.close_all()
        self._save_outbox()
        assert self._push is not None
        self._push.setsockopt(zmq.LINGER, BYE_LINGER_MS)
        self._send(tuple(self.tracker.pending()), last_kind="bye")
        # Wait briefly for the hub to confirm, so the next run does not send these sessions again;
        # without an answer they stay in the outbox, and the hub takes the repeat in its stride.
        deadline = time.monotonic() + BYE_LINGER_MS / 1000
        while self.tracker.pending() and time.monotonic() < deadline:
            self._wait_and_receive(deadline - time.monotonic())
        log.info("node %s stopped", self.identity.node)

    def _report(self, sessions: Sequence[SessionState], seq: int, kind: str) -> Report:
        cfg = self.config.digest if self.config else ""
        return Report(self.identity.node, self.identity.host, self.identity.user, seq, self._clock.wall(),
                      cfg, self.identity.agent, self.identity.os, tuple(sessions), kind)

    def _send(self, sessions: Sequence[SessionState], last_kind: str) -> None:
        pieces = list(chunks(sessions))
        for i, piece in enumerate(pieces):
            self._seq += 1
            kind = last_kind if i == len(pieces) - 1 else "report"
            frame = encode_report(self._report(piece, self._seq, kind), self.codec)
            try:
                assert self._push is not None
                self._push.send(frame, zmq.NOBLOCK)
            except zmq.Again:
                log.debug("hub not reachable; report %d not sent", self._seq)
                return
            self.tracker.mark_sent(self._seq, piece)
