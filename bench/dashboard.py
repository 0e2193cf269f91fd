"""Dashboard benchmark: each page's server time on a year of data, and what page loads cost ingest.

On the report-growth data set (5,000,000 sessions of 1,000 nodes over 365 days in MariaDB, loaded
by bench/report_growth.py's loader), a real hub serves its dashboard; in the same run:
1. every page is loaded ``--loads`` times, one at a time, and its server time (the Server-Timing
   header the app sets: from the request to the response, without the network) gives p50 / p95;
   the first load of each page is also shown alone: the range pages keep an answer for
   ``web_cache_seconds`` (``--cache-seconds``), so only the first one waits for the database;
2. simulated nodes (bench/hub_ingest.py's sender) report for ``--duration`` seconds while nobody
   looks at the dashboard: report->commit p99;
3. the same again while ``--page-rate`` pages a second (default 10, every page in turn) are loaded;
   2 and 3 in turn ``--rounds`` times, so that a change in a busy machine's load falls on both.
Steps 2 and 3 run once with the dashboard in a child process of the hub (the default,
``web_process = true``) and once in a thread of the hub (``--web process,thread``).
The roll-up is brought up to date (``procmesh-hub rollup``) before the hub starts, as a running
hub keeps it.

    python bench/dashboard.py                                  # 5 million rows, scratch database
    python bench/dashboard.py --database procmesh_growth       # reuse report_growth's kept data
    python bench/dashboard.py --rows 20000 --nodes 20 --days 30 --sim-nodes 50 --duration 3 --loads 2
                                                               # smoke size (CI)
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import multiprocessing as mp
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from harness import DEFAULT_MARIADB, bench_env, free_port, mariadb_connect, percentile, start_hub
from hub_ingest import SenderResult, sender
from report_growth import count_rows, database, load, sessions

# What a person opens: each page with the range it shows by default or a typical longer one.
PAGES = [
    ("Usage (7 days)", "/usage"),
    ("Usage (30 days)", "/usage?from={d30}"),
    ("When (30 days)", "/when?from={d30}"),
    ("Peaks per day (30 days)", "/peaks?from={d30}"),
    ("Peaks per month (365 days)", "/peaks?per=month&from={d365}"),
    ("Nodes", "/nodes"),
]


def page_paths() -> list[tuple[str, str]]:
    today = datetime.date.today()
    days = {"d30": today - datetime.timedelta(days=29), "d365": today - datetime.timedelta(days=364)}
    return [(name, path.format(**days)) for name, path in PAGES]


class Timings:
    """Server times per page, and the loads that failed, with the first reason seen."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = {name: [] for name, _ in PAGES}
        self.first: dict[str, float] = {}   # the first load of each page: nothing cached yet
        self.failed: dict[str, int] = {}
        self.reason = ""

    def take(self, name: str, response: httpx.Response) -> None:
        timing = response.headers.get("server-timing", "")
        if response.status_code == 200 and timing.startswith("app;dur="):
            self.ms[name].append(float(timing.split("dur=", 1)[1]))
            self.first.setdefault(name, self.ms[name][0])
            return
        self.failed[name] = self.failed.get(name, 0) + 1
        self.reason = self.reason or (f"{response.request.url}: HTTP {response.status_code}: "
                                      + response.text.split('role="alert">', 1)[-1].split("</p>", 1)[0][:300])

    def print(self, title: str) -> None:
        print(f"  {title}")
        for name, values in self.ms.items():
            failed = f", {self.failed[name]} failed" if name in self.failed else ""
            first = f"first {self.first[name]:8.1f} ms   " if name in self.first else ""
            print(f"    {name:28s} {first}p50 {percentile(values, 50):7.1f} ms   "
                  f"p95 {percentile(values, 95):7.1f} ms   ({len(values)} loads{failed})")
        if self.reason:
            print(f"    first failure: {self.reason}")


def time_pages(client: httpx.Client, loads: int) -> Timings:
    timings = Timings()
    for _ in range(loads):
        for name, path in page_paths():
            timings.take(name, client.get(path))
    return timings


class PageLoad:
    """Open-loop page loads at a fixed rate, every page in turn, from a few threads (a slow page
    does not lower the rate), until stopped; server times per page."""

    def __init__(self, url: str, rate: float) -> None:
        self._url, self._rate = url, rate
        self._stop = threading.Event()
        self.timings = Timings()
        self.late = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _load(self, client: httpx.Client, name: str, path: str) -> None:
        self.timings.take(name, client.get(path))

    def _run(self) -> None:
        with httpx.Client(base_url=self._url, timeout=60) as client, \
                concurrent.futures.ThreadPoolExecutor(8) as pool:
            due, i, pages = time.monotonic(), 0, page_paths()
            while not self._stop.is_set():
                name, path = pages[i % len(pages)]
                pool.submit(self._load, client, name, path)
                i += 1
                due += 1 / self._rate
                wait = due - time.monotonic()
                if wait > 0:
                    self._stop.wait(wait)
                else:
                    self.late += 1


# The simulated nodes' ids start so (the data set's are lab-pcNNNN/uNNNNN); their sessions are
# today's, which every question reads raw.
SIMULATED_PREFIX = "dash-"


def forget_simulated(url: str) -> int:
    """Delete what earlier runs' simulated nodes stored, so that every run (and report_growth) finds
    the data set as it was loaded; the rows deleted."""
    conn = mariadb_connect(url)
    try:
        with conn.cursor() as cursor:
            pattern = SIMULATED_PREFIX + "%"
            deleted = cursor.execute("DELETE FROM records WHERE node LIKE %s", [pattern])
            cursor.execute("DELETE FROM nodes WHERE node LIKE %s", [pattern])
        conn.commit()
        return deleted
    finally:
        conn.close()


def ingest(hub, args: argparse.Namespace, phase: str) -> list[float]:
    """Report->commit latencies of simulated nodes reporting for args.duration seconds."""
    nodes = [f"{SIMULATED_PREFIX}{phase}-{i:05d}/u" for i in range(args.sim_nodes)]
    results: mp.Queue = mp.Queue()
    start_line = mp.Barrier(args.senders + 1)
    procs = [mp.Process(target=sender, args=(i, nodes[i::args.senders], 5, args, hub.config_endpoint,
                                            hub.report_endpoint, start_line, results))
             for i in range(args.senders)]
    for proc in procs:
        proc.start()
    start_line.wait(180)
    gathered: list[SenderResult] = [results.get(timeout=args.duration + args.settle + 120) for _ in procs]
    for proc in procs:
        proc.join()
    unacked = sum(r.reports_sent - r.reports_acked for r in gathered)
    if unacked:
        print(f"  ({phase}: {unacked} reports not acknowledged by the end)")
    return [x for r in gathered for x in r.latencies]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--nodes", type=int, default=1000, help="nodes in the stored year of data")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--mariadb-server", default=DEFAULT_MARIADB)
    parser.add_argument("--database", help="keep the data in this database (loaded only when empty)")
    parser.add_argument("--loads", type=int, default=20, help="loads of each page, one at a time")
    parser.add_argument("--page-rate", type=float, default=10.0, help="page loads a second during ingest")
    parser.add_argument("--sim-nodes", type=int, default=2000, help="simulated nodes reporting")
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of each ingest phase")
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--cache-seconds", type=float, default=60.0,
                        help="the hub's web_cache_seconds (0: every page load asks the database)")
    parser.add_argument("--web", type=lambda text: text.split(","), default=["process", "thread"],
                        help="how the hub serves its dashboard, each measured in turn: process, thread or both")
    parser.add_argument("--rounds", type=int, default=2,
                        help="quiet and loaded ingest phases in turn, so a change in the machine's load "
                             "falls on both")
    args = parser.parse_args()
    # What hub_ingest's sender reads besides the above: paced reports over shared sockets.
    args.mode, args.sockets, args.window = "paced", 100, 5000
    with tempfile.TemporaryDirectory() as tmp, database(args.mariadb_server, args.database) as url:
        folder = Path(tmp)
        print(f"== dashboard: {args.nodes} nodes, {args.days} days in MariaDB")
        subprocess.run([sys.executable, "-m", "hub", "init-db", "--db", url], cwd=folder, env=bench_env(folder),
                       check=True, capture_output=True)
        forgotten = forget_simulated(url)
        if forgotten:
            print(f"  deleted {forgotten:,} sessions of an earlier run's simulated nodes")
        if count_rows(url) == 0:
            t0 = time.perf_counter()
            loaded = load(url, sessions(args.nodes, args.days, args.rows), folder)
            print(f"  loaded {loaded:,} rows in {time.perf_counter() - t0:.0f} s")
        print(f"  rows in records: {count_rows(url):,}")
        # As a running hub keeps it, before the hub starts: its own catching up would be measured too.
        t0 = time.perf_counter()
        built = subprocess.run([sys.executable, "-m", "hub", "rollup", "--db", url], cwd=folder,
                               env=bench_env(folder), capture_output=True, text=True, check=True)
        print(f"  {built.stdout.strip()} in {time.perf_counter() - t0:.0f} s")
        watch = folder / "watch.txt"
        watch.write_text("bench\n")
        try:
            for number, mode in enumerate(args.web):
                measure(folder, url, watch, mode, args, time_pages_first=number == 0)
        finally:
            print(f"  deleted the {forget_simulated(url):,} sessions the simulated nodes stored")


def measure(folder: Path, url: str, watch: Path, mode: str, args: argparse.Namespace,
            time_pages_first: bool) -> None:
    """A hub serving its dashboard in ``mode``: page times (once), then ingest without and with page loads."""
    print(f"  -- dashboard in a {mode} of the hub (web_process = {str(mode == 'process').lower()})")
    port = free_port()
    hub = start_hub(folder, url, watch, "--web-listen", f"127.0.0.1:{port}",
                    "--web-cache-seconds", str(args.cache_seconds),
                    "--web-process" if mode == "process" else "--no-web-process")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            timings = time_pages(client, args.loads)
        if time_pages_first:
            timings.print("page server time, one load at a time:")
        quiet, busy = [], []
        for round_number in range(args.rounds):
            quiet += ingest(hub, args, f"{mode}-quiet-{round_number}")
            load_run = PageLoad(f"http://127.0.0.1:{port}", args.page_rate)
            load_run.start()
            try:
                busy += ingest(hub, args, f"{mode}-busy-{round_number}")
            finally:
                load_run.stop()
    finally:
        hub.stop()
    load_run.timings.print(f"page server time while {args.page_rate:g} pages/s load during ingest (last round):")
    if load_run.late:
        print(f"    ({load_run.late} page loads started late: the loader could not keep the rate)")
    p99_quiet, p99_busy = percentile(quiet, 99) * 1000, percentile(busy, 99) * 1000
    print(f"  ingest, {args.sim_nodes} simulated nodes every {args.interval:g} s, {args.rounds} x {args.duration:g} s"
          " without and with page loads in turn:")
    for label, latencies, p99 in (("without", quiet, p99_quiet), ("with   ", busy, p99_busy)):
        print(f"    report->commit p50 / p99 {label} page loads  "
              f"{percentile(latencies, 50) * 1000:7.1f} / {p99:7.1f} ms")
    print(f"    p99 ratio with / without                     {p99_busy / p99_quiet:7.2f}")

if __name__ == "__main__":
    main()
