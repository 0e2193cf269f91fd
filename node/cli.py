"""``procmesh-node``: report which watched programs this desktop runs, for whom and for how long."""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Sequence

import filelock
import platformdirs
import zmq

from common import __version__
from common.curve import owns
from common.errors import ProcmeshError, os_error_line
from common.logs import LOG_OPTIONS, setup_logging
from common.protocol import CODECS, encode_report
from common.settings import (Option, SettingsError, add_options, positive_count, resolve,
                             settings_file)
from node.agent import Endpoints, NodeAgent, NodeIdentity
from node.outbox import Outbox
from node.handshake import HubLinks
from node.keys import KEY_OPTIONS, KEYS_DIR, build_keys_parser, curve_client, init_node_keys
from node.platform import current_user, hostname
from node.presence.source import PresenceSource, probe_opener
from node.scanner import SCOPES
from node.sessions import DEFAULT_MAX_CLOSED

log = logging.getLogger("procmesh.node")

APP = "procmesh"
CONFIG_PORT = 8805
REPORT_PORT = 8806
ONCE_WAIT_SECONDS = 10.0

OPTIONS = (
    Option("hub", ("localhost",), "hub host name or address; repeat for several hubs", metavar="HOST",
           multiple=True),
    Option("config_endpoint", (), "config endpoint; repeatable (default tcp://HUB:8805 per hub)",
           metavar="EP", multiple=True),
    Option("report_endpoint", (), "report endpoint; repeatable (default tcp://HUB:8806 per hub)",
           metavar="EP", multiple=True),
    Option("scope", "user", "count this user's processes, or all (run as root/SYSTEM)", choices=SCOPES),
    Option("node_id", "", "node id (default HOSTNAME/USER)", metavar="ID"),
    Option("codec", "msgpack", "report encoding", choices=CODECS),
    Option("outbox_limit", DEFAULT_MAX_CLOSED, "closed sessions kept for the hub at most",
           convert=positive_count, metavar="N"),
    *KEY_OPTIONS,
    *LOG_OPTIONS,
)
# A test hook, not a setting: shifts this node's wall clock to test the hub's skew correction.
CLOCK_SHIFT_VARIABLE = "PROCMESH_TEST_CLOCK_SHIFT"


def site_settings_file() -> Path:
    """The machine-wide node.toml, read when --config is not given, so one file serves every login."""
    return Path(platformdirs.site_config_dir(APP, appauthor=False)) / "node.toml"


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help=f"TOML settings file (default: {site_settings_file()} if it exists)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="procmesh-node",
        description="procmesh node: reports which watched programs run here, for whom and how long. "
                    "'procmesh-node keys init' creates its CURVE key pair.")
    parser.add_argument("--version", action="version", version=f"procmesh-node {__version__}")
    add_config_flag(parser)
    parser.add_argument("--once", action="store_true",
                        help="fetch the watch list, scan once, print what would be reported, exit")
    add_options(parser, OPTIONS)
    return parser


def keys_folder(settings: dict) -> Path:
    if settings["keys_dir"]:
        return Path(settings["keys_dir"]).expanduser()
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def endpoints(settings: dict) -> Endpoints:
    hosts = [f"[{host}]" if ":" in host and not host.startswith("[") else host  # bare IPv6
             for host in settings["hub"]]
    return Endpoints(settings["config_endpoint"] or tuple(f"tcp://{h}:{CONFIG_PORT}" for h in hosts),
                     settings["report_endpoint"] or tuple(f"tcp://{h}:{REPORT_PORT}" for h in hosts))


def identity(settings: dict) -> NodeIdentity:
    host, user = hostname(), current_user()
    node = settings["node_id"] or f"{host}/{user}"
    if "\0" in node or len(node) > 255:
        raise SettingsError("node_id must be at most 255 characters, without NUL")
    return NodeIdentity(node, host, user)


def node_file(node: str, suffix: str) -> Path:
    """A file of this node id in the user's data folder. Node ids may hold characters no file
    system accepts; the hash keeps ids that differ only in those characters apart."""
    folder = Path(platformdirs.user_data_dir(APP, appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", node)
    digest = hashlib.sha1(node.encode("utf-8")).hexdigest()[:8]
    return folder / f"node-{safe}-{digest}{suffix}"


def single_instance_lock(node: str) -> filelock.BaseFileLock:
    """A lock per node id: login scripts start the node at every logon, a second copy must yield."""
    return filelock.FileLock(str(node_file(node, ".lock")))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    keys_command = args[:1] == ["keys"]
    if keys_command:
        parsed = build_keys_parser(lambda sub: (add_config_flag(sub), add_options(sub, (KEYS_DIR,)))
                                   ).parse_args(args[1:])
    else:
        parsed = build_parser().parse_args(args)
    try:
        values, file_name = settings_file(parsed.config, site_settings_file())
        settings = resolve(OPTIONS, parsed, values, file_name)
        if keys_command:
            print(init_node_keys(keys_folder(settings), parsed.name, parsed.force))
            return 0
        setup_logging(settings["log_level"], settings["log_file"],
                      Path(platformdirs.user_log_dir(APP, appauthor=False)) / "node.log")
        who = identity(settings)
        curve = curve_client(settings["hub_key"], keys_folder(settings))
        if curve is not None and curve.name and not owns(curve.name, who.node):
            log.warning("this node's key is made for %r, but the node id is %r: the hub drops reports "
                        "for node ids other than %r and %r", curve.name, who.node, curve.name,
                        curve.name + "/...")
        links = HubLinks(curve, settings["auth_retry"])
        if parsed.once:
            return _once(NodeAgent(who, endpoints(settings), settings["scope"], settings["codec"],
                                   links=links))
        return _run(who, settings, links)
    except ProcmeshError as exc:
        print(f"procmesh-node: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"procmesh-node: error: {os_error_line(exc)}", file=sys.stderr)
        return 1
    except zmq.ZMQError as exc:
        print(f"procmesh-node: error: cannot connect: {exc}", file=sys.stderr)
        return 1


def _once(agent: NodeAgent) -> int:
    try:
        report = agent.once(ONCE_WAIT_SECONDS)
    finally:
        agent.close()
    print(json.dumps(json.loads(encode_report(report, "json")), indent=2, ensure_ascii=False))
    return 0


def _run(who: NodeIdentity, settings: dict, links: HubLinks) -> int:
    lock = single_instance_lock(who.node)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        log.info("a node for %s is already running here (lock %s); exiting", who.node, lock.lock_file)
        return 0
    try:
        # The outbox is opened only under the lock: one run of a node id owns it at a time.
        agent = NodeAgent(who, endpoints(settings), settings["scope"], settings["codec"],
                          Outbox(node_file(who.node, ".outbox.sqlite")), settings["outbox_limit"],
                          _clock_shift(), links, PresenceSource(probe_opener(settings["scope"])))
        agent.install_signal_handlers()
        agent.run()
    finally:
        lock.release()
    return 0


def _clock_shift() -> float:
    try:
        return float(os.environ.get(CLOCK_SHIFT_VARIABLE, "0"))
    except ValueError:
        raise SettingsError(f"environment variable {CLOCK_SHIFT_VARIABLE}: not a number") from None
