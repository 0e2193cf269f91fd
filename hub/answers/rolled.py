"""Which local days the roll-up tables hold, current: the days a question may read from them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from hub.storage import Storage

from .base import Stretch
from .periods import Slot, days, local_day

ZONE, THROUGH = "zone", "through"


@dataclass(frozen=True)
class Rolled:
    """Days before ``through`` are rolled up, except the ``dirty`` ones (written to since)."""
    through: date
    dirty: frozenset[date]

    def has(self, day: date) -> bool:
        return day < self.through and day not in self.dirty


def as_date(value: Any) -> date:
    """A DATE as either backend returns it (a date, or ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def hours_to_days(spans: Sequence[tuple[int, int]], zone: ZoneInfo) -> set[date]:
    """The local days that spans of UTC hours touch."""
    touched: set[date] = set()
    for first, last in spans:
        touched.update(day for day, _, _ in days(first * 3600, last * 3600 + 3600, zone))
    return touched


def state(storage: Storage) -> dict[str, str]:
    return {name: value for name, value in storage.read("SELECT name, value FROM rollup_state", [])}


def rolled(storage: Storage, zone: ZoneInfo) -> Rolled | None:
    """What the roll-up holds for days of ``zone``; None when it was made for another zone or not
    at all (then every question reads raw sessions)."""
    current = state(storage)
    if current.get(ZONE) != zone.key or THROUGH not in current:
        return None
    spans = storage.read("SELECT fromHour, toHour FROM rollup_dirty", [])
    return Rolled(date.fromisoformat(current[THROUGH]), frozenset(hours_to_days(spans, zone)))


def split(cut: Sequence[Slot], roll: Rolled | None, zone: ZoneInfo) -> tuple[list[Stretch], list[Stretch]]:
    """The slots of a question cut into stretches of raw sessions and stretches of whole rolled-up
    days; without a usable roll-up, every slot is one raw stretch."""
    raw: list[Stretch] = []
    rolled_up: list[Stretch] = []
    for index, slot in enumerate(cut):
        if roll is None:
            raw.append(Stretch(index, slot.lo, slot.hi))
            continue
        pieces: list[tuple[bool, float, float]] = []
        for day, lo, hi in days(slot.lo, slot.hi, zone):
            from_roll = roll.has(day) and lo >= slot.lo and hi <= slot.hi
            lo, hi = max(lo, slot.lo), min(hi, slot.hi)
            if pieces and pieces[-1][0] == from_roll:
                pieces[-1] = (from_roll, pieces[-1][1], hi)
            else:
                pieces.append((from_roll, lo, hi))
        for from_roll, lo, hi in pieces:
            (rolled_up if from_roll else raw).append(Stretch(index, lo, hi, joins=lo > slot.lo))
    return raw, rolled_up


def day_text(ts: float, zone: ZoneInfo) -> str:
    """The local day that starts at ts, as the roll-up tables key it."""
    return local_day(ts, zone).isoformat()
