"""Hub ingest benchmark: simulated nodes -> real ZeroMQ -> a real hub process -> a real database.

Each simulated node holds 5 open sessions and reports them every interval (paced mode) or as fast as
the sockets take them (flat mode). Report->commit latency is measured with the hub's own acks: an
ack for (node, seq) means every report of that node up to seq is committed. In the same run, a bare
batched upsert loop writes the same number of session rows to the same kind of database: the raw
ceiling the hub is compared with.

    python bench/hub_ingest.py                         # 2,000 nodes, paced, SQLite and MariaDB
    python bench/hub_ingest.py --mode flat --duration 20
    python bench/hub_ingest.py --nodes 20 --duration 3 --backend sqlite   # smoke size (CI)
"""
from __future__ import annotations

import argparse
import collections
import datetime
import multiprocessing as mp
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pymysql
import zmq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common.ids import new_sid  # noqa: E402
from common.protocol import (ACK_PREFIX, Report, SessionState, ack_topic, decode_hub_frame,
                             encode_report)  # noqa: E402
from hub.storage import open_storage  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SenderResult:
    reports_sent: int
    reports_acked: int
    sessions_acked: int
    latencies: list[float]


def sender(index: int, node_ids: list[str], sessions: int, args: argparse.Namespace,
           config_ep: str, report_ep: str, results: mp.Queue) -> None:
    """One process simulating many nodes over a handful of socket pairs.

    Each pair (PUSH for reports, SUB for acks) serves a group of nodes, and its SUB subscribes to
    just those nodes' ack topics, as real nodes do: one subscriber for every node would receive
    acks in bursts larger than the hub's per-subscriber queue, which drops what does not fit.
    """
    ctx = zmq.Context()
    ctx.linger = 0
    groups = max(1, min(args.sockets, len(node_ids)))
    pushes, subs = [], []
    poller = zmq.Poller()
    for group in range(groups):
        sub = ctx.socket(zmq.SUB)
        for node in node_ids[group::groups]:
            sub.setsockopt(zmq.SUBSCRIBE, ack_topic(node))
        sub.connect(config_ep)
        poller.register(sub, zmq.POLLIN)
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, 1000)
        push.connect(report_ep)
        pushes.append(push)
        subs.append(sub)
    push_of = {node: pushes[i % groups] for i, node in enumerate(node_ids)}
    sids = {node: [new_sid() for _ in range(sessions)] for node in node_ids}
    started = time.time()
    seqs = dict.fromkeys(node_ids, 0)
    in_flight: dict[str, collections.deque[tuple[int, float]]] = {n: collections.deque() for n in node_ids}
    latencies: list[float] = []
    acked_reports = 0
    acked_sessions = 0
    sent = 0

    def take_ack(frame: bytes) -> None:
        nonlocal acked_reports, acked_sessions
        node = frame[len(ACK_PREFIX):frame.index(b"\0", len(ACK_PREFIX))].decode()
        queue = in_flight[node]
        ack = decode_hub_frame(frame)
        now = time.perf_counter()
        while queue and queue[0][0] <= ack.seq:
            _, t_sent = queue.popleft()
            latencies.append(now - t_sent)
            acked_reports += 1
            acked_sessions += sessions

    def drain_acks(timeout_ms: int = 0) -> None:
        ready = poller.poll(timeout_ms)
        while ready:
            for sub, _ in ready:
                while True:
                    try:
                        take_ack(sub.recv(zmq.NOBLOCK))
                    except zmq.Again:
                        break
            ready = poller.poll(0)

    def send(node: str, push: zmq.Socket) -> None:
        nonlocal sent
        seqs[node] += 1
        now = time.time()
        states = tuple(SessionState(sid, f"app{i}", started, now, True) for i, sid in enumerate(sids[node]))
        frame = encode_report(Report(node, node.split("/")[0], "bench", seqs[node], now, "", "bench", "bench",
                                     states))
        push.send(frame)
        in_flight[node].append((seqs[node], time.perf_counter()))
        sent += 1

    time.sleep(0.5)  # let the SUBs attach so early acks are not lost
    deadline = time.monotonic() + args.duration
    if args.mode == "paced":
        rng = random.Random(index)
        schedule = sorted((time.monotonic() + rng.uniform(0, args.interval), n) for n in node_ids)
        heap = collections.deque(schedule)
        while time.monotonic() < deadline:
            due, node = heap[0]
            wait = due - time.monotonic()
            if wait > 0:
                drain_acks(int(min(wait, 0.05) * 1000) or 1)
                continue
            heap.popleft()
            send(node, push_of[node])
            heap.append((due + args.interval, node))
    else:
        # Flat out, but closed-loop: at most `window` unacknowledged reports in flight, so the
        # figure is the rate the hub sustains, not the depth of the queues in front of it.
        i = 0
        while time.monotonic() < deadline:
            if sent - acked_reports >= args.window:
                drain_acks(50)
                continue
            node = node_ids[i % len(node_ids)]
            send(node, push_of[node])
            i += 1
            if i % 200 == 0:
                drain_acks()
    settle = time.monotonic() + args.settle
    while time.monotonic() < settle and any(in_flight.values()):
        drain_acks(100)
    for sock in (*subs, *pushes):
        sock.close()
    ctx.term()
    results.put(SenderResult(sent, acked_reports, acked_sessions, latencies))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def run_hub_phase(db_url: str, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    config_ep, report_ep = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    (folder / "watch.txt").write_text("bench\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    log = open(folder / "hub.log", "wb")
    hub = subprocess.Popen([sys.executable, "-m", "hub", "run", "--db", db_url, "--watch", str(folder / "watch.txt"),
                            "--config-endpoint", config_ep, "--report-endpoint", report_ep,
                            "--log-level", "WARNING"], env=env, stdout=log, stderr=subprocess.STDOUT)
    hub_ps = psutil.Process(hub.pid)
    time.sleep(1.0)
    if hub.poll() is not None:
        raise SystemExit(f"hub did not start:\n{(folder / 'hub.log').read_text()}")
    nodes = [f"bench-{i:05d}/u" for i in range(args.nodes)]
    results: mp.Queue = mp.Queue()
    procs = [mp.Process(target=sender, args=(i, nodes[i::args.senders], args.sessions, args, config_ep,
                                            report_ep, results)) for i in range(args.senders)]
    cpu_before = sum(hub_ps.cpu_times()[:2])
    t0 = time.monotonic()
    for p in procs:
        p.start()
    rss_peak = 0
    gathered = []
    while len(gathered) < len(procs):
        try:
            gathered.append(results.get(timeout=0.5))
        except Exception:
            pass
        rss_peak = max(rss_peak, hub_ps.memory_info().rss)
    elapsed = args.duration
    for p in procs:
        p.join()
    cpu = sum(hub_ps.cpu_times()[:2]) - cpu_before
    rss_end = hub_ps.memory_info().rss
    hub.terminate()
    hub.wait(15)
    log.close()
    with open_storage(db_url) as storage:
        stored_sessions = sum(r.sessions for r in storage.usage(None, None, []))
    latencies = [x for r in gathered for x in r.latencies]
    sent = sum(r.reports_sent for r in gathered)
    acked = sum(r.reports_acked for r in gathered)
    return {
        "reports_sent_per_s": sent / elapsed,
        "reports_stored_per_s": acked / elapsed,
        "session_rows_per_s": sum(r.sessions_acked for r in gathered) / elapsed,
        "unacked_reports": sent - acked,
        "distinct_sessions_stored": stored_sessions,
        "expected_sessions": args.nodes * args.sessions,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "hub_rss_peak_mb": rss_peak / 2**20,
        "hub_rss_end_mb": rss_end / 2**20,
        "hub_cpu_percent": 100 * cpu / (time.monotonic() - t0),
    }


def run_raw_phase(db_url: str, distinct: int, seconds: float, batch: int) -> float:
    """The ceiling: a bare batched upsert loop over the same number of distinct sessions, writing
    each batch in its own transaction, for ``seconds``; returns rows per second."""
    with open_storage(db_url) as storage:
        storage.ensure_schema()
    sids = [new_sid() for _ in range(max(1, distinct))]
    if db_url.startswith("sqlite"):
        import sqlite3
        conn = sqlite3.connect(db_url[len("sqlite:///"):])
        sql = ("INSERT INTO records (sid, node, client_ip, user, computerName, process, startTime, endTime) "
               "VALUES (?, 'n', '127.0.0.1', 'u', 'c', 'p', '2026-01-01 00:00:00.000', ?) "
               "ON CONFLICT(sid) DO UPDATE SET endTime = max(endTime, excluded.endTime)")
        stamp = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}"  # noqa: E731
        cursor_of = conn.cursor
    else:
        conn = mariadb_connect(db_url)
        sql = ("INSERT INTO records (sid, node, client_ip, user, computerName, process, startTime, endTime) "
               "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
               "ON DUPLICATE KEY UPDATE endTime = GREATEST(endTime, VALUES(endTime))")
        stamp = lambda t: datetime.datetime.utcfromtimestamp(t)  # noqa: E731
        cursor_of = conn.cursor
    written = 0
    position = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        now = time.time()
        rows = []
        for _ in range(batch):
            if db_url.startswith("sqlite"):
                rows.append((sids[position], stamp(now)))
            else:
                rows.append((sids[position], "n", "127.0.0.1", "u", "c", "p", stamp(now - 60), stamp(now)))
            position = (position + 1) % len(sids)
        cursor = cursor_of()
        cursor.executemany(sql, rows)
        cursor.close()
        conn.commit()
        written += len(rows)
    elapsed = time.perf_counter() - t0
    conn.close()
    return written / elapsed


def mariadb_connect(url: str, database: str | None = None) -> pymysql.connections.Connection:
    from hub.storage.dburl import parse_db_url
    target = parse_db_url(url)
    return pymysql.connect(host=target.host, port=target.port, user=target.user, password=target.password or "",
                           database=database if database is not None else target.database, autocommit=False)


class ScratchMariaDB:
    """A throwaway database on the given server, dropped afterwards."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.name = f"procmesh_bench_{secrets.token_hex(4)}"

    def __enter__(self) -> str:
        conn = mariadb_connect(self.server_url)
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{self.name}`")
        conn.close()
        base = self.server_url.rsplit("/", 1)[0]
        return f"{base}/{self.name}"

    def __exit__(self, *exc: object) -> None:
        conn = mariadb_connect(self.server_url)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
        conn.close()


def report(backend: str, hub: dict[str, float], raw: float, args: argparse.Namespace) -> None:
    print(f"\n== {backend}: {args.nodes} nodes x {args.sessions} sessions, {args.mode}"
          + (f", interval {args.interval:g} s" if args.mode == "paced" else "") + f", {args.duration:g} s")
    print(f"  reports/s sent            {hub['reports_sent_per_s']:10.1f}")
    print(f"  reports/s stored (acked)  {hub['reports_stored_per_s']:10.1f}   unacked at end: {hub['unacked_reports']:.0f}")
    print(f"  session rows/s stored     {hub['session_rows_per_s']:10.1f}")
    ratio = f"hub/raw = {hub['session_rows_per_s'] / raw:.2f}" if args.mode == "flat" else "(paced: load is offered, not a ceiling)"
    print(f"  raw batched upsert rows/s {raw:10.1f}   {ratio}")
    print(f"  distinct sessions stored  {hub['distinct_sessions_stored']:10.0f}   expected {hub['expected_sessions']:.0f}")
    print(f"  report->commit p50 / p99  {hub['p50_ms']:8.1f} ms / {hub['p99_ms']:.1f} ms")
    print(f"  hub RSS peak / end        {hub['hub_rss_peak_mb']:8.1f} MB / {hub['hub_rss_end_mb']:.1f} MB")
    print(f"  hub CPU                   {hub['hub_cpu_percent']:8.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--mode", choices=("paced", "flat"), default="paced")
    parser.add_argument("--backend", choices=("sqlite", "mariadb", "both"), default="both")
    parser.add_argument("--mariadb-server", default=os.environ.get("PROCMESH_TEST_MARIADB",
                                                                   "mariadb://root@127.0.0.1:3306/test"))
    parser.add_argument("--senders", type=int, default=2, help="sender processes")
    parser.add_argument("--sockets", type=int, default=100, help="PUSH sockets per sender process")
    parser.add_argument("--window", type=int, default=5000,
                        help="flat mode: most unacknowledged reports in flight per sender")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait for the last acks")
    parser.add_argument("--raw-batch", type=int, default=1000, help="rows per transaction in the raw loop")
    parser.add_argument("--raw-seconds", type=float, default=5.0, help="how long the raw loop runs")
    args = parser.parse_args()
    args.senders = max(1, min(args.senders, args.nodes))
    backends = ["sqlite", "mariadb"] if args.backend == "both" else [args.backend]
    distinct = args.nodes * args.sessions
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if backend == "sqlite":
                hub = run_hub_phase(f"sqlite:///{folder / 'hub.db'}", args, folder)
                raw = run_raw_phase(f"sqlite:///{folder / 'raw.db'}", distinct, args.raw_seconds, args.raw_batch)
            else:
                with ScratchMariaDB(args.mariadb_server) as url:
                    hub = run_hub_phase(url, args, folder)
                with ScratchMariaDB(args.mariadb_server) as url:
                    raw = run_raw_phase(url, distinct, args.raw_seconds, args.raw_batch)
            report(backend, hub, raw, args)


if __name__ == "__main__":
    main()
