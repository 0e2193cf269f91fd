"""Each benchmark runs once at a tiny size, so it keeps working; the figures are not judged here."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

import psutil
import pytest

from tests.processes import REPO, python_env

pytestmark = pytest.mark.timeout(180)
BENCH_SECONDS = 170


def run_bench(script: str, *args: str) -> str:
    """Run a benchmark; its output, and a failure if it exits non-zero, takes longer than
    BENCH_SECONDS or leaves a process behind.

    The output goes to files, not pipes: a process the benchmark left behind would hold a pipe open
    and keep the test waiting after the benchmark itself has ended. The benchmark leads a session
    of its own, so whatever it leaves behind is found and ended.
    """
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, str(REPO / "bench" / script), *args], cwd=REPO,
                                env=python_env(), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(BENCH_SECONDS)
            late = ""
        except subprocess.TimeoutExpired:
            late = f"{script} still ran after {BENCH_SECONDS} s\n"
        left = end_session(proc)
        out.seek(0)
        output = out.read().decode(errors="replace")
    assert proc.returncode == 0, late + output
    assert not left, f"{script} left running: {left}\n{output}"
    return output


def end_session(leader: subprocess.Popen[bytes]) -> list[str]:
    """Kill the session ``leader`` leads, leader first; the command lines of the others it held."""
    if leader.poll() is None:
        leader.kill()
        leader.wait()
    left = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getsid(proc.pid) == leader.pid:
                left.append(" ".join(proc.info["cmdline"] or []))
                proc.kill()
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return left


def test_hub_ingest_stores_every_session_of_every_simulated_node(mariadb_server) -> None:
    # The benchmark reads the same PROCMESH_TEST_MARIADB as the tests; the fixture skips or fails
    # this test the same way as every other MariaDB test when no server answers.
    out = run_bench("hub_ingest.py", "--nodes", "20", "--duration", "2", "--interval", "0.5",
                    "--settle", "3", "--raw-seconds", "0.5", "--backend", "both")
    assert out.count("distinct sessions stored         100   expected 100") == 2, out
    assert re.findall(r"unacked at end: (\d+)", out) == ["0", "0"], out
    assert "report->commit p50 / p99" in out


def test_node_scan_reports_both_loops() -> None:
    out = run_bench("node_scan.py", "--extra", "10", "--matching", "2", "--rounds", "3")
    assert re.search(r"bare process_iter\(\['name'\]\)\s+\d+\.\d+ ms", out), out
    assert re.search(r"ratio \d+\.\d+", out), out
    assert re.search(r"node tick \(\+sessions, outbox\)\s+\d+\.\d+ ms", out), out
    assert re.search(r"node process RSS\s+\d+\.\d+ MB", out), out
    assert re.search(r"tick \+ presence probe\s+\d+\.\d+ ms CPU per scan   ratio to the tick \d+\.\d+", out), out


def test_config_fanout_reaches_every_node_and_its_baseline() -> None:
    out = run_bench("config_fanout.py", "--nodes", "20", "--processes", "2", "--storm", "1")
    assert out.count("(20/20 nodes)") == 4, out
    assert "nodes holding the first watch list before the edit: 20/20" in out


def test_report_growth_loads_the_rows_and_times_every_report(mariadb_server) -> None:
    out = run_bench("report_growth.py", "--rows", "2000", "--nodes", "5", "--days", "10")
    assert "rows in records: 2,000" in out, out
    assert re.search(r"procmesh-hub rollup: roll-up in \S+: \d+ days computed in \d+ s", out), out
    timed = re.findall(r"procmesh-hub (\w+) .* s, again +\d+\.\d+ s \| +\d+\.\d+ s, raw +\d+\.\d+ s "
                       r"+\(\d+ rows, same answer\)", out)
    assert len(timed) == 10 and set(timed) == {"report", "peak", "unused", "now"}, out
    assert "ANSWERS DIFFER" not in out, out
    for table in ("rollup_usage", "rollup_programs", "rollup_hours", "rollup_peak_top", "rollup_peak"):
        assert re.search(rf"EXPLAIN of a statement on .*\b{table}\b", out), (table, out)


def test_dashboard_times_every_page_and_ingest_with_and_without_page_loads(mariadb_server) -> None:
    out = run_bench("dashboard.py", "--rows", "2000", "--nodes", "5", "--days", "10", "--loads", "2",
                    "--sim-nodes", "20", "--duration", "2", "--interval", "0.5", "--settle", "3")
    assert "rows in records: 2,000" in out, out
    assert len(re.findall(r"p50 +\d+\.\d+ ms +p95 +\d+\.\d+ ms", out)) >= 2 * 6, out
    # Once with the dashboard in a child process of the hub, once in a thread.
    assert "in a process of the hub" in out and "in a thread of the hub" in out, out
    assert len(re.findall(r"p99 ratio with / without +\d+\.\d+", out)) == 2, out
