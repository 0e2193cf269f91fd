"""Active and foreground time in reports: sums of the stored seconds, shown only where measured."""
from __future__ import annotations

import json
from dataclasses import replace

from common.ids import new_sid
from hub.storage import SessionRow, Storage, UsageRow
from hub.tables import format_usage

T0 = 1_790_000_000.0

def labelled(process: str, start: float, end: float, active: float | None,
             foreground: float | None) -> SessionRow:
    return SessionRow(new_sid(), "pc1/alice", "10.0.0.7", "alice", "pc1", process, start, end, active,
                      foreground)


def test_reports_sum_the_measured_seconds_and_leave_unmeasured_groups_unknown(storage: Storage) -> None:
    storage.write([labelled("editor", T0, T0 + 100, 60.0, 20.0), labelled("editor", T0 + 200, T0 + 300, None, None),
                   labelled("editor", T0 + 400, T0 + 500, 10.0, None), labelled("viewer", T0, T0 + 50, None, None)], [])
    rows = {row.key: row for row in storage.usage(None, None, ["process"])}
    assert (rows[("editor",)].seconds, rows[("editor",)].active, rows[("editor",)].foreground) == (300.0, 70.0, 20.0)
    assert (rows[("viewer",)].active, rows[("viewer",)].foreground) == (None, None)


def test_a_session_across_the_edge_of_the_window_counts_its_share_inside(storage: Storage) -> None:
    storage.write([labelled("editor", T0, T0 + 100, 50.0, 40.0)], [])
    (row,) = storage.usage(T0 + 75, T0 + 1000, ["process"])
    assert (row.seconds, row.active, row.foreground) == (25.0, 12.5, 10.0)
    (row,) = storage.usage(T0 + 20, T0 + 60, ["process"])
    assert (row.seconds, row.active, row.foreground) == (40.0, 20.0, 16.0)


CHROME = UsageRow(("pc1", "alice", "chrome"), 3, 3725.4, T0, T0 + 9000)
WORD = UsageRow(("pc10", "bob", "winword"), 1, 60.0, T0, T0 + 60)


def test_active_and_foreground_show_beside_time_only_when_measured() -> None:
    measured = replace(CHROME, active=3600.0, foreground=1800.0)
    table = format_usage([measured, WORD], ["computer", "user", "process"], "table")
    header, _, chrome, word = table.splitlines()
    assert header.split()[3:7] == ["sessions", "time", "active", "foreground"]
    assert chrome.split()[4:7] == ["1:02:05", "1:00:00", "0:30:00"]
    assert word.split()[4:7] == ["0:01:00", "-", "-"]
    records = json.loads(format_usage([measured, WORD], ["computer", "user", "process"], "json"))
    assert [(r["active_seconds"], r["foreground_seconds"]) for r in records] == [(3600.0, 1800.0), (None, None)]
    # A column that is unknown for every row is left out: a desktop that tells no focus.
    only_active = format_usage([replace(CHROME, active=3600.0), WORD], ["process"], "table")
    assert "active" in only_active and "foreground" not in only_active
    assert "active" not in format_usage([CHROME, WORD], ["process"], "table")
    assert "active_seconds" not in format_usage([CHROME], ["process"], "csv")
