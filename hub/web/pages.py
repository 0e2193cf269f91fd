"""The dashboard's pages: each asks the same questions as the command line and returns what to show.

A page builds a ``PageView`` (tables, an optional chart, notes) from one storage and the request's
filters; the app renders it as HTML, and the same tables as CSV.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Callable, Mapping

from markupsafe import Markup

from hub.storage import Storage
from hub.web.table import NODE, SECONDS, TIME, USER, Column, Table

if TYPE_CHECKING:
    from hub.web.app import WebContext

DEFAULT_DAYS = 7
# A node that missed this many report intervals counts as offline, as in `procmesh-hub status`.
OFFLINE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class Query:
    """The filters of a request: a local date range and optional lab, computer, program, user."""

    first_day: date
    last_day: date
    lab: str = ""
    computer: str = ""
    program: str = ""
    user: str = ""
    per: str = "day"
    days: int = 90

    @classmethod
    def from_params(cls, params: Mapping[str, str], now: float) -> Query:
        today = datetime.fromtimestamp(now).date()
        last = _date(params.get("to"), today)
        first = _date(params.get("from"), last - timedelta(days=DEFAULT_DAYS - 1))
        if first > last:
            first, last = last, first
        per = params.get("per", "day")
        return cls(first, last, *(params.get(k, "").strip()[:255] for k in ("lab", "computer", "program", "user")),
                   per=per if per in ("day", "week", "month") else "day",
                   days=_whole(params.get("days"), 90))

    @property
    def since(self) -> float:
        return datetime.combine(self.first_day, datetime.min.time()).timestamp()

    @property
    def until(self) -> float:
        return datetime.combine(self.last_day + timedelta(days=1), datetime.min.time()).timestamp()

    def days_between(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range((self.last_day - self.first_day).days + 1)]


def _date(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def _whole(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) < 100_000 else default


@dataclass
class PageView:
    tables: list[Table]
    chart: Markup | None = None
    legend: list[tuple[str, str]] = field(default_factory=list)   # (name, colour)
    notes: list[str] = field(default_factory=list)
    refresh: float | None = None   # seconds: the page reloads itself


@dataclass(frozen=True)
class Page:
    name: str
    title: str
    path: str
    build: Callable[[Storage, Query, "WebContext"], PageView]
    filters: tuple[str, ...] = ()   # which filter fields the page offers
    blurb: str = ""

    @property
    def csv_path(self) -> str:
        return f"/{self.name}.csv"


def nodes_page(storage: Storage, _query: Query, ctx: WebContext) -> PageView:
    nodes = storage.nodes()
    fresh_after = ctx.clock() - OFFLINE_AFTER_INTERVALS * ctx.interval
    current = ctx.inputs.get("current_digest", lambda: None)()
    table = Table([Column("Computer"), Column("User", USER), Column("Node", NODE), Column("State"),
                   Column("Last seen", TIME, "last_seen"), Column("Agent"), Column("Platform"),
                   Column("Address"), Column("Watch list", key="watch_list_digest"),
                   Column("Watch list state", key="watch_list_state")], name="nodes",
                  empty="no node has reported yet: start procmesh-node on a desktop")
    for n in nodes:
        online = n.online and n.last_seen >= fresh_after
        state = "" if current is None or not n.cfg else ("current" if n.cfg == current else "older")
        table.rows.append([n.computer, n.user, n.node, "online" if online else "offline", n.last_seen,
                           n.agent, n.platform, n.client_ip, n.cfg, state])
    online_count = sum(1 for row in table.rows if row[3] == "online")
    notes = [f"{online_count} of {len(table.rows)} nodes online; a node is offline after it said goodbye "
             f"or missed {OFFLINE_AFTER_INTERVALS} report intervals ({OFFLINE_AFTER_INTERVALS * ctx.interval:g} s)."]
    return PageView([table], notes=notes)


PAGES: list[Page] = [
    Page("nodes", "Nodes", "/nodes", nodes_page,
         blurb="Every desktop that reported: online or not, when it was last heard from, its agent "
               "and whether it applies the current watch list."),
]

