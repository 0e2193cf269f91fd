"""Hub ingest benchmark: simulated nodes -> real ZeroMQ -> a real hub process -> a real database.

Each simulated node holds 5 open sessions and reports them every interval (paced mode) or as fast as
the sockets take them (flat mode). Report->commit latency is measured with the hub's own acks: an
ack for (node, seq) means every report of that node up to seq is committed. In the same run, a bare
batched upsert loop writes the same number of session rows to the same kind of database: the raw
ceiling the hub is compared with.

    python bench/hub_ingest.py                         # 10,000 nodes, paced, SQLite and MariaDB
    python bench/hub_ingest.py --mode flat --duration 20
    python bench/hub_ingest.py --nodes 9950 --sockets 0 --senders 4 --backend mariadb
                                                       # a socket pair per node: 19,900 connections
    python bench/hub_ingest.py --nodes 20 --duration 3 --backend sqlite   # smoke size (CI)

By default the simulated nodes share 100 socket pairs per sender process: enough to load the hub
and the database, cheap enough for two cores. ``--sockets 0`` gives every node its own PUSH and
SUB, so the hub holds as many TCP connections (and as much memory for them) as real nodes cause.
"""
from __future__ import annotations

import argparse
import collections
import datetime
import multiprocessing as mp
import queue
import random
import resource
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import zmq

from harness import (DEFAULT_MARIADB, CpuMeter, ScratchMariaDB, Subscribers, as_a_node,
                     mariadb_connect, percentile, start_hub)
from common.ids import new_sid
from common.protocol import (ACK_PREFIX, CONFIG_TOPIC, Report, SessionState, ack_topic, decode_hub_frame,
                             encode_report)
from hub.limits import RESERVED_FILES
from hub.storage import open_storage, parse_db_url

# A soak (a long --duration) prints the hub's RSS at this period, to show whether it keeps growing.
RSS_TIMELINE_SECONDS = 60.0


@dataclass
class SenderResult:
    reports_sent: int
    reports_acked: int
    sessions_acked: int
    latencies: list[float]
    connect_seconds: float     # until every SUB held the watch list
    unconfigured: int          # SUBs that got no watch list within the connect deadline


def sender(index: int, node_ids: list[str], sessions: int, args: argparse.Namespace,
           config_ep: str, report_ep: str, start_line: mp.Barrier, results: mp.Queue) -> None:
    """One process simulating many nodes over socket pairs (PUSH for reports, SUB for config and acks).

    By default each pair serves a group of nodes, and its SUB subscribes to just those nodes' ack
    topics: one subscriber for every node would receive acks in bursts larger than the hub's
    per-subscriber queue, which drops what does not fit. With ``--sockets 0`` every node has its
    own pair, so the hub holds as many connections as real nodes would open.
    """
    # One pair per node means thousands of sockets and files in this process.
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    groups = len(node_ids) if args.sockets == 0 else max(1, min(args.sockets, len(node_ids)))
    ctx = zmq.Context()
    ctx.linger = 0
    ctx.set(zmq.MAX_SOCKETS, 2 * groups + 16)
    pushes, subs = [], []
    configured: set[zmq.Socket] = set()
    inbox = Subscribers()
    connect_started = time.monotonic()
    for group in range(groups):
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, CONFIG_TOPIC)
        for node in node_ids[group::groups]:
            sub.setsockopt(zmq.SUBSCRIBE, ack_topic(node))
        as_a_node(sub)
        sub.connect(config_ep)
        inbox.add(sub)
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, 1000)
        as_a_node(push)
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

    def take_ack(sub: zmq.Socket, frame: bytes) -> None:
        nonlocal acked_reports, acked_sessions
        if frame.startswith(CONFIG_TOPIC):
            configured.add(sub)
            return
        node = frame[len(ACK_PREFIX):frame.index(b"\0", len(ACK_PREFIX))].decode()
        pending = in_flight[node]
        ack = decode_hub_frame(frame)
        now = time.perf_counter()
        while pending and pending[0][0] <= ack.seq:
            _, t_sent = pending.popleft()
            latencies.append(now - t_sent)
            acked_reports += 1
            acked_sessions += sessions

    def drain_acks(timeout_ms: int = 0) -> None:
        for sub, frame in inbox.receive(timeout_ms / 1000):
            take_ack(sub, frame)

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

    # Like a real node, wait for the watch list (the hub's welcome message) before the first report:
    # then every SUB is attached and subscribed, so no ack is lost to a late subscriber.
    connect_deadline = time.monotonic() + 120
    while len(configured) < len(subs) and time.monotonic() < connect_deadline:
        drain_acks(100)
    connect_seconds = time.monotonic() - connect_started
    start_line.wait()
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
    inbox.close()
    for push in pushes:
        push.close()
    ctx.term()
    results.put(SenderResult(sent, acked_reports, acked_sessions, latencies, connect_seconds,
                             len(subs) - len(configured)))


def run_hub_phase(db_url: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    (folder / "watch.txt").write_text("bench\n")
    pairs = args.nodes if args.sockets == 0 else min(args.nodes, args.senders * args.sockets)
    # Two TCP connections per socket pair (XPUB and PULL), plus the hub's own few dozen files.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if 2 * pairs + RESERVED_FILES > hard:
        raise SystemExit(f"{pairs} socket pairs need {2 * pairs + RESERVED_FILES} open files in the hub; the "
                         f"hard limit here is {hard}: use fewer nodes or share sockets (--sockets)")
    hub = start_hub(folder, db_url, folder / "watch.txt")
    nodes = [f"bench-{i:05d}/u" for i in range(args.nodes)]
    results: mp.Queue = mp.Queue()
    # Senders connect first; hub CPU is measured from the moment all of them start reporting.
    start_line = mp.Barrier(args.senders + 1)
    procs = [mp.Process(target=sender, args=(i, nodes[i::args.senders], args.sessions, args,
                                            hub.config_endpoint, hub.report_endpoint, start_line, results))
             for i in range(args.senders)]
    for p in procs:
        p.start()
    start_line.wait(180)
    meter = CpuMeter(hub.proc.pid)
    database = mariadb_server_process(db_url) if db_url.startswith("mariadb") else None
    db_meter = CpuMeter(database.pid) if database else None
    gathered: list[SenderResult] = []
    next_mark, timeline = time.monotonic() + RSS_TIMELINE_SECONDS, []
    while len(gathered) < len(procs):
        try:
            gathered.append(results.get(timeout=0.5))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                hub.stop()
                raise SystemExit("a sender process failed")
        rss = meter.sample_rss()
        if time.monotonic() >= next_mark:
            timeline.append(rss / 2**20)
            next_mark += RSS_TIMELINE_SECONDS
    for p in procs:
        p.join()
    cpu, db_cpu = meter.percent(), db_meter.percent() if db_meter else float("nan")
    rss_end = meter.sample_rss()
    hub.stop()
    with open_storage(db_url) as storage:
        stored_sessions = sum(r.sessions for r in storage.usage(None, None, []))
    latencies = [x for r in gathered for x in r.latencies]
    sent = sum(r.reports_sent for r in gathered)
    acked = sum(r.reports_acked for r in gathered)
    elapsed = args.duration
    return {
        "connections": 2 * pairs,
        "connect_seconds": max(r.connect_seconds for r in gathered),
        "unconfigured": sum(r.unconfigured for r in gathered),
        "reports_sent_per_s": sent / elapsed,
        "reports_stored_per_s": acked / elapsed,
        "session_rows_per_s": sum(r.sessions_acked for r in gathered) / elapsed,
        "unacked_reports": sent - acked,
        "distinct_sessions_stored": stored_sessions,
        "expected_sessions": args.nodes * args.sessions,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies, default=float("nan")) * 1000,
        "hub_rss_peak_mb": meter.rss_peak / 2**20,
        "hub_rss_end_mb": rss_end / 2**20,
        "hub_rss_timeline_mb": timeline,
        "hub_cpu_percent": cpu,
        "db_cpu_percent": db_cpu,
    }


def mariadb_server_process(db_url: str) -> psutil.Process | None:
    """The local MariaDB server the benchmark writes to, whose CPU share the report shows beside
    the hub's: the one listening on the URL's port, as other servers may run beside it (the
    database-outage tests start and stop their own)."""
    port = parse_db_url(db_url).port
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] not in ("mariadbd", "mysqld"):
            continue
        try:
            listening = [c.laddr.port for c in proc.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
        except psutil.Error:
            continue
        if port in listening:
            return proc
    return None


def run_raw_phase(db_url: str, distinct: int, seconds: float, batch: int) -> float:
    """The ceiling: a bare batched upsert loop over the same number of distinct sessions, writing
    each batch in its own transaction, for ``seconds``; returns rows per second."""
    with open_storage(db_url) as storage:
        storage.ensure_schema()
    sids = [new_sid() for _ in range(max(1, distinct))]
    if db_url.startswith("sqlite"):
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


def report(backend: str, hub: dict[str, Any], raw: float, args: argparse.Namespace) -> None:
    print(f"\n== {backend}: {args.nodes} nodes x {args.sessions} sessions, {args.mode}"
          + (f", interval {args.interval:g} s" if args.mode == "paced" else "") + f", {args.duration:g} s, "
          f"{hub['connections']:.0f} TCP connections to the hub")
    print(f"  all connected and configured in {hub['connect_seconds']:.1f} s"
          + (f"; {hub['unconfigured']:.0f} SUB sockets got no watch list" if hub["unconfigured"] else ""))
    print(f"  reports/s sent            {hub['reports_sent_per_s']:10.1f}")
    print(f"  reports/s stored (acked)  {hub['reports_stored_per_s']:10.1f}   unacked at end: {hub['unacked_reports']:.0f}")
    print(f"  session rows/s stored     {hub['session_rows_per_s']:10.1f}")
    ratio = f"hub/raw = {hub['session_rows_per_s'] / raw:.2f}" if args.mode == "flat" else "(paced: load is offered, not a ceiling)"
    print(f"  raw batched upsert rows/s {raw:10.1f}   {ratio}")
    print(f"  distinct sessions stored  {hub['distinct_sessions_stored']:10.0f}   expected {hub['expected_sessions']:.0f}")
    print(f"  report->commit p50 / p99  {hub['p50_ms']:8.1f} ms / {hub['p99_ms']:.1f} ms   max {hub['max_ms']:.1f} ms")
    print(f"  hub RSS peak / end        {hub['hub_rss_peak_mb']:8.1f} MB / {hub['hub_rss_end_mb']:.1f} MB")
    if hub["hub_rss_timeline_mb"]:
        print(f"  hub RSS every {RSS_TIMELINE_SECONDS:.0f} s         "
              + ", ".join(f"{mb:.1f}" for mb in hub["hub_rss_timeline_mb"]) + " MB")
    database = f"; MariaDB server {hub['db_cpu_percent']:.1f} %" if backend == "mariadb" else ""
    print(f"  hub CPU                   {hub['hub_cpu_percent']:8.1f} %   (of one core{database})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--mode", choices=("paced", "flat"), default="paced")
    parser.add_argument("--backend", choices=("sqlite", "mariadb", "both"), default="both")
    parser.add_argument("--mariadb-server", default=DEFAULT_MARIADB)
    parser.add_argument("--senders", type=int, default=2, help="sender processes")
    parser.add_argument("--sockets", type=int, default=100,
                        help="socket pairs (PUSH + SUB) per sender process; 0: one pair per node, "
                             "as many connections as real nodes make")
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
