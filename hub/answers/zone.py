"""The time zone that local periods and times are shown in: the hub's own, or one asked for."""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzlocal

from .base import AnswerError


def resolve_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Berlin``), or this computer's zone for an empty name."""
    if not name:
        return tzlocal.get_localzone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise AnswerError(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin "
                          "or America/New_York") from None
