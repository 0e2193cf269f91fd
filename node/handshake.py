"""The node's view of its handshakes with the hub, from ZeroMQ socket monitor events.

A failed handshake never raises on send or recv; only a monitor event tells. Measured with
pyzmq 27 / libzmq 4.3.5:
- HANDSHAKE_FAILED_AUTH (status 400): the hub's ZAP handler denied this node's key. libzmq never
  tries that socket again, not even after the key is allowed, and sends just fail or queue. So the
  node says so at ERROR, and replaces the socket after ``auth_retry`` seconds (plus or minus a
  quarter, so a denied lab does not come back in lockstep).
- HANDSHAKE_FAILED_NO_DETAIL: the hub could not decrypt the greeting, usually a wrong ``hub_key``;
  also seen once before a mechanism mismatch. libzmq retries by itself, every few seconds.
- HANDSHAKE_FAILED_PROTOCOL with a mechanism mismatch: one side uses CURVE and the other does not.
Repeating failures are logged once a minute, not once per retry.

Connect and disconnect events tell whether any hub is reachable at all (``Reachability``): a hub
that is down, a wrong address or a firewall shows as no connection, which nothing else would log.

Monitor sockets are PAIR sockets over inproc, polled with the SUB socket in the node's one thread.
Each event names the endpoint it concerns, so a socket connected to several hubs is handled too:
when one of them denies the key, the whole socket is replaced, and its other connections resume
after a moment.
"""
from __future__ import annotations

import itertools
import logging
import random
import time
from typing import Callable, Hashable, Sequence

import zmq
from zmq.utils.monitor import recv_monitor_message

from node.keys import CurveClient

log = logging.getLogger("procmesh.node")

EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
          | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
          | zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
MECHANISM_MISMATCH = 0x11000002   # ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
REPEAT_LOG_SECONDS = 60.0
DEFAULT_AUTH_RETRY = 60.0
# A hub restart or a short network cut is over within a minute or two; longer is worth a line.
UNREACHABLE_LOG_SECONDS = 120.0


def duration_text(seconds: float) -> str:
    return f"{seconds / 60:.0f} minutes" if seconds >= 90 else f"{seconds:.0f} s"


class Reachability:
    """Whether any hub is reachable, from the connections that are up. After ``after`` seconds with
    none, it says so once, and again when one comes back."""

    def __init__(self, hubs: Sequence[str] = (), after: float = UNREACHABLE_LOG_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._hubs = ", ".join(hubs) or "any endpoint"
        self._after = after
        self._clock = clock
        self._up: set[tuple[Hashable, str]] = set()
        self._down_since = clock()
        self._reported = False

    def connected(self, sock: Hashable, endpoint: str) -> None:
        if not self._up and self._reported:
            log.info("a hub is reachable again at %s, after %s without any", endpoint,
                     duration_text(self._clock() - self._down_since))
        self._reported = False
        self._up.add((sock, endpoint))

    def disconnected(self, sock: Hashable, endpoint: str) -> None:
        self._discard({(sock, endpoint)})

    def forget(self, sock: Hashable) -> None:
        """The socket was closed: its connections are gone with it."""
        self._discard({item for item in self._up if item[0] is sock})

    def _discard(self, gone: set[tuple[Hashable, str]]) -> None:
        if self._up and gone >= self._up:
            self._down_since = self._clock()
        self._up -= gone

    def check(self) -> None:
        waited = self._clock() - self._down_since
        if not self._up and not self._reported and waited >= self._after:
            self._reported = True
            log.warning("no hub reachable at %s for %s: is the hub running, is the address right, "
                        "does a firewall block it? The node goes on counting and sends everything "
                        "once a hub is back", self._hubs, duration_text(waited))


class HubLinks:
    """CURVE options and handshake monitoring for the sockets a node connects to the hub."""

    def __init__(self, curve: CurveClient | None = None, auth_retry: float = DEFAULT_AUTH_RETRY,
                 reachability: Reachability | None = None) -> None:
        self._curve = curve
        self._reachability = reachability or Reachability()
        self._auth_retry = auth_retry
        self._monitors: dict[zmq.Socket, zmq.Socket] = {}
        self._retry_at: dict[zmq.Socket, float] = {}
        self._denied_endpoints: set[str] = set()
        self._last_logged: dict[str, float] = {}
        self._addresses = itertools.count()
        self.problem = ""   # the latest handshake failure, for messages such as --once's

    def prepare(self, sock: zmq.Socket) -> None:
        """Give a new socket its CURVE keys and a monitor; call before connecting it."""
        if self._curve is not None:
            self._curve.secure(sock)
        # Unique per socket: a replacement socket must not race its predecessor's inproc name.
        address = f"inproc://procmesh-monitor-{next(self._addresses)}"
        self._monitors[sock] = sock.get_monitor_socket(EVENTS, address)

    def close(self, sock: zmq.Socket) -> None:
        monitor = self._monitors.pop(sock, None)
        if monitor is not None:
            sock.disable_monitor()
            monitor.close()
        self._reachability.forget(sock)
        self._retry_at.pop(sock, None)
        sock.close()

    def poll(self, sub: zmq.Socket, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; handle handshake events; True when ``sub`` is readable."""
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        for monitor in self._monitors.values():
            poller.register(monitor, zmq.POLLIN)
        ready = dict(poller.poll(int(timeout * 1000)))
        for sock, monitor in list(self._monitors.items()):
            if monitor in ready:
                self._drain(sock, monitor)
        self._reachability.check()
        return sub in ready

    def due(self) -> list[zmq.Socket]:
        """Denied sockets whose wait is over: the caller closes and replaces each of them."""
        now = time.monotonic()
        return [sock for sock, at in self._retry_at.items() if at <= now]

    def _drain(self, sock: zmq.Socket, monitor: zmq.Socket) -> None:
        while monitor.poll(0):
            event = recv_monitor_message(monitor)
            endpoint = event["endpoint"].decode("utf-8", "replace")
            # Plain ints: pyzmq hands both out as zmq.Event flags, which Python 3.10 prints as names.
            self._on_event(sock, endpoint, int(event["event"]), int(event["value"]))

    def _on_event(self, sock: zmq.Socket, endpoint: str, event: int, value: int) -> None:
        if event == zmq.EVENT_CONNECTED:
            self._reachability.connected(sock, endpoint)
        elif event == zmq.EVENT_DISCONNECTED:
            self._reachability.disconnected(sock, endpoint)
        elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            if endpoint in self._denied_endpoints:
                self._denied_endpoints.discard(endpoint)
                log.info("the hub at %s accepted this node's key", endpoint)
            self.problem = ""
        elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            self._on_denied(sock, endpoint, value)
        elif event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and value == MECHANISM_MISMATCH:
            self._report("mismatch", endpoint, (
                "the hub does not use CURVE, but this node does (hub_key is set): run the hub with "
                "--curve, or remove hub_key here") if self._curve else (
                "the hub requires CURVE encryption: set hub_key to the hub's public key "
                "(procmesh-hub keys list shows it) and run procmesh-node keys init"))
        elif event in (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL):
            self._report("failed", endpoint, (
                "hub_key is probably not the hub's public key (procmesh-hub keys list shows it), "
                "or the hub runs without --curve") if self._curve else (
                "the hub probably requires CURVE encryption (set hub_key)"))

    def _on_denied(self, sock: zmq.Socket, endpoint: str, status: int) -> None:
        if sock in self._retry_at:
            return
        delay = self._auth_retry * random.uniform(0.75, 1.25)
        self._retry_at[sock] = time.monotonic() + delay
        self._denied_endpoints.add(endpoint)
        key = self._curve.pair.public.decode() if self._curve else ""
        name = (self._curve.name if self._curve else "") or "NAME"
        self.problem = (f"the hub at {endpoint} denied this node's key {key} (ZAP status {status}): ask "
                        f"its administrator to run: procmesh-hub keys allow '{key}' --name {name}")
        log.error("%s; nothing reaches the hub until then; trying again in %.0f s", self.problem, delay)

    def _report(self, kind: str, endpoint: str, advice: str) -> None:
        self.problem = f"handshake with the hub at {endpoint} failed: {advice}"
        now = time.monotonic()
        if now - self._last_logged.get(kind, -REPEAT_LOG_SECONDS) >= REPEAT_LOG_SECONDS:
            self._last_logged[kind] = now
            log.error("%s (logged once a minute while it lasts)", self.problem)
