"""What every page is made of: the request's filters (``Query``), what a page shows (``PageView``)
and the page itself (``Page``): a function from one storage and the filters to a view.

The app renders a view as HTML, and the same tables as CSV.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Callable, Mapping

from markupsafe import Markup

from hub.answers.periods import local_midnight
from hub.storage import Storage
from hub.web.table import Table

if TYPE_CHECKING:
    from hub.web.app import WebContext

DEFAULT_DAYS = 7


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
    def from_params(cls, params: Mapping[str, str], now: float, zone: tzinfo) -> Query:
        today = datetime.fromtimestamp(now, zone).date()
        last = _date(params.get("to"), today)
        first = _date(params.get("from"), last - timedelta(days=DEFAULT_DAYS - 1))
        if first > last:
            first, last = last, first
        per = params.get("per", "day")
        filters = (params.get(k, "").strip()[:255] for k in ("lab", "computer", "program", "user"))
        return cls(first, last, *filters,
                   per=per if per in ("day", "week", "month") else "day",
                   days=_whole(params.get("days"), 90))

    def bounds(self, zone: tzinfo) -> tuple[float, float]:
        """The range in epoch seconds: from the first day's local midnight to the one after the last day."""
        return local_midnight(self.first_day, zone), local_midnight(self.last_day + timedelta(days=1), zone)

    def days_between(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range((self.last_day - self.first_day).days + 1)]


def _date(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def _whole(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) < 100_000 else default


@dataclass(frozen=True)
class Seat:
    """One computer on the seat board."""
    computer: str
    state: str                   # "free", "in use" or "offline"
    programs: tuple[str, ...]    # what runs there now


@dataclass(frozen=True)
class LabBoard:
    name: str
    online: int
    in_use: int
    free: int
    seats: tuple[Seat, ...]


@dataclass
class PageView:
    tables: list[Table]
    chart: Markup | None = None
    legend: list[tuple[str, str]] = field(default_factory=list)   # (name, colour)
    notes: list[str] = field(default_factory=list)
    refresh: float | None = None   # seconds: the page reloads itself
    board: list[LabBoard] = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    name: str
    title: str
    path: str
    build: Callable[[Storage, Query, "WebContext"], PageView]
    filters: tuple[str, ...] = ()   # which filter fields the page offers
    blurb: str = ""
    live: bool = False   # what runs now: kept one report interval, not web_cache_seconds (hub.web.app)

    @property
    def csv_path(self) -> str:
        return f"/{self.name}.csv"
