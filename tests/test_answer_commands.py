"""The answer commands as a person runs them: real processes, a real database, real output."""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest

from common.ids import new_sid
from hub.storage import SessionRow
from tests.conftest import storage_with_schema
from tests.processes import Mesh, run_cli
from tests.waiting import wait_for

HOUR = 3600.0


def sessions_of_two_programs(db_url: str, start: float) -> None:
    """On pc1, alice has two programs open for the same 25 hours; on pc2, bob one for 1 hour."""
    rows = [SessionRow(new_sid(start), "pc1/alice", "10.0.0.7", "alice", "pc1", "chrome", start, start + 25 * HOUR),
            SessionRow(new_sid(start), "pc1/alice", "10.0.0.7", "alice", "pc1", "word", start, start + 25 * HOUR),
            SessionRow(new_sid(start), "pc2/bob", "10.0.0.8", "bob", "pc2", "chrome", start, start + HOUR)]
    with storage_with_schema(db_url) as storage:
        storage.write(rows, [])


def test_report_shows_seat_time_and_program_time_in_every_format(tmp_path: Path, sqlite_url: str) -> None:
    sessions_of_two_programs(sqlite_url, time.time() - 30 * HOUR)

    def report(fmt: str) -> str:
        result = run_cli("hub", "report", "--db", sqlite_url, "--by", "computer", "--format", fmt, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    lines = report("table").splitlines()
    assert lines[0].split() == ["computer", "sessions", "time", "program", "time", "first", "start", "last", "end"]
    assert lines[2].split()[:6] == ["pc1", "2", "1d", "01:00:00", "2d", "02:00:00"]
    assert lines[3].split()[:4] == ["pc2", "1", "1:00:00", "1:00:00"]
    records = json.loads(report("json"))
    assert [(r["computer"], r["seconds"], r["program_seconds"]) for r in records] == [
        ("pc1", 25 * HOUR, 50 * HOUR), ("pc2", HOUR, HOUR)]
    assert list(csv.DictReader(io.StringIO(report("csv"))))[0]["seconds"] == str(25 * HOUR)
    by_process = run_cli("hub", "report", "--db", sqlite_url, "--by", "process", "--format", "json", cwd=tmp_path)
    assert "program_seconds" not in by_process.stdout


@pytest.mark.timeout(180)
def test_status_judges_silence_by_the_interval_the_hub_runs_with(new_mesh, sqlite_url: str, fake_app) -> None:
    mesh: Mesh = new_mesh(sqlite_url, watch="nothing-runs-by-this-name\n", interval=1.0, grace=2.0)
    mesh.start_hub()
    node = mesh.start_node("pc9/alice")

    def state(*options: str) -> str | None:
        result = mesh.hub_cli("status", "--format", "json", *options)
        assert result.returncode == 0, result.stderr
        nodes = {n["node"]: n for n in json.loads(result.stdout)}
        return None if "pc9/alice" not in nodes else ("online" if nodes["pc9/alice"]["online"] else "offline")

    wait_for(lambda: state() == "online", 60, "the node online")
    node.kill()
    # Offline after 3 silent intervals of the hub's 1 s, although the command's own interval (for
    # nodes stored without one) would keep it online for an hour: no deadline decides this.
    wait_for(lambda: state("--interval", "1200") == "offline", 60, "the killed node offline")
    assert state() == "offline"   # no --interval: the hub's is stored
