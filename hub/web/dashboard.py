"""The dashboard made ready to serve, before anything runs, and its app for whichever process serves it."""
from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import uvicorn

from hub.answers.zone import resolve_zone
from hub.storage import Storage, open_storage
from hub.web.accounts import Accounts
from hub.web.app import WebContext, create_app
from hub.web.pool import StoragePool
from hub.web.pseudonym import Pseudonymizer
from hub.web.serve import Listen, WebListenError, bind, check_tls, parse_listen, uvicorn_config
from hub.web.session import Sessions

Metrics = Callable[[], bytes]          # the Prometheus exposition /metrics serves
Health = Callable[[], list[str]]       # why /healthz says 503; empty while all is well


@dataclass
class Dashboard:
    """A dashboard ready to serve: its socket is bound, its access rule and key files checked."""

    listen: Listen
    sock: socket.socket
    settings: dict

    @property
    def url(self) -> str:
        return self.listen.url(bool(self.settings["web_certfile"]))

    def config(self, metrics: Metrics, health: Health) -> uvicorn.Config:
        """uvicorn's configuration of the app, in whichever process serves it."""
        keys_dir = Path(self.settings["keys_dir"]).expanduser()
        open_db = open_dashboard_db(self.settings)
        ctx = WebContext(
            pool=StoragePool(open_db), quick=StoragePool(open_db), sessions=Sessions.from_keys_dir(keys_dir),
            pseudonymizer=Pseudonymizer.from_keys_dir(keys_dir), loopback=self.listen.loopback,
            settings=self.settings, zone=resolve_zone(self.settings["tz"]), metrics=metrics, health=health)
        return uvicorn_config(create_app(ctx), self.settings["web_certfile"], self.settings["web_keyfile"])


def prepare_dashboard(settings: dict) -> Dashboard | None:
    """Check the address rule, the certificate pair and the key files, and bind, so every mistake is
    one line before anything runs; None: off."""
    listen = parse_listen(settings["web_listen"])
    if listen is None:
        return None
    check_tls(settings["web_certfile"], settings["web_keyfile"])
    with open_dashboard_db(settings)() as storage:
        if not listen.loopback and not Accounts(storage).any():
            raise WebListenError(
                f"web_listen {settings['web_listen']} is not a loopback address, so the dashboard needs "
                "accounts: add one with procmesh-hub web-user add NAME --role admin, or use "
                "web_listen = 127.0.0.1:8807")
    keys_dir = Path(settings["keys_dir"]).expanduser()
    Sessions.from_keys_dir(keys_dir)         # made here, read again by whichever process serves
    Pseudonymizer.from_keys_dir(keys_dir)
    return Dashboard(listen, bind(listen), settings)


def open_dashboard_db(settings: dict, create: bool = False) -> Callable[[], Storage]:
    """The dashboard only reads: a mistyped SQLite path is an error, not a new empty database."""
    return lambda: open_storage(settings["db"], settings["db_password_file"], create=create)
