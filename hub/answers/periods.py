"""Local calendar periods (day, ISO week, month, hour of day, weekday) as exact UTC intervals.

The database stores UTC; a lab administrator thinks in local days. Boundaries are computed here with
zoneinfo, so a day of a DST change has 23 or 25 hours and an hour that happens twice (the autumn
change) is two intervals with the same key. The SQL then clips sessions against these intervals.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterator, Sequence
from zoneinfo import ZoneInfo

PERIODS = ("day", "week", "month", "hour", "weekday")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Slot:
    """[lo, hi) in epoch seconds, and the value of each period asked for, in the order asked."""
    lo: float
    hi: float
    key: tuple[str, ...]


def period_key(name: str, day: date, hour: int = 0) -> str:
    if name == "day":
        return day.isoformat()
    if name == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if name == "month":
        return f"{day.year}-{day.month:02d}"
    if name == "hour":
        return f"{hour:02d}"
    if name == "weekday":
        return WEEKDAYS[day.weekday()]
    raise ValueError(f"unknown period {name!r}")


def local_midnight(day: date, zone: ZoneInfo) -> float:
    # A midnight that a DST change skips resolves to the first instant of that day.
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def local_day(ts: float, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts, zone).date()


def days(since: float, until: float, zone: ZoneInfo) -> Iterator[tuple[date, float, float]]:
    """(local date, start, end) of every local day that overlaps [since, until), unclipped."""
    day = local_day(since, zone)
    lo = local_midnight(day, zone)
    while lo < until:
        following = day + timedelta(days=1)
        hi = local_midnight(following, zone)
        yield day, lo, hi
        day, lo = following, hi


def units(since: float, until: float, zone: ZoneInfo, hourly: bool) -> Iterator[tuple[date, float, float]]:
    """(local date, start, end) of every local day, or of every local hour when ``hourly``, that
    overlaps [since, until), unclipped: the units the roll-up tables hold."""
    for day, lo, hi in days(since, until, zone):
        if not hourly:
            yield day, lo, hi
            continue
        for _, start, end in _hours(lo, hi, zone):
            if end > since and start < until:
                yield day, start, end


def _hours(lo: float, hi: float, zone: ZoneInfo) -> Iterator[tuple[int, float, float]]:
    """(local hour, start, end) of the local hours of one day, walked in UTC so DST changes and
    zones with half-hour offsets cut the day where its clocks do."""
    start = lo
    while start < hi:
        local = datetime.fromtimestamp(start, zone)
        end = min(hi, start + 3600 - (local.minute * 60 + local.second + local.microsecond / 1e6))
        yield local.hour, start, end
        start = end


def slots(since: float, until: float, periods: Sequence[str], zone: ZoneInfo) -> list[Slot]:
    """The intervals that tile [since, until), each labelled with its period keys; neighbours with
    the same key are merged, so a session is cut only where a key changes."""
    result: list[Slot] = []

    def add(lo: float, hi: float, key: tuple[str, ...]) -> None:
        lo, hi = max(lo, since), min(hi, until)
        if lo >= hi:
            return
        if result and result[-1].key == key and result[-1].hi == lo:
            result[-1] = Slot(result[-1].lo, hi, key)
        else:
            result.append(Slot(lo, hi, key))

    if not periods:
        return [Slot(since, until, ())] if since < until else []
    for day, lo, hi in days(since, until, zone):
        if "hour" in periods:
            for hour, start, end in _hours(lo, hi, zone):
                add(start, end, tuple(period_key(name, day, hour) for name in periods))
        else:
            add(lo, hi, tuple(period_key(name, day) for name in periods))
    return result
