"""Report growth benchmark: a year of sessions from 1,000 nodes in MariaDB, then every question of
the answers as a person asks it.

Creates the hub's tables with ``procmesh-hub init-db``, generates ``--rows`` sessions (default
5,000,000) for ``--nodes`` nodes over ``--days`` days ending now (day by day, so ids and
session ids grow with time as the hub stores them) and loads them with LOAD DATA LOCAL INFILE.
Then it brings the roll-up up to date with ``procmesh-hub rollup`` (``--rebuild``: computes it
anew) and prints how long that took, and times each question (report by lab and day, by hour of
the week, a year by month and program, peaks, unused, now) in the same run three ways: the real
``procmesh-hub`` command as a subprocess (Python start-up included, from compiled bytecode as an
installed hub; answered from the roll-up), the same answer in process from the roll-up, and in
process from the raw sessions alone. It checks that the two answers are the same and prints the
query plan (EXPLAIN) of every statement the roll-up answer ran.

    python bench/report_growth.py                                  # 5 million rows, scratch database
    python bench/report_growth.py --database procmesh_growth       # keep it (loaded once) for reruns
    python bench/report_growth.py --rows 20000 --nodes 20 --days 30    # smoke size (CI)
"""
from __future__ import annotations

import argparse
import compileall
import contextlib
import itertools
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import astuple
from pathlib import Path
from typing import Callable, Iterator, Sequence
from zoneinfo import ZoneInfo

from harness import DEFAULT_MARIADB, REPO, ScratchMariaDB, bench_env, create_database, mariadb_connect
from common.ids import new_sid
from hub.answers import Window, parse_labs, parse_licenses, usage
from hub.answers.inventory import running_now, unused
from hub.answers.peak import peaks
from hub.answers.zone import resolve_zone
from hub.storage import NodeRow, Storage, StorageError, open_storage
from hub.storage.timefmt import to_text

LABELS = ["chrome", "firefox", "msedge", "Office", "vscode", "jetbrains", "Adobe", "matlab", "rstudio",
          "spss", "autocad", "solidworks", "gimp", "inkscape", "blender", "unity", "eclipse", "putty",
          "teams", "zoom", "vlc", "7zip", "notepad++", "python", "jupyter"]
# Zipf-like: the browser and the office suite dominate, the long tail is seldom used.
WEIGHTS = [1 / (rank + 1) for rank in range(len(LABELS))]
USERS_PER_COMPUTER = 4
CHUNK_ROWS = 500_000



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


def run_cli(url: str, args: Sequence[str], folder: Path) -> tuple[float, int]:
    """Wall time of ``procmesh-hub ARGS`` (its table, as a person runs it) and its line count."""
    t0 = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "hub", *args, "--db", url],
                            cwd=folder, env=bench_env(folder), capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"procmesh-hub {' '.join(args)} failed:\n{result.stderr}")
    return elapsed, len(result.stdout.splitlines())


LAB_LINES = "\n".join(f"Lab {n} = lab-pc{n:02d}??" for n in range(100))
LABS = parse_labs(LAB_LINES)
# Fewer than the peaks of the data set: peak reads the time over them too.
LICENSE_LINES = "matlab = 25\nOffice = 40"
LICENSES = parse_licenses(LICENSE_LINES)
WATCHED = LABELS + ["never-used"]
DAY = 86_400
Answer = Callable[[Storage, ZoneInfo, float, bool], list]
# (procmesh-hub arguments, the same question in process: answer(storage, zone, now, use_rollup))
QUESTIONS: tuple[tuple[list[str], Answer], ...] = (
    (["report", "--since", "30d", "--by", "lab,day"],
     lambda st, z, now, roll: usage(st, ["lab", "day"], Window(now - 30 * DAY), z, now, LABS, use_rollup=roll)),
    (["report", "--since", "30d", "--by", "weekday,hour"],
     lambda st, z, now, roll: usage(st, ["weekday", "hour"], Window(now - 30 * DAY), z, now, use_rollup=roll)),
    (["report", "--since", "30d", "--by", "lab,weekday,hour"],
     lambda st, z, now, roll: usage(st, ["lab", "weekday", "hour"], Window(now - 30 * DAY), z, now, LABS,
                                    use_rollup=roll)),
    (["report", "--since", "365d", "--by", "month,process"],
     lambda st, z, now, roll: usage(st, ["month", "process"], Window(now - 365 * DAY), z, now, use_rollup=roll)),
    (["report", "--since", "30d", "--by", "process"],
     lambda st, z, now, roll: usage(st, ["process"], Window(now - 30 * DAY), z, now, use_rollup=roll)),
    (["report", "--since", "7d"],
     lambda st, z, now, roll: usage(st, ["computer", "user", "process"], Window(now - 7 * DAY), z, now,
                                    use_rollup=roll)),
    (["peak", "--since", "30d", "--per", "day"],
     lambda st, z, now, roll: peaks(st, Window(now - 30 * DAY), z, now, "day", licenses=LICENSES,
                                    use_rollup=roll)),
    (["peak", "--since", "365d", "--per", "month"],
     lambda st, z, now, roll: peaks(st, Window(now - 365 * DAY), z, now, "month", licenses=LICENSES,
                                    use_rollup=roll)),
    # unused and now have no raw variant: they read no more than they must either way.
    (["unused", "--days", "90"], lambda st, z, now, roll: unused(st, WATCHED, 90, z, now)[0]),
    (["now"], lambda st, z, now, roll: running_now(st, now, 5.0, LABS)[0]),
)


def comparable(rows: list) -> list:
    """Rows to compare: sorted, seconds to the millisecond (sums in another order differ in the last bits)."""
    return sorted(tuple(round(v, 3) if isinstance(v, float) else v for v in astuple(row)) for row in rows)


def recorded(storage: Storage) -> list[tuple[str, list]]:
    """Record the statements ``storage.read`` runs from now on (the plans the bench prints)."""
    seen: list[tuple[str, list]] = []
    original = storage.read

    def read(sql: str, params: Sequence) -> list[tuple]:
        seen.append((sql, list(params)))
        return original(sql, params)
    storage.read = read   # type: ignore[method-assign]
    return seen


def print_plans(storage: Storage, statements: list[tuple[str, list]]) -> None:
    shown: set[str] = set()
    for sql, params in statements:
        if sql in shown or "rollup_state" in sql or "rollup_dirty" in sql:
            continue
        shown.add(sql)
        tables = ", ".join(dict.fromkeys(re.findall(r"\b(records|nodes|rollup_[a-z_]+)\b", sql)))
        print(f"      EXPLAIN of a statement on {tables}: {sql[:70]} ...")
        for row in storage.read("EXPLAIN " + sql, params):
            # id, select_type, table, type, key, rows, Extra
            print("        " + " | ".join("" if v is None else str(v) for v in (*row[:4], row[5], row[8], row[9])))


def compile_checkout() -> None:
    """Commands are timed as an installed hub runs them, from bytecode (pip writes it at install);
    a checkout run with PYTHONDONTWRITEBYTECODE=1 would compile every module of the hub at every
    start (0.15 s of each command on the development machine)."""
    for package in ("common", "hub"):
        compileall.compile_dir(REPO / package, quiet=1)


def time_questions(url: str, folder: Path, only: str) -> None:
    """Each question (whose command contains ``only``): the command twice, then in process from the
    roll-up and from raw sessions."""
    zone = resolve_zone("")
    print(f"  question (zone {zone.key})                     command, again    | in process: roll-up, raw")
    for args, ask in QUESTIONS:
        if only not in " ".join(args):
            continue
        first, lines = run_cli(url, args, folder)
        second, _ = run_cli(url, args, folder)
        with open_storage(url, create=False) as storage:
            # Raw answers over a year build temporary tables of hundreds of MB; on disk they are
            # files in the server's /tmp, which this shared test machine cleans while they run.
            storage.read("SET SESSION max_heap_table_size = 4294967296, tmp_table_size = 4294967296", [])
            now = time.time()
            statements = recorded(storage)
            t0 = time.perf_counter()
            rolled_rows = ask(storage, zone, now, True)
            t1 = time.perf_counter()
            plans = list(statements)
            try:
                raw_rows = ask(storage, zone, now, False)
                t2 = time.perf_counter()
                raw = f"{t2 - t1:6.2f} s"
                same = "same answer" if comparable(rolled_rows) == comparable(raw_rows) else "ANSWERS DIFFER"
            except StorageError as exc:
                # The raw answer to a year is minutes of work for the server: say why it has no figure.
                raw, same = "failed", f"raw answer failed after {time.perf_counter() - t1:.0f} s: {exc}"
            print(f"  procmesh-hub {' '.join(args):38s} {first:6.2f} s, again {second:6.2f} s | "
                  f"{t1 - t0:6.2f} s, raw {raw}   ({len(rolled_rows)} rows, {same})", flush=True)
            print_plans(storage, plans)


def add_nodes(url: str, nodes: int) -> None:
    """The nodes of the data set, online now (as the hub writes them): what now reads."""
    seen = time.time()
    rows = [NodeRow(f"lab-pc{n // USERS_PER_COMPUTER:04d}/u{n:05d}", f"lab-pc{n // USERS_PER_COMPUTER:04d}",
                    f"u{n:05d}", "10.0.0.1", "Windows", "bench", "bench", seen, True, 5.0) for n in range(nodes)]
    with open_storage(url, create=False) as storage:
        storage.write([], rows)


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
    parser.add_argument("--only", default="", metavar="TEXT", help="only the questions whose command has TEXT")
    parser.add_argument("--rebuild", action="store_true", help="compute the roll-up anew (procmesh-hub rollup "
                        "--rebuild), not only bring it up to date")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args.mariadb_server, args.database) as url:
        folder = Path(tmp)
        (folder / "monitorProcesses.txt").write_text("\n".join(WATCHED) + "\n")
        (folder / "labs.txt").write_text(LAB_LINES + "\n")
        (folder / "licenses.txt").write_text(LICENSE_LINES + "\n")
        subprocess.run([sys.executable, "-m", "hub", "init-db", "--db", url], cwd=folder, env=bench_env(folder),
                       check=True, capture_output=True)
        print(f"== report growth: {args.nodes} nodes ({USERS_PER_COMPUTER} users on each computer), {args.days} days")
        if count_rows(url) == 0:
            t0 = time.perf_counter()
            loaded = load(url, sessions(args.nodes, args.days, args.rows), folder)
            elapsed = time.perf_counter() - t0
            print(f"  generated and loaded {loaded:,} rows in {elapsed:.0f} s ({loaded / elapsed:,.0f} rows/s)")
        print(f"  rows in records: {count_rows(url):,}")
        add_nodes(url, args.nodes)
        command = ["rollup", "--rebuild"] if args.rebuild else ["rollup"]
        t0 = time.perf_counter()
        built = subprocess.run([sys.executable, "-m", "hub", *command, "--db", url], cwd=folder,
                               env=bench_env(folder), capture_output=True, text=True, check=True)
        print(f"  procmesh-hub {' '.join(command)}: {built.stdout.strip()} in {time.perf_counter() - t0:.0f} s")
        compile_checkout()
        time_questions(url, folder, args.only)


if __name__ == "__main__":
    main()
