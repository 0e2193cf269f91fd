"""Scanner against real processes: copies of `sleep` running under names chosen per test."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess

import psutil
import pytest

from common.watchlist import Matcher, parse_watchlist
from node.platform import current_user
from node.scanner import Scanner
from tests.fakeapps import stop_fake_app, unique_name
from tests.waiting import wait_for


def scanner_for(watchlist: str, scope: str = "user") -> Scanner:
    return Scanner(Matcher(parse_watchlist(watchlist)), scope)


def create_time(proc: subprocess.Popen) -> float:
    return psutil.Process(proc.pid).create_time()


def unique_duration() -> str:
    """A sleep argument that appears on no other command line, for cmd: patterns."""
    return f"3599.{secrets.randbelow(10**9):09d}"


def test_finds_a_running_program_with_its_create_time(fake_app):
    name = unique_name()
    proc = fake_app(name)
    scanner = scanner_for(name)
    found = wait_for(lambda: scanner.scan().get((name, None)), message=f"{name} in a scan")
    assert found.created == pytest.approx(create_time(proc), abs=1e-3)


def test_names_each_matching_process_by_pid_and_create_time(fake_app):
    name = unique_name()
    procs = [fake_app(name), fake_app(name)]
    scanner = scanner_for(name)
    found = wait_for(lambda: scanner.scan().get((name, None)), message=f"{name} in a scan")
    assert found.processes == {(p.pid, psutil.Process(p.pid).create_time()) for p in procs}


def test_create_times_come_from_the_clock_it_is_given(fake_app):
    name = unique_name()
    proc = fake_app(name)
    scanner = Scanner(Matcher(parse_watchlist(name)), "user", created=lambda p: p.create_time() + 600.0)
    found = wait_for(lambda: scanner.scan().get((name, None)), message=f"{name} in a scan")
    assert found.created == pytest.approx(create_time(proc) + 600.0, abs=1e-3)
    assert found.processes == {(proc.pid, found.created)}


def test_label_disappears_when_the_program_ends(fake_app):
    name = unique_name()
    proc = fake_app(name)
    scanner = scanner_for(name)
    wait_for(lambda: (name, None) in scanner.scan(), message=f"{name} in a scan")
    stop_fake_app(proc)
    wait_for(lambda: (name, None) not in scanner.scan(), message=f"{name} gone from scans")


def test_label_of_several_processes_starts_at_the_earliest(fake_app):
    word, excel = unique_name(), unique_name()
    procs = [fake_app(word), fake_app(excel), fake_app(word)]
    scanner = scanner_for(f"Office = {word}, {excel}")
    found = wait_for(lambda: scanner.scan().get(("Office", None)), message="Office in a scan")
    assert found.created == pytest.approx(min(create_time(p) for p in procs), abs=1e-3)
    assert {pid for pid, _ in found.processes} == {p.pid for p in procs}


def test_glob_and_regex_patterns_find_the_program(fake_app):
    name = unique_name()
    proc = fake_app(name)
    watchlist = f"globbed = {name[:-3]}*\nregexed = re:{re.escape(name[:-3])}[0-9a-f]{{3}}\n"
    scanner = scanner_for(watchlist)
    found = wait_for(lambda: scanner.scan(), message="both labels in a scan")
    assert {key: sighting.created for key, sighting in found.items()} == pytest.approx(
        {("globbed", None): create_time(proc), ("regexed", None): create_time(proc)}, abs=1e-3)


def test_cmd_pattern_matches_an_argument(fake_app):
    duration = unique_duration()
    proc = fake_app(unique_name(), duration)
    scanner = scanner_for(f"argued = cmd:*{duration}")
    found = wait_for(lambda: scanner.scan().get(("argued", None)), message="argued in a scan")
    assert found.created == pytest.approx(create_time(proc), abs=1e-3)


def test_scope_all_attributes_each_session_to_the_process_owner(fake_app):
    name = unique_name()
    proc = fake_app(name)
    scanner = scanner_for(name, scope="all")
    found = wait_for(lambda: scanner.scan().get((name, current_user())),
                     message=f"{name} owned by {current_user()} in a scan")
    assert found.created == pytest.approx(create_time(proc), abs=1e-3)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0,
                    reason="starting a process as another user needs root")
def test_user_scope_ignores_other_users_processes():
    import pwd  # POSIX only, like this test

    try:
        other = pwd.getpwnam("nobody").pw_name
    except KeyError:
        pytest.skip("no user 'nobody' to run a process as")
    duration = unique_duration()
    # The system sleep, not a copy: the test's temporary folder is private to the current user.
    proc = subprocess.Popen([shutil.which("sleep") or "sleep", duration], user=other,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        watchlist = f"theirs = cmd:*{duration}"
        wait_for(lambda: ("theirs", other) in scanner_for(watchlist, scope="all").scan(),
                 message=f"a process of {other} in a scope 'all' scan")
        assert scanner_for(watchlist, scope="user").scan() == {}
    finally:
        stop_fake_app(proc)


def test_a_pattern_matching_everything_survives_every_kind_of_process():
    for scope in ("user", "all"):
        found = scanner_for("anything = *, cmd:*", scope).scan()
        assert found, f"scope {scope!r} found no process at all"


def test_unknown_scope_is_rejected():
    with pytest.raises(ValueError, match="scope"):
        scanner_for("x", scope="everyone")
