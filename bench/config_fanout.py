"""Config fan-out benchmark: a real hub pushes an edited watch list to many subscribed nodes.

Simulated nodes are real SUB sockets, subscribed as real nodes subscribe (the config topic and their
own ack topic, with the node's heartbeat options), spread over a few processes.

(a) Fan-out: every node holds the watch list; the watch file is edited (as an editor saves: write
    a new file, rename it over the old one); time until each node holds the new digest. This
    includes the hub's ~200 ms debounce of file events.
(b) Login storm: nodes connect at random moments spread over a window; time from each connect to
    the watch list arriving (the hub's XPUB welcome message).

Baselines, same run, same sockets and processes: (a) a bare XPUB in this process sends the same
config frame to the same number of subscribers; (b) the same storm against a bare XPUB with the
same welcome message.

    python bench/config_fanout.py                         # 1,000 nodes, 4 processes, 10 s storm
    python bench/config_fanout.py --nodes 20 --processes 2 --storm 1    # smoke size (CI)
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import random
import tempfile
import time
from pathlib import Path
from typing import Callable

import zmq

from harness import Subscribers, as_a_node, free_port, percentile, start_hub
from common.protocol import CONFIG_TOPIC, Config, ack_topic, config_frame, decode_hub_frame, make_config
from common.watchlist import parse_watchlist

WATCH = "chrome.exe\nfirefox\nOffice = winword, excel, powerpnt\n"
EDITED = WATCH + "vscode = code\n"
DEADLINE = 60.0


def subscriber(ctx: zmq.Context, endpoint: str, node: str) -> zmq.Socket:
    sub = ctx.socket(zmq.SUB)
    as_a_node(sub)
    sub.setsockopt(zmq.SUBSCRIBE, CONFIG_TOPIC)
    sub.setsockopt(zmq.SUBSCRIBE, ack_topic(node))
    sub.connect(endpoint)
    return sub


def digest_of(frame: bytes) -> str | None:
    message = decode_hub_frame(frame)
    return message.digest if isinstance(message, Config) else None


def node_context(sockets: int) -> zmq.Context:
    ctx = zmq.Context()
    ctx.linger = 0
    ctx.set(zmq.MAX_SOCKETS, sockets + 16)
    return ctx


def fanout_worker(endpoint: str, nodes: list[str], ready: mp.Queue, results: mp.Queue) -> None:
    """Connect every node, report ready once all hold a watch list, then the moment each gets a new one."""
    ctx = node_context(len(nodes))
    inbox = Subscribers()
    held: dict[zmq.Socket, str] = {}
    for node in nodes:
        inbox.add(subscriber(ctx, endpoint, node))
    deadline = time.monotonic() + DEADLINE
    while len(held) < len(nodes) and time.monotonic() < deadline:
        for sub, frame in inbox.receive(0.1):
            held.setdefault(sub, digest_of(frame) or "")
    ready.put(len(held))
    changed: dict[zmq.Socket, float] = {}
    deadline = time.monotonic() + DEADLINE
    while len(changed) < len(held) and time.monotonic() < deadline:
        for sub, frame in inbox.receive(0.1):
            digest = digest_of(frame)
            if digest is not None and digest != held.get(sub) and sub not in changed:
                changed[sub] = time.monotonic()
    results.put(list(changed.values()))
    inbox.close()
    ctx.term()


def storm_worker(endpoint: str, nodes: list[str], spread: float, seed: int, results: mp.Queue) -> None:
    """Connect each node at a random moment within ``spread`` seconds; the delay to its watch list."""
    ctx = node_context(len(nodes))
    inbox = Subscribers()
    rng = random.Random(seed)
    schedule = sorted((rng.uniform(0, spread), node) for node in nodes)
    start = time.monotonic()
    connected: dict[zmq.Socket, float] = {}
    delays: dict[zmq.Socket, float] = {}
    deadline = start + spread + DEADLINE
    while len(delays) < len(nodes) and time.monotonic() < deadline:
        while schedule and time.monotonic() - start >= schedule[0][0]:
            _, node = schedule.pop(0)
            sub = subscriber(ctx, endpoint, node)
            connected[sub] = time.monotonic()
            inbox.add(sub)
        wait = schedule[0][0] - (time.monotonic() - start) if schedule else 0.1
        for sub, frame in inbox.receive(max(0.0, min(wait, 0.1))):
            if sub not in delays and digest_of(frame) is not None:
                delays[sub] = time.monotonic() - connected[sub]
    results.put(list(delays.values()))
    inbox.close()
    ctx.term()


def spread_over(processes: int, target: Callable[..., None], endpoint: str, nodes: list[str],
                *extra: object) -> tuple[list[mp.Process], mp.Queue]:
    """target(endpoint, its share of nodes, *extra, results) in each of ``processes`` processes."""
    results: mp.Queue = mp.Queue()
    procs = [mp.Process(target=target, args=(endpoint, nodes[i::processes], *extra, results))
             for i in range(processes)]
    for proc in procs:
        proc.start()
    return procs, results


def nap() -> None:
    time.sleep(0.01)


def take(results: mp.Queue, idle: Callable[[], None]) -> object:
    """The next result; meanwhile idle() keeps this process's own sockets served."""
    while True:
        try:
            return results.get_nowait()
        except queue.Empty:
            idle()


def gather(procs: list[mp.Process], results: mp.Queue, idle: Callable[[], None]) -> list[float]:
    values = [value for _ in procs for value in take(results, idle)]
    for proc in procs:
        proc.join()
    return values


def fanout(endpoint: str, nodes: list[str], processes: int, publish: Callable[[], None],
           idle: Callable[[], None] = nap) -> tuple[list[float], int]:
    """Delays from publish() to each node holding the new digest, and how many nodes were ready."""
    ready: mp.Queue = mp.Queue()
    procs, results = spread_over(processes, fanout_worker, endpoint, nodes, ready)
    holding = sum(take(ready, idle) for _ in procs)
    t0 = time.monotonic()
    publish()
    return [t - t0 for t in gather(procs, results, idle)], holding


def storm(endpoint: str, nodes: list[str], processes: int, spread: float,
          idle: Callable[[], None] = nap) -> list[float]:
    procs, results = spread_over(processes, storm_worker, endpoint, nodes, spread, 1)
    return gather(procs, results, idle)


def edit(watch_file: Path) -> None:
    """Save as editors do: a new file renamed over the old one."""
    temporary = watch_file.with_suffix(".tmp")
    temporary.write_text(EDITED)
    os.replace(temporary, watch_file)


class BareXPUB:
    """The floor: libzmq alone, sending the same frames from an XPUB in this process."""

    def __init__(self) -> None:
        self.ctx = zmq.Context()
        self.ctx.linger = 0
        self.ctx.set(zmq.MAX_SOCKETS, 64)
        self.xpub = self.ctx.socket(zmq.XPUB)
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        old, new = (make_config(parse_watchlist(text), 5.0, 30.0, version, time.time())
                    for version, text in ((1, WATCH), (2, EDITED)))
        self.old_frame, self.new_frame = config_frame(old), config_frame(new)
        self.xpub.setsockopt(zmq.XPUB_WELCOME_MSG, self.old_frame)
        self.xpub.bind(self.endpoint)

    def serve(self) -> None:
        """Wait on the socket and read subscription messages, as the hub's loop does: a socket
        attaches new subscribers (and sends them the welcome message) when its owner calls it."""
        self.xpub.poll(10)
        while True:
            try:
                self.xpub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return

    def publish(self) -> None:
        self.xpub.send(self.new_frame)

    def close(self) -> None:
        self.xpub.close()
        self.ctx.term()


def show(title: str, delays: list[float], expected: int) -> None:
    def ms(p: float) -> str:
        return f"{percentile(delays, p) * 1000:8.1f}"
    print(f"  {title:40s} p50 {ms(50)} ms   p99 {ms(99)} ms   max {max(delays, default=float('nan')) * 1000:8.1f} ms"
          f"   ({len(delays)}/{expected} nodes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4, help="processes the simulated nodes are spread over")
    parser.add_argument("--storm", type=float, default=10.0, help="seconds over which the login storm connects")
    args = parser.parse_args()
    nodes = [f"fan-{i:05d}/u" for i in range(args.nodes)]
    storm_nodes = [f"storm-{i:05d}/u" for i in range(args.nodes)]
    print(f"== config fan-out: {args.nodes} nodes in {args.processes} processes")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        watch_file = folder / "monitorProcesses.txt"
        watch_file.write_text(WATCH)
        hub = start_hub(folder, f"sqlite:///{folder / 'hub.db'}", watch_file)
        try:
            edited, holding = fanout(hub.config_endpoint, nodes, args.processes, lambda: edit(watch_file))
            stormed = storm(hub.config_endpoint, storm_nodes, args.processes, args.storm)
        finally:
            hub.stop()
    bare = BareXPUB()
    try:
        sent, _ = fanout(bare.endpoint, nodes, args.processes, bare.publish, bare.serve)
        bare_storm = storm(bare.endpoint, storm_nodes, args.processes, args.storm, bare.serve)
    finally:
        bare.close()
    print(f"  nodes holding the first watch list before the edit: {holding}/{args.nodes}")
    show("(a) edit -> new digest, hub", edited, args.nodes)
    show("    baseline: bare XPUB send -> received", sent, args.nodes)
    print(f"  (b) login storm: {args.nodes} nodes connecting over {args.storm:g} s")
    show("    connect -> watch list, hub", stormed, args.nodes)
    show("    baseline: bare XPUB welcome message", bare_storm, args.nodes)


if __name__ == "__main__":
    main()
