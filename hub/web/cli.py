"""``procmesh-hub web`` and ``web-user``, and the dashboard that ``procmesh-hub run`` serves beside the hub."""
from __future__ import annotations

import argparse
import getpass
import logging
import sys
import time

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import InfoMetricFamily

from common import __version__
from hub.tables import render_table
from hub.web.accounts import AccountError, Accounts
from hub.web.child import DashboardProcess
from hub.web.dashboard import Dashboard, Health, open_dashboard_db, prepare_dashboard
from hub.web.serve import BackgroundServer, Stoppable, WebListenError, serve_in_front

log = logging.getLogger("procmesh.web")


def start_beside_hub(dashboard: Dashboard, registry: CollectorRegistry, health: Health) -> Stoppable:
    """Serve the dashboard while the hub runs: in a child process (``web_process``), else in a thread."""
    if dashboard.settings["web_process"]:
        server: Stoppable = DashboardProcess(dashboard, registry, health)
    else:
        server = BackgroundServer(dashboard.config(lambda: generate_latest(registry), health), dashboard.sock)
    server.start()
    log.info("dashboard: %s", dashboard.url)
    return server


def cmd_web(_parsed: argparse.Namespace, settings: dict) -> int:
    registry = CollectorRegistry()
    registry.register(_WebInfo())
    open_db = open_dashboard_db(settings)

    def health() -> list[str]:
        try:
            with open_db() as storage:
                storage.nodes()
        except Exception as exc:  # noqa: BLE001 - whatever it is, it is the reason for the 503
            return [f"database: {exc}"]
        return []

    dashboard = prepare_dashboard(settings)
    if dashboard is None:
        raise WebListenError("web_listen is off: give the address to serve the dashboard on (--web-listen)")
    log.info("dashboard: %s", dashboard.url)
    serve_in_front(dashboard.config(lambda: generate_latest(registry), health), dashboard.sock)
    return 0


def cmd_web_user(parsed: argparse.Namespace, settings: dict) -> int:
    with open_dashboard_db(settings, create=True)() as storage:
        storage.ensure_schema()
        accounts = Accounts(storage)
        if parsed.web_user_command == "add":
            password = _read_password(parsed.password_stdin)
            accounts.add(parsed.name, parsed.role, password)
            print(f"account {parsed.name} added ({parsed.role})")
        elif parsed.web_user_command == "remove":
            accounts.remove(parsed.name)
            print(f"account {parsed.name} removed")
        else:
            rows = [[a.name, a.role, time.strftime("%Y-%m-%d %H:%M", time.localtime(a.created))]
                    for a in accounts.list()]
            print(render_table(["name", "role", "created"], rows) if rows else
                  "no accounts: the dashboard is open on loopback addresses only")
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ: nothing was changed")
    return first


class _WebInfo:
    """``procmesh_web_info`` for a dashboard served alone, without a hub's metrics."""

    def collect(self):  # noqa: ANN201 - prometheus_client's collector protocol
        yield InfoMetricFamily("procmesh_web", "The dashboard's release", value={"version": __version__})
