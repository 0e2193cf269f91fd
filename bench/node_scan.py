"""Node scan benchmark: CPU time of one Scanner.scan() against a bare psutil loop, same run.

Starts EXTRA unwatched filler processes and MATCHING watched ones (copies of sleep named
"fillerapp" and "chrome", as a browser runs many processes) so the machine looks like a busy desktop, then
alternates the two loops so both see the same machine. Also starts a real ``python -m node`` against
a throwaway hub and reports its resident memory after a few scans.

    python bench/node_scan.py                  # 500 extra + 20 matching processes, 50 rounds
    python bench/node_scan.py --extra 20 --matching 2 --rounds 5     # smoke size (CI)
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common.watchlist import Matcher, parse_watchlist  # noqa: E402
from node.scanner import Scanner  # noqa: E402

WATCH = """\
chrome.exe
msedge.exe
firefox
Office = winword, excel, powerpnt
vscode = code
Adobe = acrobat*, photoshop*
jetbrains = re:(idea|pycharm|clion)(64)?([.]exe)?
"""


def cpu_of(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def bare_loop() -> None:
    for proc in psutil.process_iter(["name"]):
        proc.info["name"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_rss(folder: Path, scans: int = 3) -> float:
    """Resident MB of a real node process after a few scans at a short interval."""
    config_ep, report_ep = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    (folder / "watch.txt").write_text(WATCH)
    # The node's lock file goes to the scratch folder, not the benchmarking user's data folder.
    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_DATA_HOME=str(folder))
    common = ["--config-endpoint", config_ep, "--report-endpoint", report_ep]
    hub = subprocess.Popen([sys.executable, "-m", "hub", "run", "--db", f"sqlite:///{folder / 'h.db'}",
                            "--watch", str(folder / "watch.txt"), "--interval", "0.5", *common,
                            "--log-level", "WARNING"], env=env, cwd=folder,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = subprocess.Popen([sys.executable, "-m", "node", *common, "--node-id", "bench-rss",
                             "--log-level", "WARNING"], env=env, cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2.0 + scans * 0.5)
        return psutil.Process(node.pid).memory_info().rss / 2**20
    finally:
        for proc in (node, hub):
            proc.terminate()
            proc.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extra", type=int, default=500, help="filler processes to start")
    parser.add_argument("--matching", type=int, default=20, help="watched processes to start")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        procs = []
        for name, count in (("fillerapp", args.extra), ("chrome", args.matching)):
            program = folder / name
            shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
            procs += [subprocess.Popen([str(program), "600"]) for _ in range(count)]
        try:
            scanner = Scanner(Matcher(parse_watchlist(WATCH)), "user")
            scanner.scan()
            bare_loop()
            bare, ours = [], []
            for _ in range(args.rounds):
                bare.append(cpu_of(bare_loop))
                ours.append(cpu_of(scanner.scan))
            count = len(psutil.pids())
            rss = node_rss(folder)
        finally:
            for proc in procs:
                proc.kill()
            for proc in procs:
                proc.wait()
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"processes on the machine      {count}")
    print(f"bare process_iter(['name'])   {b * 1000:8.2f} ms CPU per scan (median of {args.rounds})")
    print(f"node Scanner.scan()           {o * 1000:8.2f} ms CPU per scan   ratio {o / b:.2f}")
    print(f"node process RSS              {rss:8.1f} MB")


if __name__ == "__main__":
    main()
