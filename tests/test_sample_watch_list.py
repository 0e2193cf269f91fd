"""The sample watch list the hub writes into an empty folder is config/monitorProcesses.txt."""
from __future__ import annotations

from common.watchlist import parse_watchlist
from hub.sample import SAMPLE_WATCHLIST
from tests.processes import REPO


def test_the_hubs_sample_is_the_shipped_sample_file() -> None:
    shipped = (REPO / "config" / "monitorProcesses.txt").read_text(encoding="utf-8")
    assert SAMPLE_WATCHLIST == shipped
    assert parse_watchlist(SAMPLE_WATCHLIST)   # and it is a list the hub accepts
