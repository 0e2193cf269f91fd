"""The scanner's rules against an injected process table, where a test decides what each PID holds
from one scan to the next: PID reuse (with names cached as psutil caches them on Windows, and
without), processes whose queries fail, and service accounts in scope "all"."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psutil
import pytest

from common.watchlist import Matcher, parse_watchlist
from node.accounts import Account, owner_from_account
from node.scanner import Scanner, Sighting, SightingKey


@dataclass
class Entry:
    name: str
    created: float
    owner: Account = Account("S-1-5-21-1-1001", "LAB", "Alice")
    cmdline: tuple[str, ...] = ()
    error: OSError | None = None


@dataclass
class Table:
    """A process table as psutil presents one: Process objects keep their create time, and their
    name too where ``names_cached``; ``is_running()`` compares the create time with the PID's now."""

    names_cached: bool
    entries: dict[int, Entry] = field(default_factory=dict)
    cmdlines_read: list[int] = field(default_factory=list)

    def pids(self) -> list[int]:
        return sorted(self.entries)

    def process(self, pid: int) -> "FakeProcess":
        return FakeProcess(self, pid)


class FakeProcess:
    def __init__(self, table: Table, pid: int) -> None:
        self.pid, self._table = pid, table
        self._created = self._now().created
        self._name: str | None = None

    def _now(self) -> Entry:
        entry = self._table.entries.get(self.pid)
        if entry is None:
            raise psutil.NoSuchProcess(self.pid)
        if entry.error is not None:
            raise entry.error
        return entry

    def name(self) -> str:
        if self._name is None or not self._table.names_cached:
            self._name = self._now().name
        return self._name

    def create_time(self) -> float:
        return self._created

    def is_running(self) -> bool:
        entry = self._table.entries.get(self.pid)
        return entry is not None and entry.created == self._created

    def cmdline(self) -> list[str]:
        self._table.cmdlines_read.append(self.pid)
        return list(self._now().cmdline)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def starts(found: dict[SightingKey, Sighting]) -> dict[SightingKey, float]:
    """What a scan found, as each key's earliest create time."""
    return {key: sighting.created for key, sighting in found.items()}


def scanner(table: Table, watchlist: str = "firefox", scope: str = "user", clock: Clock | None = None,
            mine: frozenset[str] = frozenset({"S-1-5-21-1-1001"})) -> Scanner:
    return Scanner(Matcher(parse_watchlist(watchlist)), scope, processes=table,
                   is_mine=lambda proc: table.entries[proc.pid].owner.sid in mine,
                   owner_of=lambda proc: owner_from_account(table.entries[proc.pid].owner),
                   clock=clock or Clock())


def test_a_watched_program_in_a_reused_pid_is_found_where_names_are_cached() -> None:
    table = Table(names_cached=True, entries={7: Entry("notepad.exe", 100.0)})
    scan = scanner(table)
    assert starts(scan.scan()) == {}
    table.entries[7] = Entry("firefox.exe", 200.0)   # notepad ended, firefox got its PID
    assert starts(scan.scan()) == {("firefox", None): 200.0}


def test_a_program_gone_from_a_reused_pid_is_not_counted_where_names_are_cached() -> None:
    table = Table(names_cached=True, entries={7: Entry("firefox.exe", 100.0)})
    scan = scanner(table)
    assert starts(scan.scan()) == {("firefox", None): 100.0}
    table.entries[7] = Entry("notepad.exe", 200.0)
    assert starts(scan.scan()) == {}


def test_a_reused_pid_never_lends_its_predecessors_create_time() -> None:
    table = Table(names_cached=False, entries={7: Entry("firefox", 100.0)})
    scan = scanner(table)
    assert starts(scan.scan()) == {("firefox", None): 100.0}
    table.entries[7] = Entry("firefox", 200.0)   # a new firefox in the same PID
    assert starts(scan.scan()) == {("firefox", None): 200.0}


def test_a_process_whose_query_fails_is_skipped_and_logged_once_a_minute(caplog) -> None:
    clock = Clock()
    table = Table(names_cached=True, entries={7: Entry("firefox.exe", 100.0)})
    scan = scanner(table, clock=clock)
    assert starts(scan.scan()) == {("firefox", None): 100.0}
    table.entries[3] = Entry("odd.exe", 50.0, error=OSError(22, "The parameter is incorrect"))
    with caplog.at_level(logging.WARNING, logger="procmesh.node"):
        assert starts(scan.scan()) == {("firefox", None): 100.0}
        clock.now += 30
        assert starts(scan.scan()) == {("firefox", None): 100.0}
        assert len(caplog.records) == 1
        assert "skipped 1 process queries" in caplog.text and "The parameter is incorrect" in caplog.text
        clock.now += 31
        assert starts(scan.scan()) == {("firefox", None): 100.0}
    assert len(caplog.records) == 2 and "skipped 2 process queries" in caplog.records[1].getMessage()


def test_service_accounts_are_nobodys_use_in_scope_all() -> None:
    table = Table(names_cached=True, entries={
        1: Entry("firefox.exe", 10.0, Account("S-1-5-18", "NT AUTHORITY", "SYSTEM")),
        2: Entry("firefox.exe", 20.0, Account("S-1-5-20", "NT-AUTORITÄT", "NETZWERKDIENST")),
        3: Entry("firefox.exe", 30.0, Account("S-1-5-21-9-9-9-1105", "LAB", "PC07$")),
        4: Entry("firefox.exe", 40.0, Account("S-1-5-90-0-1", "Window Manager", "DWM-1")),
        5: Entry("firefox.exe", 50.0, Account("S-1-5-21-9-9-9-1200", "LAB", "Alice")),
        6: Entry("firefox.exe", 60.0, Account("S-1-5-21-9-9-9-1200", "LAB", "ALICE")),
    })
    assert starts(scanner(table, scope="all").scan()) == {("firefox", "alice"): 50.0}


def test_other_users_command_lines_are_never_read_in_scope_user() -> None:
    table = Table(names_cached=True, entries={
        1: Entry("python.exe", 10.0, Account("S-1-5-21-1-1002", "LAB", "Bob"), ("python", "-m", "lab")),
        2: Entry("python.exe", 20.0, cmdline=("python", "-m", "lab"))})
    assert starts(scanner(table, "lab = cmd:*-m lab").scan()) == {("lab", None): 20.0}
    assert table.cmdlines_read == [2]


@pytest.mark.parametrize("scope", ["user", "all"])
def test_a_process_that_ends_mid_scan_is_no_error(scope: str, caplog) -> None:
    table = Table(names_cached=False, entries={7: Entry("firefox", 100.0)})
    scan = scanner(table, scope=scope)
    scan.scan()
    del table.entries[7]
    with caplog.at_level(logging.WARNING, logger="procmesh.node"):
        assert starts(scan.scan()) == {}
    assert not caplog.records


def test_scope_all_reads_command_lines_only_of_the_named_program(caplog) -> None:
    table = Table(names_cached=True, entries={
        1: Entry("chrome.exe", 10.0, cmdline=("chrome", "--jupyter-lab")),
        2: Entry("python.exe", 20.0, cmdline=("python", "-m", "jupyter-lab"))})
    with caplog.at_level(logging.WARNING, logger="procmesh.node"):
        found = starts(scanner(table, "Jupyter = cmd(python*):*jupyter-lab*", scope="all").scan())
    assert found == {("Jupyter", "alice"): 20.0}
    assert table.cmdlines_read == [2] and not caplog.records


def test_scope_all_warns_against_cmd_patterns_without_a_program_name(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="procmesh.node"):
        scanner(Table(names_cached=True), "Jupyter = cmd:*jupyter-lab*", scope="all")
        scanner(Table(names_cached=True), "Jupyter = cmd:*jupyter-lab*", scope="user")
    [line] = [r.getMessage() for r in caplog.records]
    assert "endpoint protection" in line and "cmd(PROGRAM):GLOB" in line
