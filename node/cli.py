"""``procmesh-node``: report which watched programs this desktop runs, for whom and for how long."""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path
from typing import Sequence

import filelock
import platformdirs
import zmq

from common.curve import KeyFileError, owns
from common.logs import LOG_OPTIONS, setup_logging
from common.protocol import CODECS, encode_report
from common.settings import Option, SettingsError, add_options, resolve, settings_file
from node.agent import Endpoints, NodeAgent, NodeIdentity, NoConfigError
from node.handshake import HubLinks
from node.keys import KEY_OPTIONS, KEYS_DIR, build_keys_parser, curve_client, init_node_keys
from node.platform import current_user, hostname
from node.scanner import SCOPES

log = logging.getLogger("procmesh.node")

APP = "procmesh"
CONFIG_PORT = 8805
REPORT_PORT = 8806
ONCE_WAIT_SECONDS = 10.0

OPTIONS = (
    Option("hub", "localhost", "hub host name or address", metavar="HOST"),
    Option("config_endpoint", "", "config endpoint (default tcp://HUB:8805)", metavar="EP"),
    Option("report_endpoint", "", "report endpoint (default tcp://HUB:8806)", metavar="EP"),
    Option("scope", "user", "count this user's processes, or all (run as root/SYSTEM)", choices=SCOPES),
    Option("node_id", "", "node id (default HOSTNAME/USER)", metavar="ID"),
    Option("codec", "msgpack", "report encoding", choices=CODECS),
    *KEY_OPTIONS,
    *LOG_OPTIONS,
)


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
    host = settings["hub"]
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # a bare IPv6 address
    return Endpoints(settings["config_endpoint"] or f"tcp://{host}:{CONFIG_PORT}",
                     settings["report_endpoint"] or f"tcp://{host}:{REPORT_PORT}")


def identity(settings: dict) -> NodeIdentity:
    host, user = hostname(), current_user()
    node = settings["node_id"] or f"{host}/{user}"
    if "\0" in node or len(node) > 255:
        raise SettingsError("node_id must be at most 255 characters, without NUL")
    return NodeIdentity(node, host, user)


def single_instance_lock(node: str) -> filelock.BaseFileLock:
    """A lock per node id: login scripts start the node at every logon, a second copy must yield."""
    folder = Path(platformdirs.user_data_dir(APP, appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", node)
    return filelock.FileLock(str(folder / f"node-{safe}.lock"))


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
        agent = NodeAgent(who, endpoints(settings), settings["scope"], settings["codec"],
                          HubLinks(curve, settings["auth_retry"]))
        if parsed.once:
            return _once(agent)
        return _run(agent)
    except (SettingsError, NoConfigError, KeyFileError) as exc:
        print(f"procmesh-node: error: {exc}", file=sys.stderr)
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


def _run(agent: NodeAgent) -> int:
    lock = single_instance_lock(agent.identity.node)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        log.info("a node for %s is already running here (lock %s); exiting", agent.identity.node,
                 lock.lock_file)
        agent.close()
        return 0
    try:
        agent.install_signal_handlers()
        agent.run()
    finally:
        lock.release()
    return 0
