"""Parsing the WHEN of ``report --since/--until``: relative spans, day words, or local dates."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, tzinfo

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_when(text: str, now: float | None = None, zone: tzinfo | None = None) -> float:
    """Epoch seconds for ``7d`` / ``12h`` (that long ago), ``now``, ``today``, ``yesterday``, or an
    ISO date/time (``2026-11-01``, ``2026-11-01 08:00``); times without an offset are in ``zone``
    (default: the local time zone)."""
    now = time.time() if now is None else now
    spec = text.strip()
    word = spec.lower()
    if word == "now":
        return now
    if word in ("today", "yesterday"):
        day = datetime.fromtimestamp(now, zone).date()
        if word == "yesterday":
            day -= timedelta(days=1)
        return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
    span = _SPAN.match(spec)
    if span:
        return now - float(span.group(1)) * _UNIT_SECONDS[span.group(2).lower()]
    try:
        moment = datetime.fromisoformat(spec)
        if moment.tzinfo is None and zone is not None:
            moment = moment.replace(tzinfo=zone)
        return moment.timestamp()
    except ValueError:
        raise ValueError(
            f"cannot read time {text!r}: use e.g. 7d, 12h, 30m, today, yesterday, "
            "2026-11-01 or '2026-11-01 08:00'") from None
