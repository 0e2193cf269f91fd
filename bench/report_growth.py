"""Report growth benchmark: a year of sessions from 1,000 nodes in MariaDB, then the real report CLI.

Creates the hub's tables with ``procmesh-hub init-db``, generates ``--rows`` sessions (default
5,000,000) for ``--nodes`` nodes over ``--days`` days ending now (day by day, so ids and
session ids grow with time as the hub stores them), loads them with LOAD DATA LOCAL INFILE, then
times ``procmesh-hub report`` as a subprocess (Python start-up included) for each grouping, and
prints the EXPLAIN of the query behind ``--since 7d``. Then it builds the daily roll-up
(``procmesh-hub rollup --rebuild``) and times each question of the answers (report by lab and day,
peaks, unused, now, a year by month and program) in process, from the roll-up and from the raw
sessions alone, each printed with the plan of its main query.

    python bench/report_growth.py                                  # 5 million rows, scratch database
    python bench/report_growth.py --database procmesh_growth       # keep it (loaded once) for reruns
    python bench/report_growth.py --rows 20000 --nodes 20 --days 30    # smoke size (CI)
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from harness import DEFAULT_MARIADB, ScratchMariaDB, bench_env, create_database, mariadb_connect
from common.ids import new_sid
from hub.answers import Window, parse_labs, usage
from hub.answers.inventory import running_now, unused
from hub.answers.peak import peaks
from hub.answers.periods import slots
from hub.answers.rolled import rolled, split
from hub.answers.usage import raw_usage_sql, rolled_usage_sql
from hub.answers.zone import resolve_zone
from hub.storage import open_storage
from hub.storage.base import usage_query
from hub.storage.mariadb import DIALECT
from hub.storage.timefmt import to_text
from hub.timespec import parse_when

LABELS = ["chrome", "firefox", "msedge", "Office", "vscode", "jetbrains", "Adobe", "matlab", "rstudio",
          "spss", "autocad", "solidworks", "gimp", "inkscape", "blender", "unity", "eclipse", "putty",
          "teams", "zoom", "vlc", "7zip", "notepad++", "python", "jupyter"]
# Zipf-like: the browser and the office suite dominate, the long tail is seldom used.
WEIGHTS = [1 / (rank + 1) for rank in range(len(LABELS))]
USERS_PER_COMPUTER = 4
CHUNK_ROWS = 500_000
REPORTS = (["--since", "7d"], ["--since", "7d", "--by", "process"], ["--since", "7d", "--by", "user"],
           ["--since", "7d", "--by", "computer"], ["--since", "30d", "--by", "process"],
           ["--since", "yesterday", "--by", "computer,process"])


def sessions(nodes: int, days: int, rows: int, seed: int = 5) -> Iterator[str]:
    """Tab-separated lines for LOAD DATA, day by day, each day's sessions in start order.

    A node is one user on one computer: USERS_PER_COMPUTER users share each lab computer.
    """
    rng = random.Random(seed)
    now = time.time()
    first_day = now - days * 86_400
    per_day = rows / days
    made = 0
    for day in range(days):
        count = round(per_day * (day + 1)) - made
        midnight = first_day + day * 86_400
        day_rows = []
        for _ in range(count):
            node = rng.randrange(nodes)
            start = min(now - 60, midnight + rng.uniform(7, 21) * 3600)
            end = min(now, start + min(rng.expovariate(1 / 1800), 8 * 3600) + 5)
            day_rows.append((start, end, node, rng.choices(LABELS, WEIGHTS)[0]))
        day_rows.sort()
        for start, end, node, label in day_rows:
            pc = node // USERS_PER_COMPUTER
            computer, user = f"lab-pc{pc:04d}", f"u{node:05d}"
            yield (f"10.{pc // 250}.{pc % 250}.10\t{user}\t{computer}\t{label}\t{to_text(start)}\t"
                   f"{to_text(end)}\t{new_sid(start).hex()}\t{computer}/{user}\n")
        made += count


def load(url: str, lines: Iterator[str], folder: Path) -> int:
    """LOAD DATA in chunks of CHUNK_ROWS rows, one file and one transaction each; rows loaded."""
    conn = mariadb_connect(url, local_infile=True)
    loaded = 0
    try:
        with conn.cursor() as cursor:
            # The unique sid index is checked by the generator (random UUIDv7), not row by row.
            cursor.execute("SET SESSION unique_checks = 0")
            while True:
                batch = list(itertools.islice(lines, CHUNK_ROWS))
                if not batch:
                    return loaded
                chunk = folder / "chunk.tsv"
                chunk.write_text("".join(batch))
                cursor.execute(
                    "LOAD DATA LOCAL INFILE %s INTO TABLE records "
                    "(client_ip, user, computerName, process, startTime, endTime, @sid, node) "
                    "SET sid = UNHEX(@sid)", (str(chunk),))
                conn.commit()
                loaded += len(batch)
                chunk.unlink()
                print(f"  loaded {loaded:,} rows", flush=True)
    finally:
        conn.close()


def count_rows(url: str) -> int:
    conn = mariadb_connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM records")
            return cursor.fetchone()[0]
    finally:
        conn.close()


def explain(url: str, since: str, by: list[str]) -> list[tuple]:
    sql, params = usage_query(DIALECT, parse_when(since), None, by)
    conn = mariadb_connect(url, init_command="SET time_zone = '+00:00'")
    try:
        with conn.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            header = tuple(column[0] for column in cursor.description)
            return [header, *cursor.fetchall()]
    finally:
        conn.close()


def run_report(url: str, args: list[str], folder: Path) -> tuple[float, int]:
    """Wall time of ``procmesh-hub report ARGS`` (its table, as a person runs it) and its row count."""
    t0 = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "hub", "report", "--db", url, *args],
                            cwd=folder, env=bench_env(folder), capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"report {' '.join(args)} failed:\n{result.stderr}")
    return elapsed, max(0, len(result.stdout.splitlines()) - 2)   # header and rule


LABS = parse_labs("\n".join(f"Lab {n} = lab-pc{n:02d}??" for n in range(100)))
DAY = 86_400
# (question, answer(storage, zone, now, use_rollup)); unused and now read no more than they must
# either way, so they run once per column alike.
QUESTIONS = (
    ("report --since 30d --by lab,day",
     lambda st, z, now, roll: usage(st, ["lab", "day"], Window(now - 30 * DAY), z, now, LABS, use_rollup=roll)),
    ("report --since 365d --by month,process",
     lambda st, z, now, roll: usage(st, ["month", "process"], Window(now - 365 * DAY), z, now, use_rollup=roll)),
    ("peak --since 30d --per day",
     lambda st, z, now, roll: peaks(st, Window(now - 30 * DAY), z, now, "day", use_rollup=roll)),
    ("peak --since 365d --per month",
     lambda st, z, now, roll: peaks(st, Window(now - 365 * DAY), z, now, "month", use_rollup=roll)),
    ("unused --days 90", lambda st, z, now, roll: unused(st, LABELS + ["never-used"], 90, z, now)[0]),
    ("now", lambda st, z, now, roll: running_now(st, now, 5.0, LABS)[0]),
)


def time_questions(url: str, use_rollup: bool) -> None:
    """Each question in process, twice, from the roll-up or from raw sessions alone."""
    zone = resolve_zone("")
    with open_storage(url, create=False) as storage:
        for name, ask in QUESTIONS:
            now = time.time()
            times = []
            for _ in range(2):
                t0 = time.perf_counter()
                rows = ask(storage, zone, now, use_rollup)
                times.append(time.perf_counter() - t0)
            print(f"  {'roll-up' if use_rollup else 'raw    '}  {name:40s} {times[0]:6.2f} s, again "
                  f"{times[1]:6.2f} s   ({len(rows)} rows)", flush=True)


def explain_questions(url: str) -> None:
    """The plans of the two queries behind report --since 30d --by lab,day: raw part and roll-up part."""
    zone = resolve_zone("")
    now = time.time()
    with open_storage(url, create=False) as storage:
        cut = slots(now - 30 * 86_400, now, ["day"], zone)
        raw, rolled_up = split(cut, rolled(storage, zone), zone)
        for title, (sql, params) in (("raw part (edge days)", raw_usage_sql(DIALECT, raw, ["computerName"], True)),
                                     ("roll-up part", rolled_usage_sql(DIALECT, rolled_up, ["computerName"], zone))):
            print(f"  EXPLAIN {title} of report --since 30d --by lab,day:")
            for row in storage.read("EXPLAIN " + sql, params):
                print("    " + " | ".join("" if v is None else str(v) for v in row[:10]))


@contextlib.contextmanager
def database(server: str, name: str | None) -> Iterator[str]:
    """A named database kept afterwards, or a scratch one dropped afterwards."""
    if name is None:
        with ScratchMariaDB(server) as url:
            yield url
    else:
        yield create_database(server, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--mariadb-server", default=DEFAULT_MARIADB)
    parser.add_argument("--database", help="keep the data in this database (loaded only when empty)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args.mariadb_server, args.database) as url:
        folder = Path(tmp)
        subprocess.run([sys.executable, "-m", "hub", "init-db", "--db", url], cwd=folder, env=bench_env(folder),
                       check=True, capture_output=True)
        print(f"== report growth: {args.nodes} nodes ({USERS_PER_COMPUTER} users on each computer), {args.days} days")
        if count_rows(url) == 0:
            t0 = time.perf_counter()
            loaded = load(url, sessions(args.nodes, args.days, args.rows), folder)
            elapsed = time.perf_counter() - t0
            print(f"  generated and loaded {loaded:,} rows in {elapsed:.0f} s ({loaded / elapsed:,.0f} rows/s)")
        print(f"  rows in records: {count_rows(url):,}")
        for report_args in REPORTS:
            first, rows = run_report(url, report_args, folder)
            second, _ = run_report(url, report_args, folder)
            print(f"  procmesh-hub report {' '.join(report_args):34s} {first:6.2f} s, again {second:6.2f} s"
                  f"   ({rows} rows)")
        print("  EXPLAIN of the query behind report --since 7d (grouped by computer, user, process):")
        for row in explain(url, "7d", ["computer", "user", "process"]):
            print("    " + " | ".join("" if value is None else str(value) for value in row))
        t0 = time.perf_counter()
        built = subprocess.run([sys.executable, "-m", "hub", "rollup", "--rebuild", "--db", url], cwd=folder,
                               env=bench_env(folder), capture_output=True, text=True, check=True)
        print(f"  {built.stdout.strip()} in {time.perf_counter() - t0:.0f} s")
        print("  answers, in process (same data, same run):")
        time_questions(url, use_rollup=False)
        time_questions(url, use_rollup=True)
        explain_questions(url)


if __name__ == "__main__":
    main()
