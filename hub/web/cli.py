"""``procmesh-hub web`` and ``web-user``, and the dashboard that ``procmesh-hub run`` serves beside the hub."""
from __future__ import annotations

import argparse
import getpass
import logging
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import uvicorn
from prometheus_client import CollectorRegistry
from prometheus_client.core import InfoMetricFamily

from common import __version__
from hub.answers.zone import resolve_zone
from hub.storage import Storage, open_storage
from hub.tables import render_table
from hub.web.accounts import ROLES, AccountError, Accounts
from hub.web.app import WebContext, create_app
from hub.web.pool import StoragePool
from hub.web.pseudonym import Pseudonymizer
from hub.web.serve import (BackgroundServer, Listen, WebListenError, bind, parse_listen, serve_in_front,
                           uvicorn_config)
from hub.web.session import Sessions

log = logging.getLogger("procmesh.web")


@dataclass
class Dashboard:
    """A dashboard ready to serve: its socket is bound and the access rule checked."""

    listen: Listen
    sock: socket.socket
    config: uvicorn.Config
    tls: bool

    @property
    def url(self) -> str:
        return self.listen.url(self.tls)


def prepare_dashboard(settings: dict, registry: CollectorRegistry,
                      health: Callable[[], list[str]]) -> Dashboard | None:
    """Check the address rule and bind, so every mistake is one line before anything runs; None: off."""
    listen = parse_listen(settings["web_listen"])
    if listen is None:
        return None
    open_db = _opener(settings)
    with open_db() as storage:
        if not listen.loopback and not Accounts(storage).any():
            raise WebListenError(
                f"web_listen {settings['web_listen']} is not a loopback address, so the dashboard needs "
                "accounts: add one with procmesh-hub web-user add NAME --role admin, or use "
                "web_listen = 127.0.0.1:8807")
    keys_dir = Path(settings["keys_dir"]).expanduser()
    ctx = WebContext(
        pool=StoragePool(open_db), sessions=Sessions.from_keys_dir(keys_dir),
        pseudonymizer=Pseudonymizer.from_keys_dir(keys_dir), loopback=listen.loopback,
        settings=settings, zone=resolve_zone(settings["tz"]), registry=registry, health=health)
    config = uvicorn_config(create_app(ctx), settings["web_certfile"], settings["web_keyfile"])
    return Dashboard(listen, bind(listen), config, bool(settings["web_certfile"]))


def start_beside_hub(dashboard: Dashboard) -> BackgroundServer:
    server = BackgroundServer(dashboard.config, dashboard.sock)
    server.start()
    log.info("dashboard: %s", dashboard.url)
    return server


def cmd_web(_parsed: argparse.Namespace, settings: dict) -> int:
    registry = CollectorRegistry()
    registry.register(_WebInfo())
    open_db = _opener(settings)

    def health() -> list[str]:
        try:
            with open_db() as storage:
                storage.nodes()
        except Exception as exc:  # noqa: BLE001 - whatever it is, it is the reason for the 503
            return [f"database: {exc}"]
        return []

    dashboard = prepare_dashboard(settings, registry, health)
    if dashboard is None:
        raise WebListenError("web_listen is off: give the address to serve the dashboard on (--web-listen)")
    log.info("dashboard: %s", dashboard.url)
    serve_in_front(dashboard.config, dashboard.sock)
    return 0


def add_web_user_parser(commands: argparse._SubParsersAction,
                        add_settings: Callable[[argparse.ArgumentParser], None]) -> None:
    users = commands.add_parser("web-user", help="accounts of the web dashboard",
                                description="accounts of the web dashboard")
    actions = users.add_subparsers(dest="web_user_command", metavar="{add,remove,list}", required=True)
    add = actions.add_parser("add", help="add an account (the password is asked twice)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True,
                     help="admin sees user names; viewer sees them pseudonymised")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input (for scripts)")
    remove = actions.add_parser("remove", help="remove an account; its sessions end at their next request")
    remove.add_argument("name")
    listing = actions.add_parser("list", help="the accounts and their roles")
    for sub in (add, remove, listing):
        add_settings(sub)


def cmd_web_user(parsed: argparse.Namespace, settings: dict) -> int:
    with _opener(settings, create=True)() as storage:
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


def _opener(settings: dict, create: bool = False) -> Callable[[], Storage]:
    """The dashboard only reads: a mistyped SQLite path is an error, not a new empty database."""
    return lambda: open_storage(settings["db"], settings["db_password_file"], create=create)


class _WebInfo:
    """``procmesh_web_info`` for a dashboard served alone, without a hub's metrics."""

    def collect(self):  # noqa: ANN201 - prometheus_client's collector protocol
        yield InfoMetricFamily("procmesh_web", "The dashboard's release", value={"version": __version__})
