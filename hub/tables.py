"""Rendering usage and node status for people (table) and programs (csv, json).

Times are shown in the hub's local time zone in tables; csv and json carry ISO 8601 with offset.
"""
from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime, tzinfo
from typing import Callable, Sequence

from hub.answers import UsageRow
from hub.answers.inventory import LabSeats, Running, UnusedLabel
from hub.answers.peak import PeakRow
from hub.storage import NodeStatus

FORMATS = ("table", "csv", "json")


def _local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts).astimezone()


def _short(ts: float) -> str:
    # time.localtime, not a datetime: a report can show tens of thousands of these.
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def duration(seconds: float) -> str:
    """``H:MM:SS``, and ``Nd HH:MM:SS`` from a day on, so a month of a lab reads at a glance."""
    whole = int(round(seconds))
    days, rest = divmod(whole, 86_400)
    clock = f"{rest // 3600}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {clock:0>8}" if days else clock


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip()
             for line in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _emit(fmt: str, header: Sequence[str], table_rows: Callable[[], list[list[str]]],
          fields: Sequence[str], records: Callable[[], list[dict[str, object]]]) -> str:
    # Rows are built only for the format asked for: a report can have a hundred thousand.
    if fmt == "json":
        return json.dumps(records(), ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records())
        return out.getvalue().rstrip("\n")
    return render_table(header, table_rows())


def format_usage(rows: Sequence[UsageRow], by: Sequence[str], fmt: str, zone: tzinfo | None = None) -> str:
    """``time``/``seconds`` is seat time; ``program time``/``program_seconds`` (the plain sum over
    programs) is shown where ``process`` is not a key, since only then can the two differ.

    Active and foreground time show where some session of the report has them (nodes of 0.1.0 and
    desktops that cannot be measured leave them unknown): "-" in a table, empty or null elsewhere.
    Without ``process`` among the keys, active time is a sum over programs like program time, and
    is named so; foreground time is not (one window has the focus at a time)."""
    program = "process" not in by
    measured = [(name, pick) for name, pick in (("program active" if program else "active", _active),
                                                ("foreground", _foreground))
                if any(pick(r) is not None for r in rows)]
    header = [*by, "sessions", "time", *(["program time"] if program else []),
              *(name for name, _ in measured), "first start", "last end"]
    fields = [*by, "sessions", "seconds", *(["program_seconds"] if program else []),
              *(f"{name.replace(' ', '_')}_seconds" for name, _ in measured), "first_start", "last_end"]
    short, iso = _time_formats(zone)
    return _emit(
        fmt, header,
        lambda: [[*r.key, str(r.sessions), duration(r.seconds),
                  *([duration(r.program_seconds)] if program else []),
                  *(_maybe(pick(r), duration, "-") for _, pick in measured), short(r.first), short(r.last)]
                 for r in rows],
        fields,
        lambda: [dict(zip(fields, (*r.key, r.sessions, round(r.seconds, 3),
                                   *([round(r.program_seconds, 3)] if program else []),
                                   *(_maybe(pick(r), lambda s: round(s, 3), None) for _, pick in measured),
                                   iso(r.first), iso(r.last))))
                 for r in rows])


def _active(row: UsageRow) -> float | None:
    return row.active


def _foreground(row: UsageRow) -> float | None:
    return row.foreground


def _maybe(seconds: float | None, show: Callable[[float], object], missing: object) -> object:
    return missing if seconds is None else show(seconds)


def _time_formats(zone: tzinfo | None) -> tuple[Callable[[float], str], Callable[[float], str]]:
    """Table and ISO renderings of a time: in the local zone, or in ``zone``."""
    if zone is None:
        return _short, lambda ts: _local(ts).isoformat()
    return (lambda ts: datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M:%S"),
            lambda ts: datetime.fromtimestamp(ts, zone).isoformat())


def format_status(nodes: Sequence[NodeStatus], online: Sequence[bool], fmt: str) -> str:
    header = ["node", "state", "last seen", "computer", "user", "address", "agent", "config"]
    fields = ["node", "online", "last_seen", "first_seen", "computer", "user", "address", "platform",
              "agent", "config"]
    return _emit(
        fmt, header,
        lambda: [[n.node, "online" if up else "offline", _short(n.last_seen), n.computer, n.user,
                  n.client_ip, n.agent, n.cfg] for n, up in zip(nodes, online)],
        fields,
        lambda: [dict(zip(fields, (n.node, up, _local(n.last_seen).isoformat(),
                                   _local(n.first_seen).isoformat(), n.computer, n.user, n.client_ip,
                                   n.platform, n.agent, n.cfg)))
                 for n, up in zip(nodes, online)])


def format_peaks(rows: Sequence[PeakRow], fmt: str, zone: tzinfo | None = None) -> str:
    header = ["period", "process", "peak", "at", "time at peak", "licenses", "time over licenses"]
    fields = ["period", "process", "peak", "at", "seconds_at_peak", "licenses", "seconds_over_licenses"]
    short, iso = _time_formats(zone)
    return _emit(
        fmt, header,
        lambda: [[r.period, r.process, str(r.peak), short(r.at), duration(r.seconds_at_peak),
                  "-" if r.licenses is None else str(r.licenses),
                  "-" if r.seconds_over_licenses is None else duration(r.seconds_over_licenses)]
                 for r in rows],
        fields,
        lambda: [dict(zip(fields, (r.period, r.process, r.peak, iso(r.at), round(r.seconds_at_peak, 3),
                                   r.licenses, None if r.seconds_over_licenses is None
                                   else round(r.seconds_over_licenses, 3))))
                 for r in rows])


def format_unused(labels: Sequence[UnusedLabel], nodes: Sequence[NodeStatus], fmt: str) -> str:
    """One list of both: ``kind`` is ``program`` (a watched label) or ``node``."""
    header = ["kind", "name", "last used or seen"]
    fields = ["kind", "name", "last"]
    items = ([("program", u.process, u.last_used) for u in labels]
             + [("node", n.node, n.last_seen) for n in nodes])
    return _emit(
        fmt, header,
        lambda: [[kind, name, "never" if last is None else _short(last)] for kind, name, last in items],
        fields,
        lambda: [dict(zip(fields, (kind, name, None if last is None else _local(last).isoformat())))
                 for kind, name, last in items])


def format_now(running: Sequence[Running], seats: Sequence[LabSeats], fmt: str) -> str:
    """Per lab the seats (online, in use, free), then what runs on each computer."""
    if fmt == "json":
        return json.dumps({
            "labs": [{"lab": s.lab, "online": s.online, "in_use": s.in_use, "free": s.free} for s in seats],
            "running": [{"lab": r.lab, "computer": r.computer, "user": r.user, "process": r.process,
                         "since": _local(r.since).isoformat()} for r in running]},
            ensure_ascii=False, indent=2)
    labs = _emit(fmt, ["lab", "online", "in use", "free"],
                 lambda: [[s.lab, str(s.online), str(s.in_use), str(s.free)] for s in seats],
                 ["lab", "online", "in_use", "free"],
                 lambda: [{"lab": s.lab, "online": s.online, "in_use": s.in_use, "free": s.free} for s in seats])
    programs = _emit(fmt, ["lab", "computer", "user", "process", "since"],
                     lambda: [[r.lab, r.computer, r.user, r.process, _short(r.since)] for r in running],
                     ["lab", "computer", "user", "process", "since"],
                     lambda: [{"lab": r.lab, "computer": r.computer, "user": r.user, "process": r.process,
                               "since": _local(r.since).isoformat()} for r in running])
    return f"{labs}\n\n{programs}"
