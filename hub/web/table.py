"""What a page shows as a table, once, for both its HTML and its CSV download.

Cells keep their raw values (seconds as numbers, times as epoch seconds, user names as stored);
how a viewer sees them (local times, h:mm, a pseudonym instead of a name) is decided here, so no
page can forget to hide a name in one of the two outputs.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Callable, Sequence

Hide = Callable[[str], str]

TEXT, USER, NODE, SECONDS, TIME, NUMBER = "text", "user", "node", "seconds", "time", "number"
HTML_ROWS = 100


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = TEXT
    key: str = ""   # the CSV header; default: the title in lower case, spaces as underscores

    @property
    def csv_name(self) -> str:
        return self.key or self.title.lower().replace(" ", "_")


@dataclass
class Table:
    columns: Sequence[Column]
    rows: list[Sequence[Any]] = field(default_factory=list)
    name: str = "table"
    title: str = ""
    empty: str = "nothing to show for this choice"

    def html_rows(self, hide: Hide | None, zone: tzinfo) -> list[list[str]]:
        """The first HTML_ROWS rows: a page of a thousand rows is slow to make and to read; the CSV
        download has them all."""
        return [[_html_cell(c.kind, value, hide, zone) for c, value in zip(self.columns, row)]
                for row in self.rows[:HTML_ROWS]]

    def csv_text(self, hide: Hide | None, zone: tzinfo) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.csv_name for c in self.columns])
        for row in self.rows:
            writer.writerow([_csv_cell(c.kind, value, hide, zone) for c, value in zip(self.columns, row)])
        return out.getvalue()


def hide_node(node: str, hide: Hide) -> str:
    """A node id is ``HOST/USER`` by default: keep the computer, hide the rest."""
    computer, sep, rest = node.partition("/")
    return f"{computer}/{hide(rest)}" if sep else hide(node)


def duration(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}:{minutes % 60:02d}"


def local_time(ts: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M")


def _hidden(kind: str, value: Any, hide: Hide | None) -> Any:
    if hide is None or value in (None, "", "-"):
        return value
    if kind == USER:
        return hide(str(value))
    if kind == NODE:
        return hide_node(str(value), hide)
    return value


def _html_cell(kind: str, value: Any, hide: Hide | None, zone: tzinfo) -> str:
    value = _hidden(kind, value, hide)
    if value is None:
        return ""
    if kind == SECONDS:
        return duration(float(value))
    if kind == TIME:
        return value if isinstance(value, str) else local_time(float(value), zone)   # "never"
    if kind == NUMBER and isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def _csv_cell(kind: str, value: Any, hide: Hide | None, zone: tzinfo) -> Any:
    value = _hidden(kind, value, hide)
    if value is None:
        return ""
    if kind == SECONDS:
        return round(float(value), 1)
    if kind == TIME:
        return value if isinstance(value, str) else \
            datetime.fromtimestamp(float(value), zone).isoformat(timespec="seconds")
    return value
