"""The dashboard as a child process of ``procmesh-hub run``.

Page loads then share neither the interpreter's lock nor a CPU priority with the hub's socket
thread and writer: the child runs at a lower priority (``os.nice``) and only the database is
common to both. The hub keeps what only it knows, its Prometheus registry and its health; the
child asks for them over a pipe when /metrics or /healthz is loaded, so both read exactly as
they would in the hub's own process (prometheus_client's multiprocess mode cannot carry the
hub's gauges read at scrape time, nor its Info metric).

The child stops when the hub stops, and when the hub dies without stopping it: it watches a
pipe whose other end only the hub holds, and which the system closes when the hub is gone. A
child that dies while the hub runs is logged and started again, after a delay that grows while
it keeps dying.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry, generate_latest

from common.errors import ProcmeshError
from common.logs import setup_logging
from hub.web.dashboard import Dashboard, Health
from hub.web.serve import STOP_SECONDS

log = logging.getLogger("procmesh.web")

NICENESS = 10                            # below the hub, which keeps the default priority
RESTART_DELAYS = (1.0, 2.0, 5.0, 15.0, 60.0)
STEADY_SECONDS = 60.0                    # a child that ran this long before dying starts the delays again
ANSWER_SECONDS = 10.0                    # how long the child waits for the hub's metrics or health
METRICS, HEALTH = "metrics", "health"


class HubLinkError(ProcmeshError):
    """The hub did not answer the dashboard's process (busy beyond ANSWER_SECONDS, or gone)."""


class DashboardProcess:
    """The hub's side: starts the child, answers it, starts it again if it dies, stops it."""

    def __init__(self, dashboard: Dashboard, registry: CollectorRegistry, health: Health) -> None:
        self._dashboard = dashboard
        self._registry = registry
        self._health = health
        self._spawn = multiprocessing.get_context("spawn")   # a fresh interpreter: no copy of the hub's threads
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._lifeline: Connection | None = None
        self._supervisor = threading.Thread(target=self._supervise, name="procmesh-web-supervisor", daemon=True)

    def start(self) -> None:
        self._launch()
        self._supervisor.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            process, lifeline = self._process, self._lifeline
        if lifeline is not None:
            lifeline.close()             # the child sees the pipe close and stops serving
        if process is not None:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join(STOP_SECONDS)
        self._supervisor.join(STOP_SECONDS)
        self._dashboard.sock.close()

    def _launch(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            hub_end, child_end = self._spawn.Pipe()
            watched, lifeline = self._spawn.Pipe(duplex=False)
            process = self._spawn.Process(target=serve_child, args=(self._dashboard, child_end, watched),
                                          name="procmesh-web", daemon=True)
            process.start()
            # Only the child may hold its ends: the pipes then close when either side is gone.
            child_end.close()
            watched.close()
            self._process, self._lifeline = process, lifeline
        threading.Thread(target=answer_child, args=(hub_end, self._registry, self._health),
                         name="procmesh-web-link", daemon=True).start()

    def _supervise(self) -> None:
        quick_deaths = 0
        while True:
            process, started = self._process, time.monotonic()
            assert process is not None
            process.join()
            with self._lock:
                if self._stopping.is_set():
                    return
                self._lifeline.close()  # type: ignore[union-attr]
            quick_deaths = 0 if time.monotonic() - started >= STEADY_SECONDS else quick_deaths + 1
            delay = RESTART_DELAYS[min(quick_deaths, len(RESTART_DELAYS) - 1)]
            log.error("the dashboard's process stopped (exit code %s): starting it again in %g s",
                      process.exitcode, delay)
            if self._stopping.wait(delay):
                return
            self._launch()


def answer_child(conn: Connection, registry: CollectorRegistry, health: Health) -> None:
    """In the hub: answer the child's questions until it is gone."""
    with conn:
        while True:
            try:
                number, question = conn.recv()
            except (EOFError, OSError):
                return
            try:
                answer: Any = generate_latest(registry) if question == METRICS else health()
            except Exception as exc:  # noqa: BLE001 - the child shows it; the hub goes on
                answer = HubLinkError(f"the hub could not answer {question}: {exc}")
            try:
                conn.send((number, answer))
            except (EOFError, OSError):
                return


class HubLink:
    """In the child: the hub's metrics and health, asked over the pipe, one question at a time."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._number = 0

    def ask(self, question: str) -> Any:
        with self._lock:
            self._number += 1
            try:
                self._conn.send((self._number, question))
                deadline = time.monotonic() + ANSWER_SECONDS
                while self._conn.poll(max(0.0, deadline - time.monotonic())):
                    number, answer = self._conn.recv()
                    if number == self._number:   # not a late answer to a question given up on
                        break
                else:
                    raise HubLinkError(f"the hub did not answer within {ANSWER_SECONDS:g} s")
            except (EOFError, OSError):
                raise HubLinkError("the hub is gone") from None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def metrics(self) -> bytes:
        return self.ask(METRICS)

    def health(self) -> list[str]:
        try:
            return self.ask(HEALTH)
        except HubLinkError as exc:
            return [str(exc)]


def serve_child(dashboard: Dashboard, conn: Connection, lifeline: Connection) -> None:
    """The child's whole life: serve the dashboard until the hub closes the lifeline or is gone."""
    settings = dashboard.settings
    setup_logging(settings["log_level"], settings["log_file"])
    if hasattr(os, "setpgrp"):
        os.setpgrp()    # Ctrl-C in a terminal is for the hub, which then stops this process itself
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    hub = HubLink(conn)
    server = uvicorn.Server(dashboard.config(hub.metrics, hub.health))
    threading.Thread(target=_stop_with_the_hub, args=(lifeline, server), name="procmesh-web-lifeline",
                     daemon=True).start()
    try:
        server.run(sockets=[dashboard.sock])
    finally:
        dashboard.sock.close()


def _stop_with_the_hub(lifeline: Connection, server: uvicorn.Server) -> None:
    try:
        lifeline.recv()     # nothing is ever sent: this returns when the hub closes its end or dies
    except (EOFError, OSError):
        pass
    server.should_exit = True
    time.sleep(STOP_SECONDS)
    os._exit(0)   # requests that outlast the hub's stop are not worth a hub that cannot restart
