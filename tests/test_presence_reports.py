"""Active and foreground time in the answers: sums of the stored seconds (shares of sessions split
by the window or a period), the same from raw sessions and from the daily roll-up, and shown in
reports only where measured."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from common.ids import new_sid
from hub.answers import UsageRow, Window, usage
from hub.answers.rollup import catch_up
from hub.storage import SessionRow, Storage
from hub.tables import format_usage

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=BERLIN).timestamp()


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


def session(process: str, start: str, end: str, active: float | None, foreground: float | None,
            computer: str = "pc1") -> SessionRow:
    return SessionRow(new_sid(), f"{computer}/alice", "10.0.0.7", "alice", computer, process, at(start),
                      at(end), active, foreground)


def measured(rows: list[UsageRow]) -> dict[tuple[str, ...], tuple]:
    return {row.key: (row.seconds, row.active, row.foreground) for row in rows}


def ask(storage: Storage, by: list[str], since: str | None = None, until: str | None = None,
        use_rollup: bool = False) -> dict[tuple[str, ...], tuple]:
    window = Window(at(since) if since else None, at(until) if until else None)
    return measured(usage(storage, by, window, BERLIN, NOW, use_rollup=use_rollup))


def test_answers_sum_the_measured_seconds_and_leave_unmeasured_groups_unknown(storage: Storage) -> None:
    storage.write([session("editor", "2026-12-01 09:00", "2026-12-01 10:00", 1800.0, 600.0),
                   session("editor", "2026-12-01 11:00", "2026-12-01 12:00", None, None),
                   session("editor", "2026-12-01 13:00", "2026-12-01 14:00", 900.0, None),
                   session("viewer", "2026-12-01 09:00", "2026-12-01 09:30", None, None),
                   session("viewer", "2026-12-01 09:00", "2026-12-01 09:30", None, None, "pc2")], [])
    assert ask(storage, ["process"]) == {("editor",): (10800.0, 2700.0, 600.0),
                                         ("viewer",): (3600.0, None, None)}
    # Computers in one lab add up; one that measured nothing adds nothing to what the other did.
    assert ask(storage, ["lab"]) == {("-",): (12600.0, 2700.0, 600.0)}


def test_a_session_across_the_edge_of_the_window_or_a_day_counts_its_share_in_each(storage: Storage) -> None:
    storage.write([session("editor", "2026-12-01 22:00", "2026-12-02 02:00", 7200.0, 3600.0)], [])
    assert ask(storage, ["process"], since="2026-12-02 00:00") == {("editor",): (7200.0, 3600.0, 1800.0)}
    assert ask(storage, ["day"]) == {("2026-12-01",): (7200.0, 3600.0, 1800.0),
                                     ("2026-12-02",): (7200.0, 3600.0, 1800.0)}


def test_the_roll_up_gives_the_measured_seconds_of_the_raw_sessions(storage: Storage) -> None:
    storage.write([session("editor", "2026-12-01 22:00", "2026-12-02 02:00", 7200.0, 3600.0),
                   session("editor", "2026-12-03 09:00", "2026-12-03 10:00", 600.0, None, "pc2"),
                   session("viewer", "2026-12-03 09:00", "2026-12-03 10:00", None, None)], [])
    catch_up(storage, BERLIN, NOW)
    for by in (["process"], ["day", "process"], ["computer"], ["day"]):
        assert ask(storage, by, since="2026-12-01 00:00", use_rollup=True) == \
            ask(storage, by, since="2026-12-01 00:00", use_rollup=False)
    assert ask(storage, ["process"], use_rollup=True)[("editor",)][1:] == (7800.0, 3600.0)


CHROME = UsageRow(("pc1", "alice", "chrome"), 3, 3725.4, 3725.4, NOW - 9000, NOW)
WORD = UsageRow(("pc10", "bob", "winword"), 1, 60.0, 60.0, NOW - 60, NOW)


def test_active_and_foreground_show_beside_time_only_when_measured() -> None:
    measured_chrome = replace(CHROME, active=3600.0, foreground=1800.0)
    table = format_usage([measured_chrome, WORD], ["computer", "user", "process"], "table")
    header, _, chrome, word = table.splitlines()
    assert header.split()[3:7] == ["sessions", "time", "active", "foreground"]
    assert chrome.split()[4:7] == ["1:02:05", "1:00:00", "0:30:00"]
    assert word.split()[4:7] == ["0:01:00", "-", "-"]
    records = json.loads(format_usage([measured_chrome, WORD], ["computer", "user", "process"], "json"))
    assert [(r["active_seconds"], r["foreground_seconds"]) for r in records] == [(3600.0, 1800.0), (None, None)]
    # A column that is unknown for every row is left out: a desktop that tells no focus.
    only_active = format_usage([replace(CHROME, active=3600.0), WORD], ["computer", "user", "process"], "table")
    assert "active" in only_active and "foreground" not in only_active
    assert "active" not in format_usage([CHROME, WORD], ["computer", "user", "process"], "table")
    assert "active_seconds" not in format_usage([CHROME], ["computer", "user", "process"], "csv")


def test_without_programs_among_the_keys_active_time_is_named_a_sum_over_programs() -> None:
    row = UsageRow(("pc1",), 2, 3600.0, 7200.0, NOW - 3600, NOW, active=5400.0, foreground=3000.0)
    header = format_usage([row], ["computer"], "table").splitlines()[0]
    assert header.index("time") < header.index("program time") < header.index("program active") \
        < header.index("foreground")
    (record,) = json.loads(format_usage([row], ["computer"], "json"))
    assert (record["program_active_seconds"], record["foreground_seconds"]) == (5400.0, 3000.0)
