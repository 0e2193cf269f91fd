"""Peaks, the daily roll-up, retention, unused and now, on both backends, against hand-computed answers.

Times are Europe/Berlin local time.
"""
from __future__ import annotations

import pytest

from hub.answers import Window, parse_labs, parse_licenses, usage
from hub.answers.inventory import LabSeats, running_now, unused
from hub.answers.peak import PeakRow, peaks
from hub.answers.rollup import delete_old_sessions, rebuild, refresh
from hub.storage import NodeRow, Storage
from tests.test_answers_usage import BERLIN, HOUR, at, session

LATER = at("2026-02-01 12:00")


@pytest.fixture
def licensed(storage: Storage) -> Storage:
    """MATLAB on 3 computers at once 9:30-9:45 (4 users: two share pc3); word across midnight."""
    storage.write([
        session("2026-01-05 08:00", "2026-01-05 10:00", "pc1", "alice", "MATLAB"),
        session("2026-01-05 08:00", "2026-01-05 09:00", "pc1", "bob", "MATLAB", node="pc1/SYSTEM"),
        session("2026-01-05 09:00", "2026-01-05 11:00", "pc2", "carol", "MATLAB"),
        session("2026-01-05 09:30", "2026-01-05 09:45", "pc3", "dave", "MATLAB", node="pc3/SYSTEM"),
        session("2026-01-05 09:30", "2026-01-05 09:45", "pc3", "erin", "MATLAB", node="pc3/SYSTEM"),
        session("2026-01-05 23:00", "2026-01-06 01:00", "pc1", "alice", "word"),
    ], [])
    return storage


OWNED = parse_licenses("# licences we own\nMATLAB = 2\n")
# Whole days, all read from the roll-up once it is made (a window of Window() begins and ends
# inside days, which are read raw).
WHOLE_DAYS = Window(at("2026-01-05 00:00"), at("2026-01-07 00:00"))


def peak_table(rows: list[PeakRow]) -> list[tuple]:
    return [(r.period, r.process, r.peak, r.at, r.seconds_at_peak, r.licenses, r.seconds_over_licenses)
            for r in rows]


def test_peak_counts_computers_at_one_instant_and_time_over_the_licences(licensed: Storage) -> None:
    rows = peaks(licensed, Window(), BERLIN, LATER, "day", "computers", licenses=OWNED)
    assert peak_table(rows) == [
        # 1 computer 8-9, 2 from 9, 3 from 9:30 to 9:45: over 2 licences for 15 minutes
        ("2026-01-05", "MATLAB", 3, at("2026-01-05 09:30"), 900.0, 2, 900.0),
        ("2026-01-05", "word", 1, at("2026-01-05 23:00"), HOUR, None, None),
        ("2026-01-06", "word", 1, at("2026-01-06 00:00"), HOUR, None, None),
    ]


def test_peak_of_users_counts_two_users_of_one_computer_twice(licensed: Storage) -> None:
    rows = peaks(licensed, Window(), BERLIN, LATER, "day", "users", ["MATLAB"], OWNED)
    # alice and bob 8-9 (2), alice and carol 9-9:30 (2), + dave and erin 9:30-9:45 (4), 9:45-10 (2):
    # more than the 2 licences only at 4
    assert peak_table(rows) == [("2026-01-05", "MATLAB", 4, at("2026-01-05 09:30"), 900.0, 2, 900.0)]


def test_peak_per_month_adds_the_days_up(licensed: Storage) -> None:
    rows = peaks(licensed, Window(), BERLIN, LATER, "month", "computers", ["word"])
    assert peak_table(rows) == [("2026-01", "word", 1, at("2026-01-05 23:00"), 2 * HOUR, None, None)]


def answers(storage: Storage) -> list:
    return [usage(storage, by, Window(), BERLIN, LATER)
            for by in (["computer", "user", "process"], ["day"], ["month", "process"], ["week", "computer"],
                       ["weekday"], [])] + [
        peaks(storage, window, BERLIN, LATER, per, counted, licenses=OWNED)
        for window in (Window(), WHOLE_DAYS) for per in ("day", "month") for counted in ("computers", "users")]


def test_the_roll_up_gives_the_answers_of_the_raw_sessions(licensed: Storage) -> None:
    licensed.write([session("2026-03-28 22:00", "2026-03-29 04:00", "pc2", "carol", "MATLAB")], [])
    # a window that starts and ends inside days reads its edges raw and the days between rolled up
    window = Window(at("2026-01-04 09:40"), at("2026-01-06 00:30"))
    raw = answers(licensed), usage(licensed, ["week", "process"], window, BERLIN, LATER)
    assert rebuild(licensed, BERLIN, LATER) > 0
    assert raw_sql_count(licensed, "rollup_usage") > 0
    assert (answers(licensed), usage(licensed, ["week", "process"], window, BERLIN, LATER)) == raw


def test_a_roll_up_made_before_the_daily_tops_were_kept_gets_them_on_upgrade(licensed: Storage) -> None:
    rebuild(licensed, BERLIN, LATER)
    with licensed.transaction("drop a table of") as tx:   # as a database of the release before
        tx.execute("DROP TABLE rollup_peak_top")
    licensed.ensure_schema()
    assert raw_sql_count(licensed, "rollup_peak_top") > 0
    assert [peaks(licensed, WHOLE_DAYS, BERLIN, LATER, per, counted, licenses=OWNED)
            for per in ("day", "month") for counted in ("computers", "users")] == [
        peaks(licensed, WHOLE_DAYS, BERLIN, LATER, per, counted, licenses=OWNED, use_rollup=False)
        for per in ("day", "month") for counted in ("computers", "users")]


def raw_sql_count(storage: Storage, table: str) -> int:
    return storage.read(f"SELECT COUNT(*) FROM {table}", [])[0][0]


def test_a_session_written_into_a_rolled_up_day_counts_at_once_and_after_the_refresh(licensed: Storage) -> None:
    rebuild(licensed, BERLIN, LATER)
    late = session("2026-01-05 12:00", "2026-01-05 13:00", "pc4", "zoe", "MATLAB")   # an outbox, days late
    licensed.write([late], [])
    expected = [(("pc4",), 1, HOUR)]
    by_pc4 = lambda: [(r.key, r.sessions, r.seconds) for r in usage(licensed, ["computer"], Window(), BERLIN, LATER)
                      if r.key == ("pc4",)]
    assert by_pc4() == expected
    assert refresh(licensed, BERLIN, LATER) == 1
    assert raw_sql_count(licensed, "rollup_dirty") == 0
    assert by_pc4() == expected
    assert licensed.read("SELECT seconds FROM usage_daily WHERE computerName = 'pc4'", []) == [(HOUR,)]


def test_retention_deletes_old_sessions_and_the_roll_up_keeps_their_usage(licensed: Storage) -> None:
    before = usage(licensed, ["day", "process"], Window(), BERLIN, LATER)
    rebuild(licensed, BERLIN, LATER)
    assert delete_old_sessions(licensed, days=10, now=LATER, batch=2) == 6
    assert raw_sql_count(licensed, "records") == 0
    assert usage(licensed, ["day", "process"], Window(at("2026-01-01 00:00")), BERLIN, LATER) == before


def test_unused_lists_labels_without_sessions_and_silent_nodes(licensed: Storage) -> None:
    licensed.write([], [NodeRow("old-pc/x", "old-pc", "x", "10.0.0.9", "Linux", "a", "c", at("2025-06-01 08:00"),
                                True, 5.0),
                        NodeRow("pc1/alice", "pc1", "alice", "10.0.0.7", "Linux", "a", "c", LATER - 60, True, 5.0)])
    rebuild(licensed, BERLIN, LATER)
    quiet, silent = unused(licensed, ["MATLAB", "word", "SPSS"], 20, BERLIN, LATER)
    assert [(u.process, u.last_used) for u in quiet] == [("MATLAB", at("2026-01-05 11:00")),
                                                         ("word", at("2026-01-06 01:00")), ("SPSS", None)]
    assert [n.node for n in silent] == ["old-pc/x"]
    assert [u.process for u in unused(licensed, ["MATLAB", "word", "SPSS"], 30, BERLIN, LATER)[0]] == ["SPSS"]


def test_now_shows_open_sessions_of_online_nodes_and_free_seats(storage: Storage) -> None:
    now = at("2026-01-05 10:00")
    node = lambda name, computer, user, seen, online=True: NodeRow(
        name, computer, user, "10.0.0.7", "Linux", "a", "c", seen, online, 5.0)
    storage.write([
        session("2026-01-05 09:00", "2026-01-05 09:59:58", "lab101-pc1", "alice", "MATLAB"),
        session("2026-01-05 09:00", "2026-01-05 09:30", "lab101-pc1", "alice", "word"),       # closed
        session("2026-01-05 09:00", "2026-01-05 09:59:58", "lab101-pc3", "bob", "MATLAB"),    # node gone
        session("2026-01-05 09:00", "2026-01-05 09:59:58", "staff-7", "carol", "word"),
    ], [node("lab101-pc1/alice", "lab101-pc1", "alice", now - 2), node("lab101-pc2/dan", "lab101-pc2", "dan", now - 1),
        node("lab101-pc3/bob", "lab101-pc3", "bob", now - 60), node("staff-7/carol", "staff-7", "carol", now - 3)])
    running, seats = running_now(storage, now, 5.0, parse_labs("Lab 101 = lab101-*\n"))
    assert [(r.lab, r.computer, r.process) for r in running] == [
        ("-", "staff-7", "word"), ("Lab 101", "lab101-pc1", "MATLAB")]
    assert seats == [LabSeats("-", 1, 1, 0), LabSeats("Lab 101", 2, 1, 1)]


def test_the_views_for_reporting_tools_answer_sql(licensed: Storage) -> None:
    rebuild(licensed, BERLIN, LATER)
    assert licensed.read("SELECT day, seconds, sessions FROM seats_daily WHERE computerName = 'pc3' "
                         "ORDER BY day", []) == licensed.read(
        "SELECT day, seconds, sessions FROM rollup_usage WHERE computerName = 'pc3' AND process = '' ORDER BY day", [])
    ((seconds,),) = licensed.read("SELECT SUM(seconds) FROM sessions_utc WHERE process = 'word'", [])
    assert float(seconds) == 2 * HOUR
