"""Conversions between epoch seconds and the UTC, millisecond-precision times the database stores."""
from __future__ import annotations

from datetime import datetime, timedelta

EPOCH = datetime(1970, 1, 1)


def to_datetime(ts: float) -> datetime:
    """Naive UTC datetime, rounded to the millisecond (the precision of DATETIME(3))."""
    return EPOCH + timedelta(milliseconds=round(ts * 1000))


def from_datetime(value: datetime) -> float:
    return (value - EPOCH) / timedelta(seconds=1)


def to_text(ts: float) -> str:
    """`YYYY-MM-DD HH:MM:SS.fff` in UTC: fixed width, so text order is time order."""
    return to_datetime(ts).isoformat(sep=" ", timespec="milliseconds")


def from_text(value: str) -> float:
    return from_datetime(datetime.fromisoformat(value))
