"""What the benchmarks share: free ports, a real hub process, scratch MariaDB databases, percentiles.

Named ``harness`` and not ``common``: a benchmark runs as ``python bench/x.py``, which puts bench/
first on sys.path, where a ``common`` module would hide the project's ``common`` package.
"""
from __future__ import annotations

import os
import selectors
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import pymysql
import zmq

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common.protocol import CONFIG_TOPIC, Config, decode_hub_frame  # noqa: E402
from hub.storage import parse_db_url  # noqa: E402

DEFAULT_MARIADB = os.environ.get("PROCMESH_TEST_MARIADB", "mariadb://root@127.0.0.1:3306/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def bench_env(folder: Path) -> dict[str, str]:
    """Children import this checkout; their lock files and settings stay in the scratch folder."""
    # No dashboard on port 8807 unless a benchmark asks for one with --web-listen.
    return dict(os.environ, PYTHONPATH=str(REPO), XDG_DATA_HOME=str(folder), PROCMESH_WEB_LISTEN="off")


@dataclass
class HubProcess:
    """A real ``python -m hub`` on free loopback ports, its output in ``folder/hub.log``."""

    proc: subprocess.Popen[bytes]
    config_endpoint: str
    report_endpoint: str
    log_path: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(30)


def start_hub(folder: Path, db_url: str, watch_file: Path, *extra: str) -> HubProcess:
    """Start a hub and return once it serves its watch list."""
    config_ep, report_ep = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    log_path = folder / "hub.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "run", "--db", db_url, "--watch", str(watch_file),
             "--config-endpoint", config_ep, "--report-endpoint", report_ep, "--log-level", "WARNING",
             *extra],
            cwd=folder, env=bench_env(folder), stdout=log, stderr=subprocess.STDOUT)
    hub = HubProcess(proc, config_ep, report_ep, log_path)
    try:
        wait_for_config(config_ep, 15.0, proc)
    except RuntimeError:
        hub.stop()
        raise SystemExit(f"hub did not start:\n{log_path.read_text(errors='replace')}") from None
    return hub


def wait_for_config(endpoint: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> Config:
    """The config a fresh subscriber gets from the hub at endpoint (its welcome message)."""
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    sub.setsockopt(zmq.SUBSCRIBE, CONFIG_TOPIC)
    sub.connect(endpoint)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and (proc is None or proc.poll() is None):
            if sub.poll(100):
                message = decode_hub_frame(sub.recv())
                if isinstance(message, Config):
                    return message
        raise RuntimeError(f"no config from {endpoint} within {timeout:g} s")
    finally:
        sub.close()


def as_a_node(sock: zmq.Socket) -> None:
    """The options of a real node's sockets (node/agent.py) that the hub sees: it pings every 10 s."""
    sock.setsockopt(zmq.HEARTBEAT_IVL, 10_000)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 30_000)
    sock.setsockopt(zmq.TCP_KEEPALIVE, 1)


def mariadb_connect(url: str, **options: object) -> pymysql.connections.Connection:
    target = parse_db_url(url)
    settings: dict[str, object] = dict(host=target.host, port=target.port, user=target.user,
                                       password=target.password or "", database=target.database, autocommit=False)
    return pymysql.connect(**{**settings, **options})


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server unless it exists; its URL."""
    _admin(server_url, f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


def drop_database(server_url: str, name: str) -> None:
    _admin(server_url, f"DROP DATABASE IF EXISTS `{name}`")


def _admin(server_url: str, statement: str) -> None:
    # A database name cannot be a parameter; callers pass "procmesh_..." names of their own.
    conn = mariadb_connect(server_url)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


class ScratchMariaDB:
    """A throwaway database ``procmesh_bench_<hex>`` on the given server, dropped afterwards."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.name = f"procmesh_bench_{secrets.token_hex(4)}"

    def __enter__(self) -> str:
        return create_database(self.server_url, self.name)

    def __exit__(self, *exc: object) -> None:
        drop_database(self.server_url, self.name)


class CpuMeter:
    """CPU share of one process between start and read, in percent of one core."""

    def __init__(self, pid: int) -> None:
        import psutil
        self._proc = psutil.Process(pid)
        self._cpu0 = sum(self._proc.cpu_times()[:2])
        self._t0 = time.monotonic()
        self.rss_peak = 0

    def sample_rss(self) -> int:
        rss = self._proc.memory_info().rss
        self.rss_peak = max(self.rss_peak, rss)
        return rss

    def percent(self) -> float:
        return 100 * (sum(self._proc.cpu_times()[:2]) - self._cpu0) / (time.monotonic() - self._t0)


class Subscribers:
    """Frames from many SUB sockets at a cost per ready socket, not per socket.

    zmq.Poller hands every registered socket to zmq_poll on every call, which with thousands of
    sockets costs more than the messages themselves; an epoll selector over their ZMQ_FD files
    wakes only for the sockets with something to read. ZMQ_FD only signals that a socket's state
    may have changed, so a woken socket is drained until it has nothing more, and a sweep over all
    of them now and then catches a change whose signal was consumed by an earlier drain.
    """

    SWEEP_SECONDS = 1.0

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._sockets: list[zmq.Socket] = []
        self._next_sweep = time.monotonic() + self.SWEEP_SECONDS

    def add(self, sub: zmq.Socket) -> None:
        self._selector.register(sub.getsockopt(zmq.FD), selectors.EVENT_READ, sub)
        self._sockets.append(sub)

    def receive(self, timeout: float) -> Iterator[tuple[zmq.Socket, bytes]]:
        """(socket, frame) for everything readable now, waiting up to timeout seconds for it."""
        ready = [key.data for key, _ in self._selector.select(timeout)]
        if time.monotonic() >= self._next_sweep:
            ready = self._sockets
            self._next_sweep = time.monotonic() + self.SWEEP_SECONDS
        for sub in ready:
            while True:
                try:
                    yield sub, sub.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break

    def close(self) -> None:
        self._selector.close()
        for sub in self._sockets:
            sub.close()
