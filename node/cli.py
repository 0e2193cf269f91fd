"""``procmesh-node``: report which watched programs this desktop runs, for whom and for how long."""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, NoReturn, Sequence

import filelock
import platformdirs
import zmq

from common import __version__
from common.curve import owns
from common.errors import ProcmeshError, os_error_line
from common.logs import LOG_OPTIONS, install_exception_hooks, logs_to_file, setup_logging
from common.protocol import CODECS, encode_report
from common.settings import Option, SettingsError, add_options, load_toml, positive_count, resolve
from node.agent import Endpoints, NodeAgent, NodeIdentity
from node.clock import Clock
from node.outbox import Outbox
from node.handshake import HubLinks, Reachability
from node.ipv6 import Families, address_families, needs_ipv6
from node.keys import KEY_OPTIONS, KEYS_DIR, build_keys_parser, curve_client, init_node_keys
from node.platform import WINDOWS, current_user, hostname
from node.presence.source import PresenceSource, probe_opener
from node.scanner import SCOPES
from node.sessions import DEFAULT_MAX_CLOSED
from node.sitefile import machine_settings_file
from node.stopping import SessionEndHandler, StopRelay

log = logging.getLogger("procmesh.node")

APP = "procmesh"
CONFIG_PORT = 8805
REPORT_PORT = 8806
ONCE_WAIT_SECONDS = 10.0
PLACEHOLDER = "HUB_HOST"   # what the start-up templates say until someone replaces it
INTERRUPTED = 130          # the shells' exit status for Ctrl-C

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


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="your own TOML settings file; the machine-wide node.toml is read in any "
                             "case, and its keys win over this file and the environment")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if sys.stderr is None:   # argparse prints to a console that a windowless node does not have
            log.error("command line: %s", message)
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="procmesh-node",
        description="procmesh node: reports which watched programs run here, for whom and how long. "
                    "'procmesh-node keys init' creates its CURVE key pair; on Windows, "
                    "'procmesh-node service install [OPTIONS]' installs the SYSTEM node as a service.")
    parser.add_argument("--version", action="version", version=f"procmesh-node {__version__}")
    add_config_flag(parser)
    parser.add_argument("--once", action="store_true",
                        help="fetch the watch list, scan once, print what would be reported, exit")
    add_options(parser, OPTIONS)
    return parser


def keys_folder(settings: dict) -> Path:
    if settings["keys_dir"]:
        return Path(settings["keys_dir"])
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def default_log_files() -> list[Path]:
    """Where a node without a console logs, until its settings name a file or when they do not:
    on Windows %LOCALAPPDATA%\\procmesh\\node.log, where the start-up templates point too; the
    temporary folder when that cannot be written."""
    folder = platformdirs.user_data_dir if WINDOWS else platformdirs.user_log_dir
    return [Path(folder(APP, appauthor=False)) / "node.log", Path(tempfile.gettempdir()) / "procmesh-node.log"]


def check_hub_placeholder(settings: dict) -> None:
    places = [*settings["hub"], *settings["config_endpoint"], *settings["report_endpoint"]]
    if any(PLACEHOLDER in place for place in places):
        raise SettingsError(f"the hub is still {PLACEHOLDER}, the start-up template's placeholder: "
                            f"replace it with the hub's name or address, or remove --hub {PLACEHOLDER} "
                            "and set hub in the machine-wide node.toml")


def endpoints(settings: dict, families: Families = address_families) -> Endpoints:
    hosts = [f"[{host}]" if ":" in host and not host.startswith("[") else host  # bare IPv6
             for host in settings["hub"]]
    config = settings["config_endpoint"] or tuple(f"tcp://{h}:{CONFIG_PORT}" for h in hosts)
    report = settings["report_endpoint"] or tuple(f"tcp://{h}:{REPORT_PORT}" for h in hosts)
    return Endpoints(config, report, needs_ipv6((*config, *report), families))


def identity(settings: dict, key_name: str = "") -> NodeIdentity:
    """Who this node reports as. With a CURVE key the computer is the name the key was made for
    (the host name unless ``keys init --name`` chose another, in whatever case): the hub stores
    that name and drops reports that claim another computer."""
    host, user = key_name or hostname(), current_user()
    node = settings["node_id"] or f"{host}/{user}"
    if "\0" in node or len(node) > 255:
        raise SettingsError("node_id must be at most 255 characters, without NUL")
    return NodeIdentity(node, host, user)


def data_folder() -> Path:
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def safe_name(text: str) -> str:
    """``text`` as part of a file name. Node ids may hold characters no file system accepts; the
    hash keeps ids that differ only in those characters apart."""
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', text)}-{digest}"


def node_file(folder: Path, node: str, suffix: str) -> Path:
    return folder / f"node-{safe_name(node)}{suffix}"


def lock_folders(user: str) -> list[Path]:
    """Where the single-instance lock may live, best first: the data folder, then places that stay
    writable when a roaming or full profile makes it read-only."""
    return [data_folder(), Path(platformdirs.user_runtime_dir(APP, appauthor=False)),
            Path(tempfile.gettempdir()) / f"{APP}-{safe_name(user)}"]


def single_instance_lock(node: str, folders: Sequence[Path]) -> filelock.BaseFileLock | None:
    """A lock per node id: login scripts start the node at every logon, a second copy must yield.
    None when no folder takes a lock file."""
    for folder in folders:
        path = node_file(folder, node, ".lock")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # filelock on Windows takes a folder it cannot write for a lock held by another copy,
            # which would make the node exit as "already running": try the file first.
            with open(path, "a"):
                pass
        except OSError as exc:
            log.warning("cannot keep the single-instance lock in %s: %s", folder, os_error_line(exc))
            continue
        return filelock.FileLock(str(path))
    return None


def main(argv: Sequence[str] | None = None, relay: StopRelay | None = None,
         clock: Clock | None = None) -> int:
    """The node's command line. A Windows service passes ``relay`` to stop the node; without one
    the node stops on signals and, on Windows, when the session ends. ``clock`` replaces this
    computer's clocks (tests run nodes on clocks of their own)."""
    # Logging first: under pythonw there is no stderr, and an error before it would vanish.
    setup_logging("INFO", None, default_log_files())
    install_exception_hooks(log)
    own_relay = relay is None
    relay = relay or StopRelay()
    try:
        return _main(list(sys.argv[1:] if argv is None else argv), relay, own_relay, clock)
    except ProcmeshError as exc:
        return _fail(f"error: {exc}")
    except OSError as exc:
        return _fail(f"error: {os_error_line(exc)}")
    except zmq.ZMQError as exc:
        return _fail(f"error: cannot connect: {exc}")
    except KeyboardInterrupt:
        return _fail("interrupted", INTERRUPTED)
    finally:
        relay.finish()


def _fail(message: str, code: int = 1) -> int:
    """One line where a person looks: the console, the log file, or both."""
    if sys.stderr is not None:
        print(f"procmesh-node: {message}", file=sys.stderr)
    if sys.stderr is None or logs_to_file():
        log.error("%s", message)
    return code


def load_settings(parsed: argparse.Namespace) -> tuple[dict[str, Any], Path | None]:
    """The settings, with the machine-wide file's keys as policy; also that file, if any."""
    machine = machine_settings_file()
    policy = load_toml(machine) if machine else {}
    own = load_toml(parsed.config) if parsed.config else {}
    return resolve(OPTIONS, parsed, own, parsed.config or "settings file", policy=policy,
                   policy_name=str(machine)), machine


def _main(args: list[str], relay: StopRelay, own_relay: bool, clock: Clock | None) -> int:
    if args[:1] == ["service"]:
        return _service(args[1:])
    keys_command = args[:1] == ["keys"]
    if keys_command:
        parsed = build_keys_parser(lambda sub: (add_config_flag(sub), add_options(sub, (KEYS_DIR,)))
                                   ).parse_args(args[1:])
    else:
        parsed = build_parser().parse_args(args)
    settings, machine = load_settings(parsed)
    if keys_command:
        print(init_node_keys(keys_folder(settings), parsed.name, parsed.force))
        return 0
    setup_logging(settings["log_level"], settings["log_file"], default_log_files())
    # A running node says where its settings came from; --once keeps its console output short.
    log.log(logging.DEBUG if parsed.once else logging.INFO, "procmesh-node %s: machine-wide settings %s%s",
            __version__, machine or "none (no node.toml found)",
            f", own settings {parsed.config}" if parsed.config else "")
    check_hub_placeholder(settings)
    curve = curve_client(settings["hub_key"], keys_folder(settings))
    who = identity(settings, curve.name if curve else "")
    if curve is not None and curve.name and not owns(curve.name, who.node):
        log.warning("this node's key is made for %r, but the node id is %r: the hub drops reports "
                    "for node ids other than %r and %r", curve.name, who.node, curve.name,
                    curve.name + "/...")
    hubs = endpoints(settings)
    links = HubLinks(curve, settings["auth_retry"], Reachability([*hubs.config, *hubs.report]))
    if parsed.once:
        return _once(NodeAgent(who, hubs, settings["scope"], settings["codec"], links=links,
                               clock=clock))
    return _run(who, hubs, settings, links, relay, own_relay, clock)


def _service(args: list[str]) -> int:
    if not WINDOWS:
        raise SettingsError("procmesh-node service is for Windows; elsewhere run the node with "
                            "--scope all under the system's service manager (docs/deploy.md)")
    from node.windows.service import command
    build_parser().parse_args(args[1:])   # the node's own arguments, checked before anything is installed
    return command(args)


def _once(agent: NodeAgent) -> int:
    try:
        report = agent.once(ONCE_WAIT_SECONDS)
    finally:
        agent.close()
    if sys.stdout is not None:
        print(once_text(json.loads(encode_report(report, "json")), sys.stdout.encoding))
    return 0


def once_text(report: Any, encoding: str | None) -> str:
    """The report as indented JSON, with characters the output's encoding lacks (a cp1252 console
    or redirection on Windows) written as escapes rather than failing."""
    text = json.dumps(report, indent=2, ensure_ascii=False)
    try:
        text.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return json.dumps(report, indent=2)
    return text


def _run(who: NodeIdentity, hubs: Endpoints, settings: dict, links: HubLinks, relay: StopRelay,
         own_relay: bool, clock: Clock | None) -> int:
    lock = single_instance_lock(who.node, lock_folders(who.user))
    if lock is None:
        log.error("no folder takes the single-instance lock: going on without it, so a second node "
                  "for %s would report the same programs again", who.node)
    else:
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            log.info("a node for %s is already running here (lock %s); exiting", who.node, lock.lock_file)
            return 0
    try:
        # The outbox is opened only under the lock: one run of a node id owns it at a time.
        agent = NodeAgent(who, hubs, settings["scope"], settings["codec"],
                          Outbox(node_file(data_folder(), who.node, ".outbox.sqlite")),
                          settings["outbox_limit"], links, clock,
                          PresenceSource(probe_opener(settings["scope"])))
        if threading.current_thread() is threading.main_thread():
            agent.install_signal_handlers()   # a service runs the node in another thread
        if own_relay and WINDOWS:
            from node.windows.endsession import watch_session_end
            watch_session_end(SessionEndHandler(relay))
        relay.run(agent)
    finally:
        if lock is not None:
            lock.release()
    return 0
