"""Parsing the WHEN of ``report --since/--until``: relative spans, day words, or local dates."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_when(text: str, now: float | None = None) -> float:
    """Epoch seconds for ``7d`` / ``12h`` (that long ago), ``now``, ``today``, ``yesterday``, or an
    ISO date/time (``2026-11-01``, ``2026-11-01 08:00``); times without an offset are local time."""
    now = time.time() if now is None else now
    spec = text.strip()
    word = spec.lower()
    if word == "now":
        return now
    if word in ("today", "yesterday"):
        midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
        if word == "yesterday":
            midnight -= timedelta(days=1)
        return midnight.timestamp()
    span = _SPAN.match(spec)
    if span:
        return now - float(span.group(1)) * _UNIT_SECONDS[span.group(2).lower()]
    try:
        return datetime.fromisoformat(spec).timestamp()
    except ValueError:
        raise ValueError(
            f"cannot read time {text!r}: use e.g. 7d, 12h, 30m, today, yesterday, "
            "2026-11-01 or '2026-11-01 08:00'") from None
