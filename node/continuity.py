"""What one run of a node leaves for the next, so that a restart does not count a program twice.

After every scan the node keeps, in its outbox, the clocks of that scan and each open session with
the processes that kept it open. The next run's first scan continues such a session (same id) when
one of those processes still runs and the time in between was watched: no longer than ``grace``
and no sleep. See ``SessionTracker.observe`` for the rules.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple

from node.clock import Reading
from node.scanner import ProcessId, SightingKey

# A browser runs dozens of processes; the oldest ones (its main process first) outlive the others,
# so they are the ones worth keeping.
MAX_CARRIED_PROCESSES = 16
# psutil derives a Linux process's create time from the boot time, which moves by a second when the
# wall clock is stepped; a pid reused within a second of its previous owner's start does not happen.
SAME_PROCESS_SECONDS = 1.0


class CarriedSession(NamedTuple):
    sid: bytes
    label: str
    owner: str | None
    start: float
    end: float
    processes: frozenset[ProcessId]

    @property
    def key(self) -> SightingKey:
        return (self.label, self.owner)


class Carry(NamedTuple):
    """The last scan of a run and the sessions open at it."""

    last_scan: Reading
    sessions: tuple[CarriedSession, ...]


def oldest_processes(processes: Iterable[ProcessId]) -> frozenset[ProcessId]:
    return frozenset(sorted(processes, key=lambda p: (p[1], p[0]))[:MAX_CARRIED_PROCESSES])


def is_among(process: ProcessId, known: Iterable[ProcessId]) -> bool:
    pid, created = process
    return any(pid == other_pid and abs(created - other_created) <= SAME_PROCESS_SECONDS
               for other_pid, other_created in known)
