"""Node scan benchmark: CPU time of one Scanner.scan(), and of a whole scan tick (scan, session
tracker, outbox write), against a bare psutil loop; and of the tick with the presence probe (the
desktop's idle time, lock and focused window, and their accounting) against the tick without; same
run.

Starts EXTRA unwatched filler processes and MATCHING watched ones (copies of sleep named
"fillerapp" and "chrome", as a browser runs many processes) so the machine looks like a busy desktop, then
alternates the loops so all see the same machine. The presence probe reads a desktop of its own
(Xvfb with openbox and a focused window of a watched program) when Xvfb is installed. Also starts a
real ``python -m node`` against a throwaway hub, without a desktop and on that desktop, and reports
its resident memory after a few scans.

    python bench/node_scan.py                  # 500 extra + 20 matching processes, 50 rounds
    python bench/node_scan.py --extra 20 --matching 2 --rounds 5     # smoke size (CI)
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psutil

from harness import bench_env, start_hub
from common.watchlist import Matcher, parse_watchlist
from node.clock import Clock
from node.outbox import Outbox
from node.presence.ledger import PresenceLedger
from node.presence.x11 import X11Probe
from node.scanner import Scanner
from node.sessions import SessionTracker
from tests.xdesktop import PROGRAMS, Desktop, start_desktop

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


def node_tick(scanner: Scanner, outbox_path: Path, desktop: Desktop | None = None):
    """What a node does at each tick besides sending: scan, update its sessions, write its outbox;
    with a desktop, also read it and account for what it says, as a node there does."""
    probe = X11Probe(desktop.display) if desktop is not None else None
    ledger = PresenceLedger(300.0) if probe is not None else None
    clock, tracker, outbox = Clock(), SessionTracker(30.0, presence=ledger), Outbox(outbox_path)

    def tick() -> None:
        at = clock.read()
        readings = probe.read() if probe is not None else {}
        tracker.observe(at, scanner.scan(), readings)
        outbox.save(tracker.changes())

    return tick


def open_desktop(folder: Path, cleanup: ExitStack) -> Desktop | None:
    """A virtual screen with a focused window of a watched program, or None without Xvfb; closed
    (Xvfb, openbox, the window) with ``cleanup``."""
    if any(shutil.which(name) is None for name in PROGRAMS):
        return None
    (folder / "desktop").mkdir()
    try:
        desktop = cleanup.enter_context(start_desktop(folder / "desktop"))
        desktop.focus(desktop.open_window("chrome"))
    except (AssertionError, OSError, subprocess.SubprocessError) as exc:
        raise SystemExit(f"node_scan: no virtual desktop to measure the presence probe on: {exc}") from None
    return desktop


def start_processes(folder: Path, counts: dict[str, int], cleanup: ExitStack) -> None:
    """``count`` copies of sleep named ``name`` for each item, killed with ``cleanup``."""
    procs: list[subprocess.Popen[bytes]] = []

    def kill_all() -> None:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()

    cleanup.callback(kill_all)
    for name, count in counts.items():
        program = folder / name
        shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
        # Not on the benchmark's own output: whoever reads it is not kept waiting by a copy of sleep.
        procs += [subprocess.Popen([str(program), "600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL) for _ in range(count)]


def node_rss(folder: Path, desktop: Desktop | None, scans: int = 3) -> float:
    """Resident MB of a real node process after a few scans at a short interval; without a desktop
    it has none to measure."""
    (folder / "watch.txt").write_text(WATCH)
    hub = start_hub(folder, f"sqlite:///{folder / 'h.db'}", folder / "watch.txt", "--interval", "0.5")
    try:
        env = {**bench_env(folder), "DISPLAY": "", "WAYLAND_DISPLAY": "", **(desktop.session if desktop else {})}
        node = subprocess.Popen([sys.executable, "-m", "node", "--config-endpoint", hub.config_endpoint,
                                 "--report-endpoint", hub.report_endpoint, "--node-id", "bench-rss",
                                 "--log-level", "WARNING"], env=env, cwd=folder, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0 + scans * 0.5)
            return psutil.Process(node.pid).memory_info().rss / 2**20
        finally:
            node.terminate()
            try:
                node.wait(15)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
    finally:
        hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extra", type=int, default=500, help="filler processes to start")
    parser.add_argument("--matching", type=int, default=20, help="watched processes to start")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as cleanup:
        folder = Path(tmp)
        start_processes(folder, {"fillerapp": args.extra, "chrome": args.matching}, cleanup)
        desktop = open_desktop(folder, cleanup)
        scanner = Scanner(Matcher(parse_watchlist(WATCH)), "user")
        tick = node_tick(scanner, folder / "outbox.sqlite")
        probed = node_tick(scanner, folder / "outbox-presence.sqlite", desktop) if desktop else tick
        scanner.scan()
        bare_loop()
        tick()
        probed()
        bare, ours, ticks, probed_ticks = [], [], [], []
        for _ in range(args.rounds):
            bare.append(cpu_of(bare_loop))
            ours.append(cpu_of(scanner.scan))
            ticks.append(cpu_of(tick))
            probed_ticks.append(cpu_of(probed))
        count = len(psutil.pids())
        rss = node_rss(folder, None)
        rss_presence = node_rss(folder, desktop) if desktop is not None else None
    b, o, t, p = (statistics.median(values) for values in (bare, ours, ticks, probed_ticks))
    print(f"processes on the machine      {count}")
    print(f"bare process_iter(['name'])   {b * 1000:8.2f} ms CPU per scan (median of {args.rounds})")
    print(f"node Scanner.scan()           {o * 1000:8.2f} ms CPU per scan   ratio {o / b:.2f}")
    print(f"node tick (+sessions, outbox) {t * 1000:8.2f} ms CPU per scan   ratio {t / b:.2f}")
    if desktop is None:
        print("tick + presence probe         not measured: Xvfb, openbox, xdotool or xlogo is missing")
    else:
        print(f"tick + presence probe         {p * 1000:8.2f} ms CPU per scan   ratio to the tick {p / t:.2f}"
              f"   (X11 on Xvfb {desktop.display})")
    print(f"node process RSS              {rss:8.1f} MB   (no desktop to measure)")
    if rss_presence is not None:
        print(f"node process RSS              {rss_presence:8.1f} MB   (measuring presence on Xvfb)")


if __name__ == "__main__":
    main()
