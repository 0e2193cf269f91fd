"""The Usage page asks one question per node for its lab, computer and user tables: each table must
be what its own question answers, with and without the page's filters, on both backends."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from common.ids import new_sid
from hub.storage import SessionRow, Storage
from hub.web.page import Query
from hub.web.views.ask import ask, ask_per_node

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 1, 10, 12, tzinfo=BERLIN).timestamp()


def session(day: int, start: int, end: int, computer: str, user: str, process: str,
            node: str | None = None, active: float | None = None) -> SessionRow:
    begin = datetime(2026, 1, day, start, tzinfo=BERLIN).timestamp()
    finish = datetime(2026, 1, day, end, tzinfo=BERLIN).timestamp()
    return SessionRow(new_sid(begin), node or f"{computer}/{user}", "10.0.0.7", user, computer, process,
                      begin, finish, active=active)


@pytest.fixture
def site(storage: Storage, tmp_path: Path) -> SimpleNamespace:
    """Two labs; alice on two computers, bob on one of hers, carol alone in a computer of no lab,
    overlapping programs, a session across midnight, and alice on pc-b reported by two nodes."""
    (tmp_path / "labs.txt").write_text("Lab A = pc-a, pc-b\nLab C = pc-c\n")
    storage.write([
        session(5, 8, 10, "pc-a", "alice", "chrome", active=3600.0),
        session(5, 9, 11, "pc-a", "alice", "word"),
        session(5, 8, 9, "pc-a", "bob", "chrome", active=600.0),
        session(6, 8, 9, "pc-b", "alice", "chrome"),
        session(6, 8, 9, "pc-b", "alice", "chrome", node="pc-b/SYSTEM"),
        session(6, 13, 17, "pc-c", "dave", "matlab"),
        session(7, 22, 23, "pc-x", "carol", "word"),
        session(8, 0, 2, "pc-x", "carol", "word"),
    ], [])
    settings = {"watch": str(tmp_path / "monitorProcesses.txt"), "labs": ""}
    return SimpleNamespace(storage=storage, ctx=SimpleNamespace(settings=settings, zone=BERLIN,
                                                                  clock=lambda: NOW))


QUERIES = {
    "no filter": Query(date(2026, 1, 1), date(2026, 1, 9)),
    "one day": Query(date(2026, 1, 5), date(2026, 1, 5)),
    "a program": Query(date(2026, 1, 1), date(2026, 1, 9), program="chrome"),
    "a user": Query(date(2026, 1, 1), date(2026, 1, 9), user="alice"),
    "a lab": Query(date(2026, 1, 1), date(2026, 1, 9), lab="Lab A"),
    "a computer and a program": Query(date(2026, 1, 1), date(2026, 1, 9), computer="pc-a", program="word"),
}


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_each_table_from_the_question_per_node_is_what_its_own_question_answers(
        site: SimpleNamespace, query: Query) -> None:
    together = ask_per_node(site.storage, site.ctx, query)
    for name in ("lab", "computer", "user"):
        assert together[name] == ask(site.storage, site.ctx, query, [name]), name


def test_the_question_per_node_sums_seat_time_not_program_time(site: SimpleNamespace) -> None:
    answers = ask_per_node(site.storage, site.ctx, QUERIES["no filter"])
    hours = {name: {row.key[0]: row.seconds / 3600 for row in rows} for name, rows in answers.items()}
    # pc-a: alice 8-11 (chrome and word overlap) and bob 8-9; pc-b: alice 8-9 once, whatever reported it.
    assert hours["computer"] == {"pc-a": 4.0, "pc-b": 1.0, "pc-c": 4.0, "pc-x": 3.0}
    assert hours["user"] == {"alice": 4.0, "bob": 1.0, "dave": 4.0, "carol": 3.0}
    assert hours["lab"] == {"Lab A": 5.0, "Lab C": 4.0, "-": 3.0}
    active = {row.key[0]: row.active for row in answers["user"]}
    assert active == {"alice": 3600.0, "bob": 600.0, "dave": None, "carol": None}
