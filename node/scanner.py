"""One pass over the local processes: which watch-list labels are active, and since when."""
from __future__ import annotations

import logging
import os
import time
from typing import Callable, Iterable, NamedTuple, Protocol

import psutil

from common.watchlist import Matcher
from node.platform import OwnerCheck, owner_check, owner_name

log = logging.getLogger("procmesh.node")

SightingKey = tuple[str, str | None]  # (label, owner); owner is None unless the scope is "all"
# A process, told apart from a later one that reuses its pid by its create time.
ProcessId = tuple[int, float]


class Sighting(NamedTuple):
    """The processes of one (label, owner) that a scan found."""

    created: float                     # the earliest create_time among them
    processes: frozenset[ProcessId]


SCOPES = ("user", "all")
UNKNOWN_OWNER = "?"
FAILURE_LOG_SECONDS = 60.0


class ProcessTable(Protocol):
    """Where the scanner gets processes from: psutil (``LiveProcesses``), or a table a test makes."""

    # True where a Process object keeps a process's name once read: psutil does on Windows, where a
    # name cannot change during a process's life (POSIX exec can change it, so psutil reads it anew).
    names_cached: bool

    def pids(self) -> Iterable[int]: ...

    def process(self, pid: int) -> psutil.Process: ...


class LiveProcesses:
    names_cached = psutil.WINDOWS

    def pids(self) -> Iterable[int]:
        return psutil.pids()

    def process(self, pid: int) -> psutil.Process:
        return psutil.Process(pid)


class Scanner:
    """Finds the processes in scope that match the watch list.

    This runs every few seconds on every desktop, so it keeps one psutil Process per PID between
    scans (as psutil.process_iter does), reads each process's name, and queries anything else only
    for processes whose name could match.

    PIDs are reused, quickly on Windows. A kept Process answers with what it cached: its create
    time, and on Windows its name. So a kept Process is trusted only after ``is_running()`` checked
    that the process at its PID still has the create time it was made with: for every process on
    every scan where names are cached, and before counting a match elsewhere. A failed check makes
    a new Process for the PID, within the same scan.
    """

    def __init__(self, matcher: Matcher, scope: str = "user", processes: ProcessTable | None = None,
                 is_mine: OwnerCheck | None = None,
                 owner_of: Callable[[psutil.Process], str | None] = owner_name,
                 clock: Callable[[], float] = time.monotonic,
                 created: Callable[[psutil.Process], float] = lambda proc: proc.create_time()) -> None:
        """``created`` tells a process's start on the node's wall clock (node.clock.Clock.created);
        ``clock`` only paces the failure log."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        self._matcher = matcher
        self._attribute_owners = scope == "all"
        if self._attribute_owners and matcher.reads_every_cmdline:
            log.warning("the watch list has cmd: patterns without a program name, so this node "
                        "(scope all, running as SYSTEM or root) reads the command line, that is the "
                        "memory, of every process, which endpoint protection may report: write them "
                        "as cmd(PROGRAM):GLOB, e.g. cmd(python*):*jupyter-lab*")
        self._is_mine = None if self._attribute_owners else (is_mine or owner_check())
        self._owner_of = owner_of
        self._table = processes or LiveProcesses()
        self._known: dict[int, psutil.Process] = {}
        self._failures = FailureLog(clock)
        self._created = created
        # The node itself runs as python(w): a watch list with "python" must not count the node.
        self._own_pid = os.getpid()

    def scan(self) -> dict[SightingKey, Sighting]:
        """Each active (label, owner) with its matching processes."""
        found: dict[SightingKey, list[ProcessId]] = {}
        listed: set[int] = set()
        for pid in self._table.pids():
            listed.add(pid)
            if pid == self._own_pid:
                continue
            try:
                sighting = self._sighting(pid)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                # Processes end or turn into zombies mid-scan all the time; that is not an error.
                continue
            except (psutil.Error, OSError) as exc:
                # psutil on Windows passes on errors other than "denied" as OSError: skip that one.
                self._failures.add(pid, exc)
                continue
            if sighting is None:
                continue
            labels, owner, created = sighting
            for label in labels:
                found.setdefault((label, owner), []).append((pid, created))
        for gone in self._known.keys() - listed:
            del self._known[gone]
        self._failures.log_when_due()
        return {key: Sighting(min(created for _, created in processes), frozenset(processes))
                for key, processes in found.items()}

    def _sighting(self, pid: int, fresh: bool = False) -> tuple[frozenset[str], str | None, float] | None:
        proc = self._current(pid, verify=self._table.names_cached)
        name = proc.name()
        labels = self._matcher.match_name(name) if name else frozenset()
        wants_cmdline = self._matcher.needs_cmdline(name or "")
        if not labels and not wants_cmdline:
            return None
        if not (self._table.names_cached or fresh) and not proc.is_running():
            # The create time kept in proc may be a predecessor's at this PID.
            self._known.pop(pid, None)
            return self._sighting(pid, fresh=True)
        if self._is_mine is not None and not self._is_mine(proc):
            return None
        if wants_cmdline:
            labels |= self._cmdline_labels(proc, name)
        if not labels:
            return None
        owner = self._owner(proc)
        if self._attribute_owners and owner is None:
            return None   # a service account: nobody's use
        return labels, owner, self._created(proc)

    def _current(self, pid: int, verify: bool) -> psutil.Process:
        """The Process kept for pid, if still the same process (checked when ``verify``), else a new one."""
        proc = self._known.get(pid)
        if proc is None or (verify and not proc.is_running()):
            proc = self._known[pid] = self._table.process(pid)
        return proc

    def _cmdline_labels(self, proc: psutil.Process, name: str) -> frozenset[str]:
        try:
            return self._matcher.match_cmdline(proc.cmdline(), name)
        except psutil.AccessDenied:
            # Other users' command lines are often unreadable; a name match still counts.
            return frozenset()

    def _owner(self, proc: psutil.Process) -> str | None:
        if not self._attribute_owners:
            return None
        try:
            return self._owner_of(proc)
        except (psutil.AccessDenied, PermissionError):
            # Usage of a process whose owner cannot be read is still usage.
            return UNKNOWN_OWNER


class FailureLog:
    """Counts processes skipped because a query failed unexpectedly; says so at most once a minute."""

    def __init__(self, clock: Callable[[], float], every: float = FAILURE_LOG_SECONDS) -> None:
        self._clock = clock
        self._every = every
        self._count = 0
        self._example = ""
        self._logged_at: float | None = None

    def add(self, pid: int, exc: BaseException) -> None:
        self._count += 1
        self._example = self._example or f"pid {pid}: {type(exc).__name__}: {exc}"

    def log_when_due(self) -> None:
        now = self._clock()
        if not self._count or (self._logged_at is not None and now - self._logged_at < self._every):
            return
        log.warning("skipped %d process queries that failed (first: %s); the scan goes on without "
                    "them (logged at most once a minute)", self._count, self._example)
        self._logged_at, self._count, self._example = now, 0, ""
