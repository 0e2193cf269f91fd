"""Which local days the roll-up tables hold, current: the days a question may read from them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Sequence
from zoneinfo import ZoneInfo

from hub.storage import Storage

from .base import Stretch
from .periods import Slot, days, units

ZONE, THROUGH, LONGEST = "zone", "through", "longest"
HOUR = 3600.0


@dataclass(frozen=True)
class Rolled:
    """Days before ``through`` are rolled up, except the ``dirty`` ones (written to since).
    ``longest``: no stored session is longer than this (seconds), None when not known; it lets a
    question find the sessions of a short stretch through the startTime index."""
    through: date
    dirty: frozenset[date]
    longest: float | None = None

    def has(self, day: date) -> bool:
        return day < self.through and day not in self.dirty


@dataclass(frozen=True, slots=True)
class Unit:
    """A whole local day (or hour) of a slot that a roll-up table holds: ``start`` keys its rows.
    ``carry``: the time just before it is in the same slot, so the sessions it carries over from
    there were counted there already."""
    slot: int
    start: float
    carry: bool


def hours_to_days(spans: Sequence[tuple[int, int]], zone: ZoneInfo) -> set[date]:
    """The local days that spans of UTC hours touch."""
    touched: set[date] = set()
    for first, last in spans:
        touched.update(day for day, _, _ in days(first * HOUR, last * HOUR + HOUR, zone))
    return touched


def longest_bound(kept: str | float | None, spans: Sequence[tuple[int, int]]) -> float | None:
    """A bound on the length of every stored session: the longest the roll-up has folded in, or a
    session written since (each write marks the span of UTC hours it touches). None: not known."""
    if kept is None:
        return None
    return max([float(kept), *((last + 1 - first) * HOUR for first, last in spans)])


def state(storage: Storage) -> dict[str, str]:
    return {name: value for name, value in storage.read("SELECT name, value FROM rollup_state", [])}


def rolled(storage: Storage, zone: ZoneInfo) -> Rolled | None:
    """What the roll-up holds for days of ``zone``; None when it was made for another zone or not
    at all (then every question reads raw sessions)."""
    current = state(storage)
    if current.get(ZONE) != zone.key or THROUGH not in current:
        return None
    spans = storage.read("SELECT fromHour, toHour FROM rollup_dirty", [])
    return Rolled(date.fromisoformat(current[THROUGH]), frozenset(hours_to_days(spans, zone)),
                  longest_bound(current.get(LONGEST), spans))


def split(cut: Sequence[Slot], roll: Rolled | None, zone: ZoneInfo,
          hourly: bool = False) -> tuple[list[Stretch], list[Unit]]:
    """The slots of a question cut into stretches of raw sessions and whole units (local days, or
    local hours when ``hourly``) of rolled-up days; without a usable roll-up, every slot is one raw
    stretch."""
    raw: list[Stretch] = []
    rolled_up: list[Unit] = []
    for index, slot in enumerate(cut):
        if roll is None:
            raw.append(Stretch(index, slot.lo, slot.hi))
            continue
        pieces: list[tuple[bool, float, float]] = []
        for day, lo, hi in units(slot.lo, slot.hi, zone, hourly):
            from_roll = roll.has(day) and lo >= slot.lo and hi <= slot.hi
            if from_roll:
                rolled_up.append(Unit(index, lo, carry=lo > slot.lo))
            lo, hi = max(lo, slot.lo), min(hi, slot.hi)
            if pieces and pieces[-1][0] == from_roll:
                pieces[-1] = (from_roll, pieces[-1][1], hi)
            else:
                pieces.append((from_roll, lo, hi))
        raw += [Stretch(index, lo, hi, joins=lo > slot.lo) for from_roll, lo, hi in pieces if not from_roll]
    return raw, rolled_up
