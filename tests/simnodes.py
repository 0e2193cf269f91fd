"""Simulated nodes for fault-injection tests: many real session trackers over real ZeroMQ sockets.

    python -m tests.simnodes --config-endpoint EP --report-endpoint EP --nodes 200 --out truth.json

Each simulated node is a real ``node.sessions.SessionTracker`` fed synthetic sightings: the label
``always`` is seen at every scan (one session per node for the whole run) and, with ``--blink ON,OFF``,
the label ``blink`` is seen for ON seconds out of every ON+OFF, so with OFF longer than the hub's
grace, closed sessions exist that must survive until a hub acknowledges them. Nodes wait for the
hub's config, scan and report every ``interval`` of that config, apply acks, and are spread over
``--sockets`` PUSH/SUB pairs tuned as a real node tunes its own.

On SIGTERM (or after ``--duration``) every node closes its sessions and keeps reporting until all of
them are acknowledged (at most ``--drain`` seconds); then the ground truth goes to ``--out``: per node,
every session with its label, start and final end, and counters (reports sent, sends refused, when
configs and acks arrived). ``Truth.load`` reads it back.
"""
from __future__ import annotations

import argparse
import heapq
import json
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import zmq

from common.protocol import (ACK_PREFIX, CONFIG_TOPIC, Ack, Config, Report, SessionState,
                             ack_topic, decode_hub_frame, encode_report)
from node.agent import _tune
from node.clock import Reading
from node.scanner import Sighting
from node.sessions import SessionTracker
from tests.dbrows import StoredSession
from tests.processes import Mesh, Running, start

ALWAYS = "always"
BLINK = "blink"
POLL_CAP_SECONDS = 0.25
# A real node allows 32 reports in the send queue; a shared socket carries several nodes' reports.
SNDHWM_PER_NODE = 32


@dataclass
class SimNode:
    index: int
    node: str
    host: str
    push: zmq.Socket
    blink_phase: float
    tracker: SessionTracker = field(default_factory=lambda: SessionTracker(30.0))
    config: Config | None = None
    seq: int = field(default_factory=lambda: int(time.time() * 1000))
    truth: dict[bytes, SessionState] = field(default_factory=dict)
    reports_sent: int = 0
    sends_refused: int = 0
    config_times: list[float] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)

    def record(self) -> None:
        """Keep the latest state of every session; one the tracker forgot keeps its final state."""
        for state in self.tracker.pending():
            self.truth[state.sid] = state

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "sessions": {sid.hex(): [s.label, s.start, s.end, s.open] for sid, s in self.truth.items()},
            "unacknowledged": len(self.tracker.pending()),
            "reports_sent": self.reports_sent,
            "sends_refused": self.sends_refused,
            "config_times": self.config_times,
            "ack_times": self.ack_times,
        }


class Simulator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.blink = _blink_schedule(args.blink)
        self.ctx = zmq.Context()
        self.ctx.linger = 0
        self.ctx.max_sockets = 2 * args.sockets + 16
        self.nodes: list[SimNode] = []
        self.by_name: dict[str, SimNode] = {}
        self.groups: dict[zmq.Socket, list[SimNode]] = {}
        self.poller = zmq.Poller()
        self.schedule: list[tuple[float, int]] = []  # (monotonic due time, node index)
        self.stop_requested = False
        self.started = time.time()
        pairs = max(1, min(args.sockets, args.nodes))
        pushes = [self._push(args.report_endpoint, -(-args.nodes // pairs)) for _ in range(pairs)]
        for i in range(args.nodes):
            host = f"{args.prefix}-{i:04d}"
            node = SimNode(i, f"{host}/sim", host, pushes[i % pairs], self.rng.uniform(0, 1000))
            self.nodes.append(node)
            self.by_name[node.node] = node
        for group in range(pairs):
            members = self.nodes[group::pairs]
            self.groups[self._sub(args.config_endpoint, members)] = members

    def _push(self, endpoint: str, nodes: int) -> zmq.Socket:
        sock = self.ctx.socket(zmq.PUSH)
        _tune(sock)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.SNDHWM, SNDHWM_PER_NODE * nodes)
        sock.connect(endpoint)
        return sock

    def _sub(self, endpoint: str, members: Sequence[SimNode]) -> zmq.Socket:
        sock = self.ctx.socket(zmq.SUB)
        _tune(sock)
        sock.setsockopt(zmq.SUBSCRIBE, CONFIG_TOPIC)
        for node in members:
            sock.setsockopt(zmq.SUBSCRIBE, ack_topic(node.node))
        sock.connect(endpoint)
        self.poller.register(sock, zmq.POLLIN)
        return sock

    # ---- the loop -------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        print(f"simnodes: {len(self.nodes)} nodes on {len(self.groups)} socket pairs", flush=True)
        end_of_run = time.monotonic() + self.args.duration if self.args.duration else float("inf")
        while not self.stop_requested and time.monotonic() < end_of_run:
            self._step(scanning=True)
        stopped = time.time()
        for node in self.nodes:
            node.tracker.close_all()
            node.record()
        print(f"simnodes: stopping, waiting up to {self.args.drain:g} s for every closed session's ack",
              flush=True)
        drain_until = time.monotonic() + self.args.drain
        while time.monotonic() < drain_until and any(n.tracker.pending() for n in self.nodes):
            self._step(scanning=False)
        drained = not any(n.tracker.pending() for n in self.nodes)
        return {"started": self.started, "stopped": stopped, "drained": drained,
                "nodes": {n.node: n.to_json() for n in self.nodes}}

    def _step(self, scanning: bool) -> None:
        now = time.monotonic()
        wait = min(POLL_CAP_SECONDS, self.schedule[0][0] - now) if self.schedule else POLL_CAP_SECONDS
        for sock, _ in self.poller.poll(max(0, int(wait * 1000))):
            self._receive(sock)
        now = time.monotonic()
        while self.schedule and self.schedule[0][0] <= now:
            due, index = heapq.heappop(self.schedule)
            node = self.nodes[index]
            self._tick(node, scanning)
            assert node.config is not None
            interval = node.config.interval
            # Fell behind (an overloaded machine): skip the missed ticks but keep the phase.
            due += interval * max(1, int((now - due) // interval) + 1)
            heapq.heappush(self.schedule, (due, index))

    def _receive(self, sock: zmq.Socket) -> None:
        while True:
            try:
                frame = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            received = time.time()
            message = decode_hub_frame(frame)
            if isinstance(message, Ack):
                name = frame[len(ACK_PREFIX):frame.index(b"\0", len(ACK_PREFIX))].decode("utf-8")
                node = self.by_name[name]
                node.ack_times.append(received)
                node.tracker.acknowledge(message.seqs)
            else:
                for node in self.groups[sock]:
                    node.config_times.append(received)
                    self._apply(node, message)

    def _apply(self, node: SimNode, config: Config) -> None:
        first = node.config is None
        node.config = config
        node.tracker.grace = config.grace
        if first:
            # As a real node: a random part of the interval before the first scan, then that phase.
            due = time.monotonic() + self.rng.uniform(0, config.interval)
            heapq.heappush(self.schedule, (due, node.index))

    def _tick(self, node: SimNode, scanning: bool) -> None:
        if scanning:
            at = Reading(time.time(), time.monotonic(), None)
            node.tracker.observe(at, self._sightings(node, at.wall))
            node.record()
        pending = tuple(node.tracker.pending())
        if not scanning and not pending:
            return
        node.seq += 1
        assert node.config is not None
        report = Report(node.node, node.host, "sim", node.seq, time.time(), node.config.digest,
                        "simnodes", "sim", pending)
        try:
            node.push.send(encode_report(report), zmq.NOBLOCK)
        except zmq.Again:
            node.sends_refused += 1  # hub down: the next report carries the same state
            return
        node.reports_sent += 1
        node.tracker.mark_sent(node.seq, pending)

    def _sightings(self, node: SimNode, now: float) -> dict[tuple[str, None], Sighting]:
        seen = {(ALWAYS, None): _one_process(self.started)}
        if self.blink is not None:
            on, off = self.blink
            into = (now - self.started + node.blink_phase) % (on + off)
            if into < on:
                # The "program" started when this on-phase began.
                seen[(BLINK, None)] = _one_process(now - into)
        return seen

    def close(self) -> None:
        for sock in (*self.groups, *{n.push for n in self.nodes}):
            sock.close()
        self.ctx.term()


def _one_process(created: float) -> Sighting:
    return Sighting(created, frozenset({(1, created)}))


def _blink_schedule(text: str) -> tuple[float, float] | None:
    if not text or text == "0":
        return None
    on, off = (float(part) for part in text.split(","))
    return on, off


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.simnodes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-endpoint", required=True)
    parser.add_argument("--report-endpoint", required=True)
    parser.add_argument("--out", required=True, type=Path, help="ground truth JSON file")
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--sockets", type=int, default=4, help="PUSH/SUB pairs the nodes share")
    parser.add_argument("--prefix", default="sim", help="host name prefix of the simulated nodes")
    parser.add_argument("--blink", default="", help="ON,OFF seconds of the blinking label (none by default)")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to run (0: until SIGTERM)")
    parser.add_argument("--drain", type=float, default=30.0,
                        help="seconds to wait for the acks of the closed sessions at the end")
    parser.add_argument("--seed", type=int, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sim = Simulator(args)

    def request_stop(*_: Any) -> None:
        sim.stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        truth = sim.run()
    finally:
        sim.close()
    # Written whole, then renamed: a reader never sees half a file.
    partial = args.out.with_name(args.out.name + ".partial")
    partial.write_text(json.dumps(truth), encoding="utf-8")
    partial.replace(args.out)
    print(f"simnodes: wrote {args.out} (drained: {truth['drained']})", flush=True)
    return 0


# ---- reading the truth back (for tests) ----------------------------------------------------------

@dataclass(frozen=True)
class TrueSession:
    node: str
    label: str
    start: float
    end: float


@dataclass(frozen=True)
class TrueNode:
    sessions: dict[bytes, TrueSession]
    unacknowledged: int
    reports_sent: int
    sends_refused: int
    config_times: list[float]
    ack_times: list[float]


@dataclass(frozen=True)
class Truth:
    started: float
    stopped: float
    drained: bool
    nodes: dict[str, TrueNode]

    @classmethod
    def load(cls, path: Path) -> Truth:
        data = json.loads(path.read_text(encoding="utf-8"))
        nodes = {
            name: TrueNode(
                sessions={bytes.fromhex(sid): TrueSession(name, label, start, end)
                          for sid, (label, start, end, _open) in raw["sessions"].items()},
                unacknowledged=raw["unacknowledged"], reports_sent=raw["reports_sent"],
                sends_refused=raw["sends_refused"], config_times=raw["config_times"],
                ack_times=raw["ack_times"])
            for name, raw in data["nodes"].items()}
        return cls(data["started"], data["stopped"], data["drained"], nodes)

    @property
    def sessions(self) -> dict[bytes, TrueSession]:
        return {sid: s for node in self.nodes.values() for sid, s in node.sessions.items()}

    def ack_times(self) -> list[float]:
        return sorted(t for node in self.nodes.values() for t in node.ack_times)


def millis(ts: float) -> int:
    """A time at the database's precision (it rounds to the millisecond)."""
    return round(ts * 1000)


def differences(truth: Truth, stored: Sequence[tuple[bytes, StoredSession]]) -> list[str]:
    """How the stored rows differ from the truth: sessions missing, stored twice, unknown, or with
    another node, label, start or end (at millisecond precision). Empty when they agree."""
    expected = truth.sessions
    problems: list[str] = []
    seen: set[bytes] = set()
    for sid, row in stored:
        want = expected.get(sid)
        if sid in seen:
            problems.append(f"{sid.hex()} stored twice")
        elif want is None:
            problems.append(f"{sid.hex()} stored but never reported: {row}")
        elif ((row.node, row.process, millis(row.start), millis(row.end))
              != (want.node, want.label, millis(want.start), millis(want.end))):
            problems.append(f"{sid.hex()} stored as {row}, truth {want}")
        seen.add(sid)
    problems += [f"{sid.hex()} missing: {want}" for sid, want in expected.items() if sid not in seen]
    return problems


# ---- running it from a test -------------------------------------------------------------------------

@dataclass
class SimRun:
    process: Running
    out: Path
    drain: float

    def finish(self) -> Truth:
        """Stop the simulated nodes (SIGTERM) and read the truth they wrote."""
        code = self.process.stop(self.drain + 30.0)
        assert code == 0, self.process.log()
        return Truth.load(self.out)


def start_sim(mesh: Mesh, nodes: int, *options: str, name: str = "sim", drain: float = 30.0) -> SimRun:
    """Simulated nodes reporting to the mesh's hub; stopped with the mesh's other children."""
    out = mesh.folder / f"{name}-truth.json"
    args = [*mesh.endpoints, "--nodes", str(nodes), "--out", str(out), "--prefix", name,
            "--drain", str(drain), *options]
    running = start("tests.simnodes", args, mesh.folder, f"{name}.log")
    mesh.children.append(running)
    running.wait_log("simnodes:")
    return SimRun(running, out, drain)


if __name__ == "__main__":
    sys.exit(main())
