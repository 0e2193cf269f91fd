"""``procmesh-hub run``, the hub itself (sockets, writer, roll-up keeper and the dashboard beside
it), and ``init-db``.

Apart from hub/cli.py so that the commands that only read the database never load ZeroMQ, CURVE,
Prometheus or the web stack: a report asked from a shell starts in a fraction of the time.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from common.curve import KeyFileError
from common.errors import ProcmeshError
from common.settings import SettingsError
from common.timing import grace_problem
from common.watchlist import WatchEntry, WatchListError, load_watchlist
from hub.answer_commands import start_rollup_keeper
from hub.auth import CurveServer, Plaintext, Security
from hub.limits import raise_open_files_limit
from hub.sample import SAMPLE_WATCHLIST
from hub.server import REBROADCAST_SECONDS, BindError, Hub, HubOptions
from hub.storage import Storage, open_storage, parse_db_url
from hub import metrics
from hub.web.cli import prepare_dashboard, start_beside_hub

log = logging.getLogger("procmesh.hub")


def _open_db(settings: dict) -> Storage:
    storage = open_storage(settings["db"], settings["db_password_file"])
    storage.ensure_schema()
    return storage


def _load_or_create_watch_list(path: Path) -> list[WatchEntry]:
    if not path.exists():
        try:
            path.write_text(SAMPLE_WATCHLIST, encoding="utf-8")
        except OSError as exc:
            raise WatchListError(f"watch list {path} does not exist and cannot be created: "
                                 f"{exc.strerror or exc}") from None
        log.warning("no watch list at %s: wrote a commented sample there; edit it to choose the "
                    "programs to record", path)
    return load_watchlist(path)


def cmd_run(_parsed: argparse.Namespace, settings: dict) -> int:
    # Each is valid alone; together they may not be, whichever layer each came from.
    problem = grace_problem(settings["interval"], settings["grace"])
    if problem is not None:
        raise SettingsError(problem)
    watch_file = Path(settings["watch"])
    watch = _load_or_create_watch_list(watch_file)
    security = _security(settings)
    # Before the sockets accept anyone; logged only once nothing can fail with a one-line error.
    capacity = raise_open_files_limit()
    storage = _open_db(settings)
    try:
        dashboard = prepare_dashboard(settings)
    except ProcmeshError:
        storage.close()
        raise
    try:
        hub = Hub(HubOptions(settings["config_endpoint"], settings["report_endpoint"],
                             settings["interval"], settings["grace"], watch_file, capacity,
                             settings["idle_after"]), storage,
                  watch, security)
    except (BindError, KeyFileError):
        storage.close()
        if dashboard:
            dashboard.sock.close()
        raise
    log.info("database: %s", parse_db_url(settings["db"]).redacted())
    if capacity is not None:
        log.info("the open-files limit leaves room for about %d nodes (two connections each)", capacity)
    hub.install_signal_handlers()
    keeper = start_rollup_keeper(settings)
    web = start_beside_hub(dashboard, metrics.REGISTRY, hub.problems) if dashboard else None
    try:
        return 0 if hub.run() else 1
    finally:
        if web:
            web.stop()
        keeper.stop()


def _security(settings: dict) -> Security:
    if not settings["curve"]:
        if settings["accept_any_node"]:
            raise SettingsError("accept_any_node only applies with curve = true (--curve)")
        return Plaintext()
    return CurveServer(Path(settings["keys_dir"]).expanduser(), settings["accept_any_node"],
                       checked_every=REBROADCAST_SECONDS)


def cmd_init_db(_parsed: argparse.Namespace, settings: dict) -> int:
    _open_db(settings).close()
    print(f"tables ready in {parse_db_url(settings['db']).redacted()}")
    return 0
