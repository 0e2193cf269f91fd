"""``procmesh-hub``: run the hub, or query what it stored (report, status), or create the tables."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Callable, Sequence

from common.errors import ProcmeshError, os_error_line
from common import __version__
from common.logs import LOG_OPTIONS, setup_logging
from common.settings import (Option, add_options, non_negative_seconds, positive_seconds, resolve,
                             settings_file)
from common.timing import DEFAULT_IDLE_AFTER
from hub.answer_commands import ANSWER_COMMANDS, ANSWER_OPTIONS, RETENTION_DAYS, add_answer_commands
from hub.key_options import CURVE_OPTIONS, KEYS_DIR, add_keys_parser
from hub.storage import password_in_url
from hub.web.options import WEB_OPTIONS, add_web_user_parser

log = logging.getLogger("procmesh.hub")

DB = Option("db", "sqlite:///procmesh.db", "database URL: sqlite:///FILE or mariadb://USER@HOST:PORT/NAME",
            metavar="URL")
DB_PASSWORD_FILE = Option("db_password_file", "", "file holding the MariaDB password (instead of "
                          "PROCMESH_DB_PASSWORD)", metavar="FILE")
DB_OPTIONS = (DB, DB_PASSWORD_FILE)
INTERVAL = Option("interval", 5.0, "seconds between two scans on every node", positive_seconds,
                  metavar="SECONDS")
WATCH = Option("watch", "monitorProcesses.txt", "watch list file, hot-reloaded on change", metavar="FILE")
RUN_OPTIONS = (
    WATCH,
    Option("config_endpoint", "tcp://*:8805", "XPUB endpoint for config and acks", metavar="EP"),
    Option("report_endpoint", "tcp://*:8806", "PULL endpoint for node reports", metavar="EP"),
    INTERVAL,
    Option("grace", 30.0, "seconds a program may vanish before its session ends (at least twice the "
           "interval)", non_negative_seconds, metavar="SECONDS"),
    Option("idle_after", DEFAULT_IDLE_AFTER, "seconds without keyboard or mouse input after which "
           "the user counts as away, from the last input on", positive_seconds, metavar="SECONDS"),
    RETENTION_DAYS,
    *CURVE_OPTIONS,
)
ALL_OPTIONS = (*DB_OPTIONS, *RUN_OPTIONS, *ANSWER_OPTIONS, *WEB_OPTIONS, *LOG_OPTIONS)
WEB_COMMAND_OPTIONS = tuple(o for o in ALL_OPTIONS if "endpoint" not in o.key
                            and o.key not in ("curve", "accept_any_node", "retention_days", "web_process"))
SUBCOMMANDS = ("run", "init-db", "keys", *ANSWER_COMMANDS, "web", "web-user")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="procmesh-hub", description="procmesh hub: tells nodes what to watch and stores their usage.")
    parser.add_argument("--version", action="version", version=f"procmesh-hub {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{" + ",".join(SUBCOMMANDS) + "}")

    def add_settings(sub: argparse.ArgumentParser, options: Sequence[Option]) -> None:
        sub.add_argument("--config", metavar="FILE", help="TOML settings file (keys as the flags, with _)")
        add_options(sub, options)

    def command(name: str, help_text: str, options: Sequence[Option]) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        add_settings(sub, options)
        return sub

    command("run", "run the hub (the default command)", ALL_OPTIONS)
    add_answer_commands(command, DB_OPTIONS, WATCH, INTERVAL, LOG_OPTIONS)
    command("init-db", "create the database tables and exit", (*DB_OPTIONS, *LOG_OPTIONS))
    add_keys_parser(commands, lambda sub: add_settings(sub, (KEYS_DIR, *LOG_OPTIONS)))
    command("web", "serve the web dashboard alone, from any database the hub writes", WEB_COMMAND_OPTIONS)
    add_web_user_parser(commands, lambda sub: add_settings(sub, (*DB_OPTIONS, *LOG_OPTIONS)))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0] not in SUBCOMMANDS and args[0] not in ("-h", "--help", "--version")):
        args.insert(0, "run")
    parsed = build_parser().parse_args(args)
    try:
        values, file_name = settings_file(parsed.config)
        settings = resolve(ALL_OPTIONS, parsed, values, file_name)
        setup_logging(settings["log_level"], settings["log_file"])
        if password_in_url(getattr(parsed, "db", None) or ""):
            log.warning("the database password in --db is visible to every user of this computer in "
                        "the process list: use db_password_file or PROCMESH_DB_PASSWORD instead")
        return command_function(parsed.command)(parsed, settings)
    except ProcmeshError as exc:
        print(f"procmesh-hub: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"procmesh-hub: error: {os_error_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


# Imported when chosen: only these need ZeroMQ, CURVE, Prometheus or the web stack, whose imports
# were a quarter of a second of every report's start.
COMMANDS: dict[str, str] = {"run": "hub.running:cmd_run", "init-db": "hub.running:cmd_init_db",
                            "keys": "hub.keys:cmd_keys", "web": "hub.web.cli:cmd_web",
                            "web-user": "hub.web.cli:cmd_web_user"}


def command_function(name: str) -> Callable[[argparse.Namespace, dict], int]:
    if name in ANSWER_COMMANDS:
        return ANSWER_COMMANDS[name]
    module, function = COMMANDS[name].split(":")
    return getattr(importlib.import_module(module), function)
