"""Rendering usage and node status for people (table) and programs (csv, json).

Times are shown in the hub's local time zone in tables; csv and json carry ISO 8601 with offset.
"""
from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime
from typing import Callable, Sequence

from hub.storage import NodeStatus, UsageRow

FORMATS = ("table", "csv", "json")
GROUP_COLUMNS = ("computer", "user", "process")


def _local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts).astimezone()


def _short(ts: float) -> str:
    # time.localtime, not a datetime: a report can show tens of thousands of these.
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def duration(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


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


def format_usage(rows: Sequence[UsageRow], by: Sequence[str], fmt: str) -> str:
    # Active and foreground time only where some session has them (nodes of 0.1.0 and desktops
    # that cannot be measured leave them NULL): "-" in a table, empty or null elsewhere.
    measured = [(name, pick) for name, pick in (("active", lambda r: r.active),
                                                ("foreground", lambda r: r.foreground))
                if any(pick(r) is not None for r in rows)]
    header = [*by, "sessions", "time", *(name for name, _ in measured), "first start", "last end"]
    fields = [*by, "sessions", "seconds", *(f"{name}_seconds" for name, _ in measured), "first_start",
              "last_end"]
    return _emit(
        fmt, header,
        lambda: [[*r.key, str(r.sessions), duration(r.seconds),
                  *(_maybe(pick(r), duration, "-") for _, pick in measured),
                  _short(r.first), _short(r.last)]
                 for r in rows],
        fields,
        lambda: [dict(zip(fields, (*r.key, r.sessions, round(r.seconds, 3),
                                   *(_maybe(pick(r), lambda s: round(s, 3), None) for _, pick in measured),
                                   _local(r.first).isoformat(), _local(r.last).isoformat())))
                 for r in rows])


def _maybe(seconds: float | None, show: Callable[[float], object], missing: object) -> object:
    return missing if seconds is None else show(seconds)


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
