"""Each platform module's reading of what its system answers, fed through the real ledger; which
probe a node picks for a system and session; and the Wayland module on a real D-Bus session bus,
where a stand-in answers as GNOME's services do.

The Windows and macOS calls themselves cannot run here: their interpretation is tested, and on
this system their probes must say they cannot measure instead of failing.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from struct import error as struct_error
import threading
from typing import Iterator

import pytest
from jeepney import HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from node.presence import source
from node.presence.ledger import PresenceLedger
from node.presence.macos import MacProbe, frontmost_pid, idle_from_hid, locked_session
from node.presence.probe import ProbeUnavailable, Reading
from node.presence.wayland import WaylandProbe, dbus_reading
from node.presence.windows import (WindowsProbe, WtsProbe, idle_from_ticks, locked_input_desktop,
                                   wts_idle, wts_locked, wts_reading)
from node.presence.x11 import x11_reading
from tests.processes import REPO
from tests.xdesktop import require_desktop_programs

T0 = 1_790_000_000.0
IDLE_AFTER = 10.0
KEY = ("editor", None)
SID = b"s" * 16
WRAP = 1 << 32


def account(readings: dict[float, Reading], end: float, pid_keys: dict[int, frozenset] | None = None):
    """Feed readings taken at T0 + second through the ledger; the final values of a session
    open from T0 to T0 + end."""
    ledger = PresenceLedger(IDLE_AFTER)
    for second, reading in sorted(readings.items()):
        ledger.observe(T0 + second, {None: reading}, lambda pid: (pid_keys or {}).get(pid, frozenset()))
    return ledger.settle(SID, KEY, T0, T0 + end)


# ---- Windows ----------------------------------------------------------------------------------

def test_windows_idle_time_is_right_across_the_tick_counter_wrap() -> None:
    assert idle_from_ticks(5_000, WRAP - 10_000) == 15.0
    assert idle_from_ticks(WRAP - 1, WRAP - 1_001) == 1.0
    assert idle_from_ticks(0, 0) == 0.0


def test_windows_input_before_the_wrap_and_none_after_is_away_from_that_input() -> None:
    # The counter wraps 20 s into the session; the last input was 5 s before the wrap.
    start_tick, last_input = WRAP - 20_000, WRAP - 5_000

    def reading(second: int) -> Reading:
        now_tick = (start_tick + second * 1000) % WRAP
        last = min(now_tick if now_tick >= start_tick else now_tick + WRAP, last_input) % WRAP
        return Reading(idle_from_ticks(now_tick, last), locked_input_desktop("Default"), True, 7)

    assert account({s: reading(s) for s in range(0, 61, 5)}, 60, {7: frozenset({KEY})}) == (15.0, 15.0)


def test_windows_lock_screen_and_secure_desktops_are_locked() -> None:
    assert locked_input_desktop("Default") is False
    assert locked_input_desktop("default") is False
    assert locked_input_desktop("Winlogon") is True
    assert locked_input_desktop(None) is True   # the input desktop could not even be opened


def test_wts_sessions_without_a_last_input_time_are_not_measured() -> None:
    assert wts_idle(current=133_000_000_000_000_000, last_input=0) is None
    assert wts_idle(current=133_000_000_300_000_000, last_input=133_000_000_000_000_000) == 30.0
    assert wts_reading(1, 133_000_000_000_000_000, 0, (10, 0)) is None


def test_wts_lock_flags_are_inverted_on_windows_7() -> None:
    assert wts_locked(0, (10, 0)) is True and wts_locked(1, (10, 0)) is False
    assert wts_locked(0, (6, 1)) is False and wts_locked(1, (6, 1)) is True
    assert wts_locked(-1, (10, 0)) is None


def test_wts_readings_give_active_time_but_no_foreground() -> None:
    filetime = 133_000_000_000_000_000
    readings = {s: wts_reading(1, filetime + s * 10_000_000, filetime + min(s, 20) * 10_000_000, (10, 0))
                for s in range(0, 41, 5)}
    assert account(readings, 40) == (20.0, None)


# ---- macOS ------------------------------------------------------------------------------------

def test_macos_hid_idle_time_is_in_nanoseconds() -> None:
    assert idle_from_hid(2_500_000_000) == 2.5


def test_macos_lock_comes_from_the_login_session() -> None:
    assert locked_session({"CGSSessionScreenIsLocked": True}) is True
    assert locked_session({"kCGSSessionOnConsoleKey": True}) is False
    assert locked_session(None) is True


def test_macos_frontmost_application_is_the_owner_of_the_first_normal_window() -> None:
    windows = [{"kCGWindowLayer": 25, "kCGWindowOwnerPID": 90},   # the menu bar's status items
               {"kCGWindowLayer": 0, "kCGWindowOwnerPID": 412},
               {"kCGWindowLayer": 0, "kCGWindowOwnerPID": 77}]
    assert frontmost_pid(windows) == 412
    assert frontmost_pid([{"kCGWindowLayer": 25, "kCGWindowOwnerPID": 90}]) is None


def test_macos_readings_through_the_ledger() -> None:
    focused = [{"kCGWindowLayer": 0, "kCGWindowOwnerPID": 412}]
    # Input at every scan until 50 s, the last ones at the lock screen, which locked at 45 s.
    readings = {s: Reading(idle_from_hid(max(0, s - 50) * 1_000_000_000),
                           locked_session({"CGSSessionScreenIsLocked": s >= 45}), True, frontmost_pid(focused))
                for s in range(0, 56, 5)}
    assert account(readings, 55, {412: frozenset({KEY})}) == (40.0, 40.0)


# ---- X11 and D-Bus readings ---------------------------------------------------------------------

def test_x11_screen_saver_on_or_cycling_is_locked() -> None:
    assert x11_reading(1500, 0, True, 5) == Reading(1.5, False, True, 5)
    assert x11_reading(1500, 1, True, 5).locked is True
    assert x11_reading(1500, 2, True, 5).locked is True


def test_x11_readings_through_the_ledger() -> None:
    readings = {s: x11_reading(0 if s <= 20 else (s - 20) * 1000, 0, True, 5) for s in range(0, 61, 5)}
    assert account(readings, 60, {5: frozenset({KEY})}) == (20.0, 20.0)


def test_dbus_idle_monitors_in_milliseconds_and_in_seconds() -> None:
    assert dbus_reading(4500, 0.001, False) == Reading(4.5, False, False, None)
    assert dbus_reading(7, 1.0, True) == Reading(7.0, True, False, None)
    readings = {s: dbus_reading(0 if s <= 20 else (s - 20) * 1000, 0.001, False) for s in range(0, 61, 5)}
    assert account(readings, 60) == (20.0, None)


# ---- which probe ------------------------------------------------------------------------------

@pytest.mark.parametrize("system, scope, environ, chosen", [
    ("Windows", "user", {}, WindowsProbe),
    ("Windows", "all", {}, WtsProbe),
    ("Darwin", "user", {}, MacProbe),
    ("Linux", "user", {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, WaylandProbe),
])
def test_each_system_and_session_gets_its_probe(system: str, scope: str, environ: dict, chosen: type) -> None:
    assert source.probe_opener(scope, system, environ) is chosen


def test_an_x11_session_gets_the_x11_probe_of_its_display() -> None:
    opener = source.probe_opener("user", "Linux", {"DISPLAY": ":93"})
    with pytest.raises(ProbeUnavailable, match="cannot open the X display ':93'"):
        opener()


@pytest.mark.parametrize("system, scope, environ, why", [
    ("Linux", "user", {}, "neither DISPLAY nor WAYLAND_DISPLAY is set"),
    ("Linux", "all", {"DISPLAY": ":0"}, 'scope = "all" on Linux cannot tell each user'),
    ("Darwin", "all", {}, 'scope = "all" on Darwin cannot tell each user'),
])
def test_a_node_that_cannot_measure_says_why(system: str, scope: str, environ: dict, why: str) -> None:
    with pytest.raises(ProbeUnavailable, match=why):
        source.probe_opener(scope, system, environ)()


def test_the_macos_module_type_checks_against_the_macos_stubs(tmp_path: Path) -> None:
    # The Windows module is checked with the other Windows-only ones (test_windows_modules.py).
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--platform", "darwin", "--python-version", "3.10",
         "--follow-imports=silent", "--cache-dir", str(tmp_path), "--check-untyped-defs",
         "node/presence/macos.py"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("probe", [WindowsProbe, WtsProbe, MacProbe])
def test_probes_of_other_systems_say_they_cannot_measure_here(probe: type) -> None:
    with pytest.raises(ProbeUnavailable):
        probe()


# ---- the Wayland probe on a real session bus ----------------------------------------------------

@pytest.fixture
def session_bus() -> Iterator[str]:
    require_desktop_programs(("dbus-daemon",))
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert daemon.stdout is not None
    try:
        yield daemon.stdout.readline().strip()
    finally:
        daemon.terminate()
        daemon.wait(10)


class StandInDesktop(threading.Thread):
    """Answers on the bus under the names and with the methods of a desktop's services."""

    def __init__(self, address: str, answers: dict[tuple[str, str], tuple[str, object]]) -> None:
        super().__init__(daemon=True)
        self.answers = dict(answers)   # (interface, member) -> (signature, value)
        self._bus = open_dbus_connection(address)
        for interface in {interface for interface, _ in answers}:
            self._bus.send_and_get_reply(message_bus.RequestName(interface), timeout=5)
        self._finished = threading.Event()

    def run(self) -> None:
        while not self._finished.is_set():
            try:
                call = self._bus.receive(timeout=0.05)
            except TimeoutError:
                continue
            if call.header.message_type != MessageType.method_call:
                continue
            wanted = (call.header.fields.get(HeaderFields.interface), call.header.fields[HeaderFields.member])
            if wanted in self.answers:
                signature, value = self.answers[wanted]
                self._bus.send(new_method_return(call, signature, (value,)))
            else:
                self._bus.send(new_error(call, "org.freedesktop.DBus.Error.UnknownMethod"))

    def stop(self) -> None:
        self._finished.set()
        self.join(5)
        self._bus.close()


@pytest.fixture
def stand_in(session_bus: str) -> Iterator:
    started: list[StandInDesktop] = []

    def start(answers: dict) -> DBusConnection:
        desktop = StandInDesktop(session_bus, answers)
        desktop.start()
        started.append(desktop)
        return open_dbus_connection(session_bus)

    yield start
    for desktop in started:
        desktop.stop()


@pytest.mark.parametrize("answers, source, reading", [
    ({("org.gnome.Mutter.IdleMonitor", "GetIdletime"): ("t", 4500),
      ("org.gnome.ScreenSaver", "GetActive"): ("b", False)},
     "org.gnome.Mutter.IdleMonitor", Reading(4.5, False, False, None)),
    ({("org.freedesktop.ScreenSaver", "GetSessionIdleTime"): ("u", 7),
      ("org.freedesktop.ScreenSaver", "GetActive"): ("b", True)},
     "org.freedesktop.ScreenSaver", Reading(7.0, True, False, None)),
], ids=["gnome", "freedesktop"])
def test_a_desktop_idle_monitor_gives_idle_time_and_lock_state(stand_in, answers: dict, source: str,
                                                               reading: Reading) -> None:
    probe = WaylandProbe(stand_in(answers))
    try:
        assert source in probe.description
        assert probe.read() == {None: reading}
    finally:
        probe.close()


def test_a_desktop_without_an_idle_monitor_cannot_be_measured(session_bus: str) -> None:
    with pytest.raises(ProbeUnavailable, match="offers no idle time over D-Bus"):
        WaylandProbe(open_dbus_connection(session_bus))


def test_a_probe_that_fails_unexpectedly_leaves_the_scans_going(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        description = "a probe that breaks"
        reads = 0

        def read(self):
            Broken.reads += 1
            raise struct_error("unpack requires a buffer of 32 bytes")

        def close(self) -> None:
            raise RuntimeError("already gone")

    now = [0.0]
    presence = source.PresenceSource(Broken, retry_seconds=60, clock=lambda: now[0])
    assert presence.read() == {} and presence.read() == {}
    assert Broken.reads == 1   # the next attempt waits for the retry
    now[0] += 61
    assert presence.read() == {} and Broken.reads == 2
    said = [r.getMessage() for r in caplog.records if "not measured" in r.getMessage()]
    assert said == ["active and foreground time are not measured (stored as unknown): the probe failed "
                    "unexpectedly: error: unpack requires a buffer of 32 bytes"]
