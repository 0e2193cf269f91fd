"""Usage answers (hub.answers.usage) on both backends, against answers worked out by hand.

Times are written in Europe/Berlin local time; the tests ask in that zone unless they say otherwise.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from common.ids import new_sid
from hub.answers import AnswerError, Window, parse_labs, usage
from hub.storage import SessionRow, Storage

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
HOUR = 3600.0


def at(text: str, zone: ZoneInfo = BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def session(start: str, end: str, computer: str = "pc1", user: str = "alice",
            process: str = "chrome", node: str | None = None) -> SessionRow:
    begin = at(start)
    return SessionRow(new_sid(begin), node or f"{computer}/{user}", "10.0.0.7", user, computer, process,
                      begin, at(end))


def table(rows) -> list[tuple]:
    return [(row.key, row.sessions, row.seconds, row.program_seconds) for row in rows]


NOW = at("2026-12-31 12:00")


def ask(storage: Storage, by, since: str | None = None, until: str | None = None, **options):
    window = Window(None if since is None else at(since), None if until is None else at(until))
    return usage(storage, by, window, options.pop("zone", BERLIN), NOW, **options)


# --- seat time ------------------------------------------------------------------------------------

@pytest.fixture
def office(storage: Storage) -> Storage:
    """pc1: alice has chrome 8-10 and word 9-11 open (overlapping), and bob chrome 8-9 (scope all:
    another user on the same computer); pc2: alice chrome 8-9, reported by two nodes at once (a
    login node and a machine-wide node) as two sessions of the same hour."""
    storage.write([
        session("2026-01-05 08:00", "2026-01-05 10:00"),
        session("2026-01-05 09:00", "2026-01-05 11:00", process="word"),
        session("2026-01-05 08:00", "2026-01-05 09:00", user="bob", node="pc1/SYSTEM"),
        session("2026-01-05 08:00", "2026-01-05 09:00", computer="pc2"),
        session("2026-01-05 08:00", "2026-01-05 09:00", computer="pc2", node="pc2/SYSTEM"),
    ], [])
    return storage


def test_time_of_a_computer_counts_each_person_once_at_any_instant(office: Storage) -> None:
    # pc1: alice 8-11 (3 h, chrome and word overlap 9-10) + bob 8-9 (1 h) = 4 h of seat time;
    # the programs' own times add up to 2 + 2 + 1 = 5 h.
    assert table(ask(office, ["computer"])) == [
        (("pc1",), 3, 4 * HOUR, 5 * HOUR),
        (("pc2",), 2, 1 * HOUR, 2 * HOUR),
    ]


def test_time_per_program_is_the_union_of_each_persons_sessions_of_it(office: Storage) -> None:
    # chrome: pc1 alice 2 h + pc1 bob 1 h + pc2 alice 1 h (two nodes, one person) = 4 h; the
    # plain sum of its sessions counts pc2's hour twice.
    assert table(ask(office, ["process"])) == [
        (("chrome",), 4, 4 * HOUR, 5 * HOUR),
        (("word",), 1, 2 * HOUR, 2 * HOUR),
    ]


def test_time_without_grouping_is_the_seat_time_of_the_whole_site(office: Storage) -> None:
    assert table(ask(office, [])) == [((), 5, 5 * HOUR, 7 * HOUR)]


def test_time_is_clipped_to_the_window(office: Storage) -> None:
    # 9:30-10:30: pc1 alice 1 h (chrome till 10, word throughout), bob nothing, pc2 nothing.
    rows = ask(office, ["computer", "user"], since="2026-01-05 09:30", until="2026-01-05 10:30")
    assert table(rows) == [(("pc1", "alice"), 2, 1 * HOUR, 1.5 * HOUR)]
    assert (rows[0].first, rows[0].last) == (at("2026-01-05 08:00"), at("2026-01-05 11:00"))


def test_until_before_since_is_a_mistake() -> None:
    with pytest.raises(AnswerError, match="--until.*must be after.*--since"):
        Window(at("2026-01-05 10:00"), at("2026-01-05 09:00"))


def test_nothing_stored_answers_nothing(storage: Storage) -> None:
    assert ask(storage, ["computer", "day"]) == []
    assert ask(storage, []) == []


# --- periods, labs, --top ---------------------------------------------------------------------------

@pytest.fixture
def term(storage: Storage) -> Storage:
    """Lab 101 (lab101-pc1, LAB101-PC2) and a staff PC in no lab, over a midnight and two DST changes."""
    storage.write([
        # across midnight: 2 h on Monday, 1 h on Tuesday
        session("2026-01-05 22:00", "2026-01-06 01:00", computer="lab101-pc1"),
        # the same hour on the lab's other PC, by another user
        session("2026-01-05 22:00", "2026-01-05 23:00", computer="LAB101-PC2", user="bob"),
        # a computer in no lab
        session("2026-01-06 10:00", "2026-01-06 10:30", computer="staff-7", user="carol", process="word"),
        # spring forward (Sun 29 March 2026, 02:00 -> 03:00): 22:00 Sat to 04:00 Sun is 5 h
        session("2026-03-28 22:00", "2026-03-29 04:00", computer="lab101-pc1"),
        # fall back (Sun 25 October 2026, 03:00 -> 02:00): 00:00 to 04:00 is 5 h, 02:xx twice
        session("2026-10-25 00:00", "2026-10-25 04:00", computer="lab101-pc1"),
    ], [])
    return storage


LABS = parse_labs("# computer rooms\nLab 101 = lab101-*, re:lab101-pc\\d+\n")


def test_a_session_across_midnight_is_split_between_the_days(term: Storage) -> None:
    rows = ask(term, ["day", "computer"], until="2026-01-07 00:00")
    assert table(rows) == [
        (("2026-01-05", "lab101-pc1"), 1, 2 * HOUR, 2 * HOUR),
        (("2026-01-05", "LAB101-PC2"), 1, 1 * HOUR, 1 * HOUR),
        (("2026-01-06", "lab101-pc1"), 1, 1 * HOUR, 1 * HOUR),
        (("2026-01-06", "staff-7"), 1, 0.5 * HOUR, 0.5 * HOUR),
    ]


def test_days_are_local_days_of_the_zone_asked_for(term: Storage) -> None:
    # In UTC, 22:00-01:00 Berlin is 21:00-24:00: all on Monday, and a session that ends at a
    # midnight has no share in the next day.
    rows = usage(term, ["day"], Window(None, at("2026-01-07 00:00")), UTC, NOW)
    assert table(rows) == [(("2026-01-05",), 2, 4 * HOUR, 4 * HOUR), (("2026-01-06",), 1, 0.5 * HOUR, 0.5 * HOUR)]


def test_a_day_of_the_spring_dst_change_has_23_hours(term: Storage) -> None:
    rows = ask(term, ["day"], since="2026-03-28 00:00", until="2026-03-30 00:00")
    assert table(rows) == [(("2026-03-29",), 1, 3 * HOUR, 3 * HOUR), (("2026-03-28",), 1, 2 * HOUR, 2 * HOUR)]
    hours = ask(term, ["hour"], since="2026-03-29 00:00", until="2026-03-30 00:00")
    assert sorted((row.key, row.seconds) for row in hours) == [
        (("00",), HOUR), (("01",), HOUR), (("03",), HOUR)]


def test_the_hour_the_autumn_dst_change_repeats_counts_twice(term: Storage) -> None:
    hours = ask(term, ["hour"], since="2026-10-25 00:00", until="2026-10-26 00:00")
    assert sorted((row.key, row.sessions, row.seconds) for row in hours) == [
        (("00",), 1, HOUR), (("01",), 1, HOUR), (("02",), 1, 2 * HOUR), (("03",), 1, HOUR)]
    assert table(ask(term, ["day"], since="2026-10-25 00:00", until="2026-10-26 00:00")) == [
        (("2026-10-25",), 1, 5 * HOUR, 5 * HOUR)]


def test_weeks_months_and_weekdays_are_named_as_people_write_them(term: Storage) -> None:
    window = dict(until="2026-01-07 00:00")
    assert [row.key for row in ask(term, ["week"], **window)] == [("2026-W02",)]
    assert [row.key for row in ask(term, ["month"], **window)] == [("2026-01",)]
    assert table(ask(term, ["weekday"], **window)) == [
        (("Mon",), 2, 3 * HOUR, 3 * HOUR), (("Tue",), 2, 1.5 * HOUR, 1.5 * HOUR)]


def test_a_session_split_by_midnight_counts_once_in_a_period_that_holds_both_days(term: Storage) -> None:
    assert table(ask(term, ["week", "computer"], until="2026-01-07 00:00"))[0] == (
        ("2026-W02", "lab101-pc1"), 1, 3 * HOUR, 3 * HOUR)


def test_labs_group_their_computers_in_any_case_and_the_rest_is_lab_dash(term: Storage) -> None:
    rows = ask(term, ["lab"], until="2026-01-07 00:00", labs=LABS)
    assert table(rows) == [(("Lab 101",), 2, 4 * HOUR, 4 * HOUR), (("-",), 1, 0.5 * HOUR, 0.5 * HOUR)]


def test_a_computer_in_two_labs_names_both_lines(term: Storage) -> None:
    labs = parse_labs("Lab 101 = lab101-*\n\nEvening = LAB101-pc1\n", "labs.txt")
    with pytest.raises(AnswerError, match=r"labs.txt: computer 'lab101-pc1' is in two labs: "
                                          r"'Lab 101' \(line 1\) and 'Evening' \(line 3\)"):
        ask(term, ["lab"], labs=labs)


def test_top_keeps_the_rows_with_the_most_time(term: Storage) -> None:
    rows = ask(term, ["computer"], top=2)
    assert [row.key for row in rows] == [("lab101-pc1",), ("LAB101-PC2",)]


@pytest.mark.parametrize("by", ["room", "day,day", "computer,host"])
def test_an_unknown_or_repeated_grouping_is_refused(storage: Storage, by: str) -> None:
    with pytest.raises(AnswerError, match="--by"):
        ask(storage, by)
