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
    programs) is shown where ``process`` is not a key, since only then can the two differ."""
    program = "process" not in by
    header = [*by, "sessions", "time", *(["program time"] if program else []), "first start", "last end"]
    fields = [*by, "sessions", "seconds", *(["program_seconds"] if program else []), "first_start", "last_end"]
    short, iso = _time_formats(zone)
    return _emit(
        fmt, header,
        lambda: [[*r.key, str(r.sessions), duration(r.seconds),
                  *([duration(r.program_seconds)] if program else []), short(r.first), short(r.last)]
                 for r in rows],
        fields,
        lambda: [dict(zip(fields, (*r.key, r.sessions, round(r.seconds, 3),
                                   *([round(r.program_seconds, 3)] if program else []),
                                   iso(r.first), iso(r.last))))
                 for r in rows])


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
