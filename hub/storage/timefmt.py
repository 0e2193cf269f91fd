"""Conversions between epoch seconds and the UTC, millisecond-precision times the database stores."""
from __future__ import annotations

from datetime import datetime, timedelta

EPOCH = datetime(1970, 1, 1)


def to_datetime(ts: float) -> datetime:
    """Naive UTC datetime, rounded to the millisecond (the precision of DATETIME(3))."""
    return EPOCH + timedelta(milliseconds=round(ts * 1000))


def from_datetime(value: datetime) -> float:
    return (value - EPOCH) / timedelta(seconds=1)


_SECOND_TEXT: dict[int, str] = {}
_SECOND_TEXT_LIMIT = 4096


def to_text(ts: float) -> str:
    """`YYYY-MM-DD HH:MM:SS.fff` in UTC: fixed width, so text order is time order."""
    # Every flush formats thousands of times that fall in the same few seconds ("now"), so the
    # date-and-time part is memoised per second and only the milliseconds are formatted each time.
    seconds, millis = divmod(round(ts * 1000), 1000)
    prefix = _SECOND_TEXT.get(seconds)
    if prefix is None:
        if len(_SECOND_TEXT) >= _SECOND_TEXT_LIMIT:
            _SECOND_TEXT.clear()
        prefix = _SECOND_TEXT[seconds] = (EPOCH + timedelta(seconds=seconds)).isoformat(sep=" ")
    return f"{prefix}.{millis:03d}"


def from_text(value: str) -> float:
    return from_datetime(datetime.fromisoformat(value))
