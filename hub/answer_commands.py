"""The commands that answer questions from the stored sessions: report, status, peak, unused, now,
and rollup (bring the roll-up up to date, or rebuild it).

hub/cli.py registers them (``add_answer_commands``) and dispatches to ``ANSWER_COMMANDS``; the
questions themselves are answered by hub.answers, which the web dashboard shares.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from common.settings import Option, positive_count
from common.watchlist import load_watchlist
from hub.answers import NO_LABS, AnswerError, Labs, Window, grouping, load_labs, load_licenses, usage
from hub.answers.inventory import running_now, unused
from hub.answers.peak import COUNTED, PER, peaks
from hub.answers.rollup import RollupKeeper, catch_up, rebuild
from hub.answers.status import node_states
from hub.answers.zone import resolve_zone
from hub.storage import Storage, open_storage
from hub.tables import (FORMATS, format_now, format_peaks, format_status, format_unused,
                        format_usage)
from hub.timespec import parse_when
from hub.web.pseudonym import hide_users_in

def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("is not a number") from None
    if value < 0:
        raise ValueError("must be 0 (keep everything) or more")
    return value


LABS = Option("labs", "", "file naming the computers of each lab (default: labs.txt beside the "
              "watch list, if there is one)", metavar="FILE")
LICENSES = Option("licenses", "", "file of licences owned per program (default: licenses.txt "
                  "beside the watch list, if there is one)", metavar="FILE")
TZ = Option("tz", "", "time zone of periods and times shown, e.g. Europe/Berlin (default: this "
            "computer's)", metavar="ZONE")
RETENTION_DAYS = Option("retention_days", 0.0, "delete sessions that ended more than this many days "
                        "ago, in small batches once an hour; the roll-up keeps their usage (0: keep "
                        "everything)", _days, metavar="DAYS")
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
    peak = command("peak", "most computers (or users) running each program at once, per period, "
                   "against the licences owned", (*db_options, watch, LICENSES, TZ, *log_options))
    _window_flags(peak)
    peak.add_argument("--per", choices=PER, default="day")
    peak.add_argument("--count", choices=tuple(COUNTED), default="computers")
    peak.add_argument("--process", action="append", default=[], metavar="LABEL",
                      help="only this label (repeat for more)")
    peak.add_argument("--format", choices=FORMATS, default="table")
    idle = command("unused", "watched programs nobody used, and nodes not heard from, for N days",
                   (*db_options, watch, TZ, *log_options))
    idle.add_argument("--days", type=_count, default=90, metavar="N", help="default: 90")
    idle.add_argument("--format", choices=FORMATS, default="table")
    now = command("now", "what runs right now, per lab and computer, and the free seats per lab",
                  (*db_options, watch, LABS, interval, *log_options))
    now.add_argument("--format", choices=FORMATS, default="table")
    rollup = command("rollup", "bring the roll-up up to date now (the hub does it every 5 "
                     "minutes), or --rebuild it from the stored sessions", (*db_options, TZ, *log_options))
    rollup.add_argument("--rebuild", action="store_true", help="forget the roll-up and compute it anew")


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


def start_rollup_keeper(settings: dict[str, Any]) -> RollupKeeper:
    """The hub's roll-up and retention job, on a database connection of its own."""
    keeper = RollupKeeper(lambda: open_storage(settings["db"], settings["db_password_file"]),
                          resolve_zone(settings["tz"]), settings["retention_days"] or None, time.time)
    keeper.start()
    return keeper


def cmd_report(parsed: argparse.Namespace, settings: dict[str, Any]) -> int:
    by = grouping(parsed.by)
    zone = resolve_zone(settings["tz"])
    now = time.time()
    window = _window(parsed, zone, now)
    labs = labs_of(settings) if "lab" in by else NO_LABS
    with open_existing(settings) as storage:
        rows = usage(storage, by, window, zone, now, labs, parsed.top)
    rows = hide_users_in(rows, by, settings)
    print(format_usage(rows, by, parsed.format, zone if settings["tz"] else None))
    return 0


def cmd_status(parsed: argparse.Namespace, settings: dict[str, Any]) -> int:
    with open_existing(settings) as storage:
        states = node_states(storage, time.time(), settings["interval"])
    print(format_status([s.node for s in states], [s.online for s in states], parsed.format))
    return 0


def cmd_peak(parsed: argparse.Namespace, settings: dict[str, Any]) -> int:
    zone = resolve_zone(settings["tz"])
    now = time.time()
    window = _window(parsed, zone, now)
    owned = licenses_of(settings)
    with open_existing(settings) as storage:
        rows = peaks(storage, window, zone, now, parsed.per, parsed.count, parsed.process, owned)
    print(format_peaks(rows, parsed.format, zone if settings["tz"] else None))
    return 0


def cmd_unused(parsed: argparse.Namespace, settings: dict[str, Any]) -> int:
    labels = [entry.label for entry in load_watchlist(Path(settings["watch"]).expanduser())]
    with open_existing(settings) as storage:
        quiet, silent = unused(storage, labels, parsed.days, resolve_zone(settings["tz"]), time.time())
    print(format_unused(quiet, silent, parsed.format))
    return 0


def cmd_now(parsed: argparse.Namespace, settings: dict[str, Any]) -> int:
    labs = labs_of(settings)
    with open_existing(settings) as storage:
        running, seats = running_now(storage, time.time(), settings["interval"], labs)
    print(format_now(running, seats, parsed.format))
    return 0


def cmd_rollup(parsed: argparse.Namespace, settings: dict[str, Any]) -> int:
    zone = resolve_zone(settings["tz"])
    with open_existing(settings) as storage:
        days = (rebuild if parsed.rebuild else catch_up)(storage, zone, time.time())
    print(f"roll-up in {zone.key}: {days} days computed")
    return 0


ANSWER_COMMANDS = {"report": cmd_report, "status": cmd_status, "peak": cmd_peak, "unused": cmd_unused,
                   "now": cmd_now, "rollup": cmd_rollup}
