"""The roll-up tables (days and hours) give the answers of the raw sessions, on both backends.

The fixture crosses midnights, both DST changes of Europe/Berlin, half hours, two users of one
computer, a computer in no lab and a session of several days; windows start and end inside hours.
"""
from __future__ import annotations

import pytest

from hub.answers import Window, parse_labs, usage
from hub.answers.peak import peaks
from hub.answers.rollup import delete_old_sessions, rebuild, refresh
from hub.storage import NodeRow, Storage
from tests.test_answers_usage import BERLIN, HOUR, at, session

NOW = at("2026-12-31 12:00")
LABS = parse_labs("Lab 101 = lab101-*\n")
GROUPINGS = [["hour"], ["weekday", "hour"], ["lab", "weekday", "hour"], ["computer", "day", "hour"],
             ["user", "hour"], ["process", "hour"], ["lab", "day"], ["month", "process"], ["process"], [],
             ["day"], ["week", "computer"], ["weekday"], ["computer", "user", "process"]]
# Hours are rolled up per computer only: by user or program they are read raw.
ROLLED = [by for by in GROUPINGS if "hour" not in by or not {"user", "process"} & set(by)]
WINDOWS = [Window(at("2026-01-01 00:00"), at("2026-12-01 00:00")),
           Window(at("2026-03-28 21:30"), at("2026-10-25 02:30")),    # starts and ends inside an hour
           Window(at("2026-01-05 22:15"), at("2026-01-07 00:45"))]


@pytest.fixture
def year(storage: Storage) -> Storage:
    storage.write([
        # across midnight, and the same hours on another computer of the lab by another user
        session("2026-01-05 22:00", "2026-01-06 01:00", computer="lab101-pc1"),
        session("2026-01-05 22:30", "2026-01-05 23:15", computer="lab101-pc2", user="bob", process="word"),
        # two users of one computer at once, overlapping sessions of one user, a half-hour edge
        session("2026-01-06 09:00", "2026-01-06 10:30", computer="lab101-pc1", user="carol"),
        session("2026-01-06 09:45", "2026-01-06 11:00", computer="lab101-pc1", user="dave", process="word"),
        session("2026-01-06 10:00", "2026-01-06 12:00", computer="lab101-pc1", user="carol", process="word"),
        # a computer in no lab, and a session of no length
        session("2026-01-06 10:00", "2026-01-06 10:30", computer="staff-7", user="erin", process="word"),
        session("2026-01-06 14:00", "2026-01-06 14:00", computer="staff-7", user="erin"),
        # spring forward (29 March, 02:00 -> 03:00) and fall back (25 October, 02:xx twice)
        session("2026-03-28 22:00", "2026-03-29 04:00", computer="lab101-pc1"),
        session("2026-10-25 00:00", "2026-10-25 04:00", computer="lab101-pc1"),
        session("2026-10-25 01:30", "2026-10-25 02:30", computer="lab101-pc2", user="bob", process="word"),
        # three days open
        session("2026-06-01 08:00", "2026-06-04 08:00", computer="staff-7", user="erin", process="matlab"),
    ], [NodeRow(f"{computer}/x", computer, "x", "10.0.0.7", "Linux", "a", "c", NOW, False, 5.0)
        # A lab's computers are summed under its first (LAB101-0) in SQL; two names that differ
        # only in case are two computers.
        for computer in ("LAB101-0", "LAB101-PC1", "lab101-pc1", "lab101-pc2", "staff-7", "staff-8")])
    return storage


def every_answer(storage: Storage, use_rollup: bool) -> list:
    answers: list = [usage(storage, by, window, BERLIN, NOW, LABS, use_rollup=use_rollup)
                     for by in GROUPINGS for window in WINDOWS]
    return answers + [peaks(storage, window, BERLIN, NOW, per, counted, use_rollup=use_rollup)
                      for window in WINDOWS for per in ("day", "month") for counted in ("computers", "users")]


def count(storage: Storage, table: str) -> int:
    return storage.read(f"SELECT COUNT(*) FROM {table}", [])[0][0]


def test_every_grouping_reads_the_same_answer_from_the_roll_up_as_from_raw_sessions(year: Storage) -> None:
    raw = every_answer(year, use_rollup=False)
    assert rebuild(year, BERLIN, NOW) > 0
    assert count(year, "rollup_hours") > 0 and count(year, "rollup_programs") > 0
    assert every_answer(year, use_rollup=True) == raw
    # Whole rolled-up days answer without any raw session: the roll-up holds them, hours too.
    whole = WINDOWS[0]
    kept = [usage(year, by, whole, BERLIN, NOW, LABS) for by in ROLLED]
    assert delete_old_sessions(year, days=0, now=NOW) == 11
    assert [usage(year, by, whole, BERLIN, NOW, LABS) for by in ROLLED] == kept


def test_the_hours_of_the_autumn_change_and_of_a_lab_by_weekday(year: Storage) -> None:
    rebuild(year, BERLIN, NOW)
    autumn = Window(at("2026-10-25 00:00"), at("2026-10-26 00:00"))
    # 02:xx happens twice: lab101-pc1 holds both (2 h), bob's 01:30-02:30 the first half of it
    rows = usage(year, ["hour"], autumn, BERLIN, NOW)
    assert sorted((r.key, r.sessions, r.seconds) for r in rows) == [
        (("00",), 1, HOUR), (("01",), 2, 1.5 * HOUR), (("02",), 2, 2.5 * HOUR), (("03",), 1, HOUR)]
    monday = usage(year, ["lab", "weekday", "hour"], WINDOWS[2], BERLIN, NOW, LABS)
    assert sorted((r.key, r.sessions, r.seconds) for r in monday if r.key[1] == "Mon") == [
        (("Lab 101", "Mon", "22"), 2, 0.75 * HOUR + 0.5 * HOUR), (("Lab 101", "Mon", "23"), 2, 1.25 * HOUR)]


def test_a_long_session_written_after_the_roll_up_is_found_from_an_edge_day(year: Storage) -> None:
    """Raw edge days are found through startTime ranges as wide as the longest session: one written
    since (its write marks it) and one whose mark the refresh settled must both be in reach."""
    rebuild(year, BERLIN, NOW)
    year.write([session("2026-07-01 08:00", "2026-07-11 08:00", computer="far-1", user="fay")], [])
    edge = Window(at("2026-07-10 12:00"), at("2026-07-10 18:00"))
    expected = [(("far-1",), 1, 6 * HOUR)]
    assert [(r.key, r.sessions, r.seconds) for r in usage(year, ["computer"], edge, BERLIN, NOW)] == expected
    while refresh(year, BERLIN, NOW):
        pass
    assert count(year, "rollup_dirty") == 0
    assert [(r.key, r.sessions, r.seconds) for r in usage(year, ["computer"], edge, BERLIN, NOW)] == expected
    assert [(p.process, p.peak, p.seconds_at_peak) for p in peaks(year, edge, BERLIN, NOW)] == [("chrome", 1, 6 * HOUR)]
