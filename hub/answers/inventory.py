"""What nobody uses (unused) and what runs right now (now)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence
from zoneinfo import ZoneInfo

from hub.storage import NodeStatus, Storage

from .labs import NO_LABS, Labs
from .periods import local_midnight
from .rolled import rolled
from .status import OFFLINE_AFTER_INTERVALS, node_states

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class UnusedLabel:
    process: str
    last_used: float | None          # latest end of any of its sessions; None: never used


@dataclass(frozen=True, slots=True)
class Running:
    lab: str
    computer: str
    user: str
    process: str
    since: float                     # start of the session


@dataclass(frozen=True, slots=True)
class LabSeats:
    lab: str
    online: int                      # computers with a node online
    in_use: int                      # of those, computers where a watched program runs
    free: int


def last_used(storage: Storage, labels: Sequence[str], zone: ZoneInfo) -> dict[str, float]:
    """The latest end of each label's sessions, from the roll-up (which keeps days whose raw
    sessions retention deleted) and the raw sessions of the days it does not hold."""
    mark, dialect = storage.dialect.placeholder, storage.dialect
    found: dict[str, float] = {}
    for label in labels:
        # One index look-up per label on (process, day): the table has a row per person and day.
        rows = storage.read("SELECT MAX(lastEnd) FROM rollup_usage WHERE process = "
                            f"{mark} AND day = (SELECT MAX(day) FROM rollup_usage WHERE process = {mark})",
                            [label, label])
        if rows and rows[0][0] is not None:
            found[label] = dialect.from_db_time(rows[0][0])
    roll = rolled(storage, zone)
    recent = [] if roll is None else [dialect.to_db_time(local_midnight(roll.through, zone))]
    where = f" WHERE endTime >= {dialect.time_param}" if recent else ""
    hint = f" {dialect.since_hint}" if recent else ""
    for process, end in storage.read(f"SELECT process, MAX(endTime) FROM records{hint}{where} GROUP BY process",
                                     recent):
        if process in labels:
            found[process] = max(found.get(process, 0.0), dialect.from_db_time(end))
    return found


def unused(storage: Storage, labels: Sequence[str], days: float, zone: ZoneInfo,
           now: float) -> tuple[list[UnusedLabel], list[NodeStatus]]:
    """Labels of the watch list with no session in the last ``days`` days (in watch-list order),
    and nodes not heard from for as long (oldest first)."""
    cutoff = now - days * DAY
    used = last_used(storage, labels, zone)
    quiet = [UnusedLabel(label, used.get(label)) for label in labels if used.get(label, 0.0) < cutoff]
    silent = sorted((node for node in storage.nodes() if node.last_seen < cutoff), key=lambda n: n.last_seen)
    return quiet, silent


def running_now(storage: Storage, now: float, fallback_interval: float,
                labs: Labs = NO_LABS) -> tuple[list[Running], list[LabSeats]]:
    """Sessions running now on online nodes, by lab and computer, and per lab the computers
    online, in use and free.

    A session runs now when its node is online and it was seen in the node's last 2 reports: a
    node reports its open sessions every interval, so a session whose end stopped moving is over
    (or in its grace period)."""
    states = node_states(storage, now, fallback_interval)
    online = {s.node.node: s.node for s in states if s.online}
    longest = max((_interval(n, fallback_interval) for n in online.values()), default=fallback_interval)
    dialect = storage.dialect
    rows = storage.read(f"SELECT node, computerName, user, process, startTime, endTime FROM records "
                        f"{dialect.since_hint} WHERE endTime >= {dialect.time_param}",
                        [dialect.to_db_time(now - (OFFLINE_AFTER_INTERVALS + 1) * longest)])
    running = []
    for node, computer, user, process, start, end in rows:
        status = online.get(node)
        if status is not None and dialect.from_db_time(end) >= status.last_seen - 2 * _interval(status, fallback_interval):
            running.append(Running(labs.lab_of(computer), computer, user, process, dialect.from_db_time(start)))
    running.sort(key=lambda r: (r.lab, r.computer, r.user, r.process))
    busy = {r.computer for r in running}
    seats: dict[str, list[int]] = {}
    for computer in sorted({n.computer for n in online.values()}):
        counts = seats.setdefault(labs.lab_of(computer), [0, 0])
        counts[0] += 1
        counts[1] += computer in busy
    return running, [LabSeats(lab, up, used, up - used) for lab, (up, used) in sorted(seats.items())]


def _interval(node: NodeStatus, fallback: float) -> float:
    return node.interval if node.interval is not None else fallback
