"""The commands that answer questions from the stored sessions: report and status.

hub/cli.py registers them (``add_answer_commands``) and dispatches to ``ANSWER_COMMANDS``; the
questions themselves are answered by hub.answers, which the web dashboard shares.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from common.settings import Option, positive_count
from hub.answers import NO_LABS, AnswerError, Labs, Window, grouping, load_labs, load_licenses, usage
from hub.answers.status import node_states
from hub.answers.zone import resolve_zone
from hub.storage import Storage, open_storage
from hub.tables import FORMATS, format_status, format_usage
from hub.timespec import parse_when

LABS = Option("labs", "", "file naming the computers of each lab (default: labs.txt beside the "
              "watch list, if there is one)", metavar="FILE")
LICENSES = Option("licenses", "", "file of licences owned per program (default: licenses.txt "
                  "beside the watch list, if there is one)", metavar="FILE")
TZ = Option("tz", "", "time zone of periods and times shown, e.g. Europe/Berlin (default: this "
            "computer's)", metavar="ZONE")
ANSWER_OPTIONS = (LABS, LICENSES, TZ)

Command = Callable[[str, str, Sequence[Option]], argparse.ArgumentParser]


def add_answer_commands(command: Command, db_options: Sequence[Option], watch: Option,
                        interval: Option, log_options: Sequence[Option]) -> None:
    """Add report and status; ``command(name, help, options)`` makes a subcommand with settings."""
    report = command("report", "usage per lab, computer, user, program and local period",
                     (*db_options, watch, LABS, TZ, *log_options))
    _window_flags(report)
    report.add_argument("--by", default="computer,user,process",
                        help="comma-separated grouping from computer,user,process,lab,day,week,month,"
                             "hour,weekday (default: computer,user,process)")
    report.add_argument("--top", type=_count, metavar="N", help="only the N rows with the most time")
    report.add_argument("--format", choices=FORMATS, default="table")
    status = command("status", "nodes, online or offline, and when each was last seen",
                     (*db_options, interval, *log_options))
    status.add_argument("--format", choices=FORMATS, default="table")


def _window_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="WHEN", help="from (7d, 12h, today, 2026-11-01 ...); default: all")
    parser.add_argument("--until", metavar="WHEN", help="to (same forms); default: now")


def _count(text: str) -> int:
    try:
        return positive_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} {exc}") from None


def open_existing(settings: dict[str, Any]) -> Storage:
    """The hub's database, brought up to date; never a new empty one for a mistyped path."""
    storage = open_storage(settings["db"], settings["db_password_file"], create=False)
    try:
        storage.ensure_schema()
    except BaseException:
        storage.close()
        raise
    return storage


def _window(parsed: argparse.Namespace, zone: Any, now: float) -> Window:
    def when(text: str | None, flag: str) -> float | None:
        if text is None:
            return None
        try:
            return parse_when(text, now, zone)
        except ValueError as exc:
            raise AnswerError(f"{flag}: {exc}") from None
    return Window(when(parsed.since, "--since"), when(parsed.until, "--until"))


def beside_watch_list(settings: dict[str, Any], key: str, name: str) -> tuple[Path, bool]:
    """The file an option names (required to exist), or ``name`` beside the watch list (optional)."""
    if settings[key]:
        return Path(settings[key]).expanduser(), True
    return Path(settings["watch"]).expanduser().parent / name, False


def labs_of(settings: dict[str, Any]) -> Labs:
    return load_labs(*beside_watch_list(settings, "labs", "labs.txt"))


def licenses_of(settings: dict[str, Any]) -> dict[str, int]:
    return load_licenses(*beside_watch_list(settings, "licenses", "licenses.txt"))


def cmd_report(parsed: argparse.Namespace, settings: dict[str, Any]) -> int:
    by = grouping(parsed.by)
    zone = resolve_zone(settings["tz"])
    now = time.time()
    window = _window(parsed, zone, now)
    labs = labs_of(settings) if "lab" in by else NO_LABS
    with open_existing(settings) as storage:
        rows = usage(storage, by, window, zone, now, labs, parsed.top)
    print(format_usage(rows, by, parsed.format, zone if settings["tz"] else None))
    return 0


def cmd_status(parsed: argparse.Namespace, settings: dict[str, Any]) -> int:
    with open_existing(settings) as storage:
        states = node_states(storage, time.time(), settings["interval"])
    print(format_status([s.node for s in states], [s.online for s in states], parsed.format))
    return 0


ANSWER_COMMANDS = {"report": cmd_report, "status": cmd_status}
