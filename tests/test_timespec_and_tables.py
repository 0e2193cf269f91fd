"""The WHEN of `report --since/--until`, and usage and status rendered as table, csv and json."""
from __future__ import annotations

import calendar
import csv
import io
import json
import time
from typing import Callable, Iterator

import pytest

from hub.answers import UsageRow
from hub.storage import NodeStatus
from hub.tables import duration, format_status, format_usage, render_table
from hub.timespec import parse_when

# Central European time with its summer-time rule, spelled so that no tz database is needed.
CENTRAL_EUROPE = "CET-1CEST,M3.5.0,M10.5.0/3"
BY = ["computer", "user", "process"]


def utc(*fields: int) -> float:
    """Epoch seconds of a UTC date and time given as year, month, day[, hour, minute, second]."""
    return float(calendar.timegm((*fields, *(0,) * (6 - len(fields)), 0, 0, 0)))


@pytest.fixture(autouse=True)
def central_european_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local times depend on the zone, so every test here runs in one known zone."""
    monkeypatch.setenv("TZ", CENTRAL_EUROPE)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# --- parse_when ---------------------------------------------------------------------------------

NOW = utc(2026, 3, 30, 10, 0)   # 12:00 local, the day after summer time began


@pytest.mark.parametrize("text, seconds_ago", [
    ("7d", 7 * 86_400), ("12h", 12 * 3600), ("30m", 30 * 60), ("45s", 45), ("2w", 14 * 86_400),
    ("1.5h", 5400), ("12 H", 12 * 3600), ("0d", 0),
])
def test_relative_span_is_that_long_before_now(text: str, seconds_ago: float) -> None:
    assert parse_when(text, now=NOW) == NOW - seconds_ago


def test_now_is_now() -> None:
    assert parse_when(" NOW ", now=NOW) == NOW


def test_today_and_yesterday_are_local_midnights() -> None:
    assert parse_when("today", now=NOW) == utc(2026, 3, 29, 22, 0)
    # Yesterday began in winter time: that day had 23 hours.
    assert parse_when("Yesterday", now=NOW) == utc(2026, 3, 28, 23, 0)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-01", utc(2026, 10, 31, 23, 0)),
    ("2026-11-01 08:00", utc(2026, 11, 1, 7, 0)),
    ("2026-07-01T08:00", utc(2026, 7, 1, 6, 0)),
    ("2026-11-01T08:00+02:00", utc(2026, 11, 1, 6, 0)),
])
def test_iso_date_without_offset_is_local_time(text: str, expected: float) -> None:
    assert parse_when(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["last week", "-7d", "7x", "2026-13-01", ""])
def test_unreadable_time_names_the_text_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_when(text, now=NOW)
    message = str(caught.value)
    assert message.startswith(f"cannot read time {text!r}: use e.g. 7d, 12h")
    assert "yesterday" in message and "2026-11-01" in message


# --- duration and render_table ------------------------------------------------------------------

@pytest.mark.parametrize("seconds, shown", [
    (0, "0:00:00"), (59.6, "0:01:00"), (3725, "1:02:05"), (90_061, "1d 01:01:01"), (86_400 * 31 + 5, "31d 00:00:05"),
])
def test_duration_is_hours_minutes_seconds(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_table_columns_are_aligned_under_a_dashed_rule() -> None:
    assert render_table(["name", "n"], [["chrome", "12"], ["x", "3"]]).splitlines() == [
        "name    n",
        "------  --",
        "chrome  12",
        "x       3",
    ]


def test_table_without_rows_is_its_header_and_rule() -> None:
    assert render_table(["process", "time"], []) == "process  time\n-------  ----"


# --- format_usage -------------------------------------------------------------------------------

CHROME_USAGE = UsageRow(key=("pc1", "alice", "chrome"), sessions=3, seconds=3725.4, program_seconds=3725.4,
                        first=utc(2026, 11, 1, 7, 0), last=utc(2026, 11, 1, 9, 30, 15))
WORD_USAGE = UsageRow(key=("pc10", "bob", "winword"), sessions=1, seconds=60.0, program_seconds=60.0,
                      first=utc(2026, 7, 1, 6, 0), last=utc(2026, 7, 1, 6, 1))


def test_usage_table_shows_local_times_in_aligned_columns() -> None:
    assert format_usage([CHROME_USAGE, WORD_USAGE], BY, "table").splitlines() == [
        "computer  user   process  sessions  time     first start          last end",
        "--------  -----  -------  --------  -------  -------------------  -------------------",
        "pc1       alice  chrome   3         1:02:05  2026-11-01 08:00:00  2026-11-01 10:30:15",
        "pc10      bob    winword  1         0:01:00  2026-07-01 08:00:00  2026-07-01 08:01:00",
    ]


def test_usage_json_has_one_record_per_row_with_times_carrying_their_offset() -> None:
    records = json.loads(format_usage([CHROME_USAGE, WORD_USAGE], BY, "json"))
    assert records[0] == {"computer": "pc1", "user": "alice", "process": "chrome", "sessions": 3,
                          "seconds": 3725.4, "first_start": "2026-11-01T08:00:00+01:00",
                          "last_end": "2026-11-01T10:30:15+01:00"}
    assert records[1]["first_start"] == "2026-07-01T08:00:00+02:00"


def test_usage_json_of_no_rows_is_an_empty_list() -> None:
    assert json.loads(format_usage([], BY, "json")) == []


def test_usage_grouped_by_fewer_columns_has_only_those_keys() -> None:
    row = UsageRow(key=("chrome",), sessions=2, seconds=10.0, program_seconds=10.0, first=utc(2026, 11, 1),
                   last=utc(2026, 11, 2))
    assert list(json.loads(format_usage([row], ["process"], "json"))[0]) == [
        "process", "sessions", "seconds", "first_start", "last_end"]


def test_usage_csv_has_a_header_and_one_line_per_row() -> None:
    lines = format_usage([CHROME_USAGE, WORD_USAGE], BY, "csv").splitlines()
    assert lines[0] == "computer,user,process,sessions,seconds,first_start,last_end"
    assert lines[1] == "pc1,alice,chrome,3,3725.4,2026-11-01T08:00:00+01:00,2026-11-01T10:30:15+01:00"
    assert len(lines) == 3


def test_usage_csv_quotes_values_that_contain_commas() -> None:
    row = UsageRow(key=("Office, 2019",), sessions=1, seconds=1.0, program_seconds=1.0,
                   first=utc(2026, 11, 1), last=utc(2026, 11, 1))
    parsed = list(csv.DictReader(io.StringIO(format_usage([row], ["process"], "csv"))))
    assert parsed[0]["process"] == "Office, 2019"


# --- format_status ------------------------------------------------------------------------------

def node_status(node: str, *, last_seen: float, online: bool = True) -> NodeStatus:
    computer, user = node.split("/")
    return NodeStatus(node=node, computer=computer, user=user, client_ip="10.0.0.7", platform="Linux",
                      agent="procmesh 1.0", cfg="c0ffee", first_seen=utc(2026, 11, 1, 6, 0),
                      last_seen=last_seen, online=online)


ALICE = node_status("pc1/alice", last_seen=utc(2026, 11, 1, 7, 0))
# Stored as online but silent for long: the caller decides it is offline.
BOB = node_status("pc2/bob", last_seen=utc(2026, 11, 1, 6, 30))


def test_status_table_shows_the_state_the_caller_decided() -> None:
    assert format_status([ALICE, BOB], [True, False], "table").splitlines() == [
        "node       state    last seen            computer  user   address   agent         config",
        "---------  -------  -------------------  --------  -----  --------  ------------  ------",
        "pc1/alice  online   2026-11-01 08:00:00  pc1       alice  10.0.0.7  procmesh 1.0  c0ffee",
        "pc2/bob    offline  2026-11-01 07:30:00  pc2       bob    10.0.0.7  procmesh 1.0  c0ffee",
    ]


def test_status_json_has_every_field_of_a_node() -> None:
    records = json.loads(format_status([ALICE, BOB], [True, False], "json"))
    assert records[0] == {"node": "pc1/alice", "online": True, "last_seen": "2026-11-01T08:00:00+01:00",
                          "first_seen": "2026-11-01T07:00:00+01:00", "computer": "pc1", "user": "alice",
                          "address": "10.0.0.7", "platform": "Linux", "agent": "procmesh 1.0",
                          "config": "c0ffee"}
    assert records[1]["online"] is False


def test_status_csv_has_a_header_and_one_line_per_node() -> None:
    lines = format_status([ALICE, BOB], [True, False], "csv").splitlines()
    assert lines[0] == "node,online,last_seen,first_seen,computer,user,address,platform,agent,config"
    assert lines[2].startswith("pc2/bob,False,")
    assert len(lines) == 3


def usage_csv(rows: list[UsageRow]) -> str:
    return format_usage(rows, BY, "csv")


def status_csv(rows: list[NodeStatus]) -> str:
    return format_status(rows, [True] * len(rows), "csv")


@pytest.mark.parametrize("render, rows", [(usage_csv, [CHROME_USAGE]), (status_csv, [ALICE])],
                         ids=["usage", "status"])
def test_csv_header_is_the_same_with_and_without_rows(render: Callable[[list], str], rows: list) -> None:
    assert render([]).splitlines()[0] == render(rows).splitlines()[0]
