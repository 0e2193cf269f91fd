"""One pass over the local processes: which watch-list labels are active, and since when."""
from __future__ import annotations

import os

import psutil

from common.watchlist import Matcher
from node.platform import owner_check, owner_name

SightingKey = tuple[str, str | None]  # (label, owner); owner is None unless the scope is "all"

SCOPES = ("user", "all")
UNKNOWN_OWNER = "?"


class Scanner:
    """Finds the processes in scope that match the watch list.

    This runs every few seconds on every desktop, so it reads only each process's name (which
    psutil.process_iter fetches for its cached Process objects) and queries anything else only
    for processes that matched.
    """

    def __init__(self, matcher: Matcher, scope: str = "user") -> None:
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        self._matcher = matcher
        self._attribute_owners = scope == "all"
        self._is_mine = None if self._attribute_owners else owner_check()
        # The node itself runs as python(w): a watch list with "python" must not count the node.
        self._own_pid = os.getpid()
        # The keys each matching process of the latest scan counts for: which session a focused
        # window belongs to.
        self.keys_by_pid: dict[int, frozenset[SightingKey]] = {}

    def scan(self) -> dict[SightingKey, float]:
        """Map each active (label, owner) to the earliest create_time of its matching processes."""
        earliest: dict[SightingKey, float] = {}
        self.keys_by_pid = {}
        for proc in psutil.process_iter(["name"]):
            try:
                labels = self._labels_of(proc)
                if not labels or proc.pid == self._own_pid or not self._in_scope(proc):
                    continue
                owner = self._owner_of(proc)
                created = proc.create_time()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                # Processes end or turn into zombies mid-scan all the time; that is not an error.
                continue
            keys = frozenset((label, owner) for label in labels)
            self.keys_by_pid[proc.pid] = keys
            for key in keys:
                if key not in earliest or created < earliest[key]:
                    earliest[key] = created
        return earliest

    def _labels_of(self, proc: psutil.Process) -> frozenset[str]:
        name = proc.info["name"]
        labels = self._matcher.match_name(name) if name else frozenset()
        if self._matcher.has_cmd_patterns:
            try:
                labels |= self._matcher.match_cmdline(proc.cmdline())
            except psutil.AccessDenied:
                # Other users' command lines are often unreadable; a name match still counts.
                pass
        return labels

    def _in_scope(self, proc: psutil.Process) -> bool:
        # psutil caches Process objects by PID, and their names on Windows, where PIDs are reused
        # quickly; is_running() compares creation times so a reused PID is not taken for the
        # process that had it before (psutil then refreshes it on the next scan).
        if not proc.is_running():
            return False
        return self._is_mine is None or self._is_mine(proc)

    def _owner_of(self, proc: psutil.Process) -> str | None:
        if not self._attribute_owners:
            return None
        try:
            return owner_name(proc)
        except psutil.AccessDenied:
            # Usage of a process whose owner cannot be read is still usage.
            return UNKNOWN_OWNER
