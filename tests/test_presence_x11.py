"""Active and foreground time on a real X11 desktop: Xvfb, openbox, real windows, xdotool input.

First the X11 probe on its own, then a real hub and a real node process watching real programs
while the test types, switches the focus, blanks the screen or leaves the keyboard alone.
"""
from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

import pytest

from hub import answers
from hub.storage import open_storage
from node.presence.probe import ProbeUnavailable
from node.presence.source import PresenceSource
from node.presence.x11 import X11Probe
from tests.fakeapps import unique_name
from tests.processes import Mesh
from tests.waiting import wait_for
from tests.xdesktop import Desktop, Window, start_desktop

pytestmark = pytest.mark.timeout(120)

IDLE_AFTER = 2.0


@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    screen = start_desktop(tmp_path_factory.mktemp("desktop"))
    yield screen
    screen.close()


@pytest.fixture
def open_window(desktop: Desktop) -> Iterator[Callable[[str], Window]]:
    """``open_window(name)``: a window of a program called name, closed after the test."""
    opened: list[Window] = []

    def start(name: str) -> Window:
        window = desktop.open_window(name)
        opened.append(window)
        return window

    yield start
    for window in opened:
        window.process.kill()
        window.process.wait()
    desktop.unblank()


@pytest.fixture
def probe(desktop: Desktop) -> Iterator[X11Probe]:
    opened = X11Probe(desktop.display)
    yield opened
    opened.close()


# ---- the probe ----------------------------------------------------------------------------------

def test_input_resets_the_idle_time_and_without_input_it_grows(desktop: Desktop, probe: X11Probe) -> None:
    desktop.unblank()
    desktop.nudge()
    assert probe.read()[None].idle < 1.0
    wait_for(lambda: probe.read()[None].idle > 1.5, 10, "the idle time growing")
    desktop.nudge()
    assert probe.read()[None].idle < 1.0


def test_the_focused_window_gives_its_process(desktop: Desktop, probe: X11Probe, open_window) -> None:
    # xlogo sets no _NET_WM_PID: the process comes from the X-Resource extension.
    first, second = open_window(unique_name("pmx")), open_window(unique_name("pmx"))
    desktop.focus(first)
    assert probe.read()[None].focused_pid == first.pid
    desktop.focus(second)
    reading = probe.read()[None]
    assert (reading.focus_measured, reading.focused_pid) == (True, second.pid)


def test_a_window_that_names_its_process_is_believed(desktop: Desktop, probe: X11Probe, open_window) -> None:
    window, other = open_window(unique_name("pmx")), open_window(unique_name("pmx"))
    desktop.run("xprop", "-id", window.id, "-f", "_NET_WM_PID", "32c", "-set", "_NET_WM_PID", str(other.pid))
    desktop.focus(window)
    assert probe.read()[None].focused_pid == other.pid


def test_a_blanked_screen_reads_as_locked(desktop: Desktop, probe: X11Probe) -> None:
    desktop.unblank()
    assert probe.read()[None].locked is False
    desktop.blank()
    assert probe.read()[None].locked is True
    desktop.unblank()
    assert probe.read()[None].locked is False


def test_a_display_that_is_not_there_is_said_once_and_opened_once_it_is(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    number = next(n for n in range(150, 250) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    now = [0.0]
    source = PresenceSource(lambda: X11Probe(f":{number}"), retry_seconds=60, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="procmesh.node"):
        assert source.read() == {}
        now[0] += 61
        assert source.read() == {}
        said = [r.getMessage() for r in caplog.records if "not measured" in r.getMessage()]
        assert len(said) == 1 and f"cannot open the X display ':{number}'" in said[0]
        server = subprocess.Popen(["Xvfb", f":{number}", "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: Path(f"/tmp/.X11-unix/X{number}").exists(), 20, "the X server up")
            assert source.read() == {}  # not before the retry is due
            now[0] += 61
            wait_for(lambda: source.read() or (now.__setitem__(0, now[0] + 61) or False), 20, "a reading")
            assert any("measuring active and foreground time: X11" in r.getMessage() for r in caplog.records)
        finally:
            source.close()
            server.terminate()
            server.wait(10)


def test_the_probe_of_a_display_without_the_screen_saver_extension_is_unavailable(tmp_path: Path) -> None:
    server = subprocess.Popen(["Xvfb", "-displayfd", "1", "-extension", "MIT-SCREEN-SAVER", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert server.stdout is not None
        display = f":{server.stdout.readline().decode().strip()}"
        with pytest.raises(ProbeUnavailable, match="no MIT-SCREEN-SAVER extension"):
            X11Probe(display)
    finally:
        server.terminate()
        server.wait(10)


# ---- a real hub and node ------------------------------------------------------------------------

def report_rows(mesh: Mesh) -> dict[str, dict]:
    """`procmesh-hub report --by process` as a person runs it, in json."""
    result = mesh.hub_cli("report", "--by", "process", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {row["process"]: row for row in json.loads(result.stdout)}


def usage_rows(mesh: Mesh) -> dict[str, dict]:
    """The same rows through the query layer the report uses, without starting a program each time."""
    with open_storage(mesh.db_url) as storage:
        rows = answers.usage(storage, ["process"], answers.Window(), ZoneInfo("UTC"), time.time())
    return {row.key[0]: {"seconds": row.seconds, "active_seconds": row.active,
                         "foreground_seconds": row.foreground} for row in rows}


def usage_of(mesh: Mesh, label: str) -> dict:
    return usage_rows(mesh).get(label) or {"seconds": 0.0, "active_seconds": 0.0, "foreground_seconds": 0.0}


def measured(mesh: Mesh, label: str, column: str) -> float:
    return usage_of(mesh, label).get(column) or 0.0


@pytest.fixture
def desk_mesh(new_mesh, sqlite_url: str) -> Callable[..., Mesh]:
    def make(*labels: str, idle_after: float = IDLE_AFTER) -> Mesh:
        return new_mesh(sqlite_url, watch="".join(f"{label}\n" for label in labels), idle_after=idle_after)
    return make


def test_a_program_left_open_with_nobody_at_the_keyboard_gains_time_but_no_active_time(
        desktop: Desktop, open_window, desk_mesh, tmp_path: Path) -> None:
    name = unique_name("pmx")
    window = open_window(name)
    mesh = desk_mesh(name)
    mesh.start_hub()
    node = mesh.start_node("x-pc/alice", extra_env=desktop.session)
    desktop.focus(window)
    with desktop.someone_at_the_keyboard():
        wait_for(lambda: measured(mesh, name, "active_seconds") >= 1.5, 30, "active time while someone types")
        desktop.screenshot(tmp_path / "typing.png")
    left = usage_of(mesh, name)
    # Nobody at the keyboard from here on: the program stays open.
    wait_for(lambda: usage_of(mesh, name)["seconds"] >= left["seconds"] + IDLE_AFTER + 1.5, 30, "time going on")
    before = usage_of(mesh, name)
    wait_for(lambda: usage_of(mesh, name)["seconds"] >= before["seconds"] + 1.5, 30, "more time going on")
    after = usage_of(mesh, name)
    assert after["active_seconds"] == before["active_seconds"]
    assert after["foreground_seconds"] == before["foreground_seconds"]
    assert before["foreground_seconds"] > 0
    # Away from the last input on: nothing since the typing stopped turned into active time.
    assert after["active_seconds"] <= left["active_seconds"] + 1.0
    assert after["seconds"] - after["active_seconds"] >= IDLE_AFTER + 2
    # What a person sees: the report with the active column beside a time that grew past it.
    shown = report_rows(mesh)[name]
    assert shown["seconds"] >= after["seconds"] and shown["active_seconds"] == after["active_seconds"]
    table = mesh.hub_cli("report", "--by", "process").stdout.splitlines()
    assert table[0].split()[:5] == ["process", "sessions", "time", "active", "foreground"]
    assert node.stop() == 0


def test_focus_switched_between_two_watched_programs_splits_foreground_time(
        desktop: Desktop, open_window, desk_mesh) -> None:
    editor, viewer = unique_name("pmx"), unique_name("pmx")
    editor_window, viewer_window = open_window(editor), open_window(viewer)
    mesh = desk_mesh(editor, viewer)
    mesh.start_hub()
    mesh.start_node("x-pc/bob", extra_env=desktop.session)
    with desktop.someone_at_the_keyboard():
        desktop.focus(editor_window)
        wait_for(lambda: measured(mesh, editor, "foreground_seconds") >= 1.5, 30, "the editor in front")
        desktop.focus(viewer_window)
        wait_for(lambda: measured(mesh, viewer, "foreground_seconds") >= 1.0, 30, "the viewer in front")
        editor_then = measured(mesh, editor, "foreground_seconds")
        viewer_then = measured(mesh, viewer, "foreground_seconds")
        wait_for(lambda: measured(mesh, viewer, "foreground_seconds") >= viewer_then + 1.5, 30,
                 "the viewer's foreground growing")
    rows = usage_rows(mesh)
    # The editor gained nothing while the viewer had the focus, and one focus never counts twice.
    assert rows[editor]["foreground_seconds"] == editor_then
    assert rows[editor]["foreground_seconds"] + rows[viewer]["foreground_seconds"] <= \
        max(rows[editor]["active_seconds"], rows[viewer]["active_seconds"]) + 0.01
    assert rows[editor]["active_seconds"] > rows[editor]["foreground_seconds"]


def test_a_blanked_screen_stops_active_and_foreground_time_from_the_last_input_on(
        desktop: Desktop, open_window, desk_mesh) -> None:
    name = unique_name("pmx")
    window = open_window(name)
    # Away only by the lock: with idle_after this long, idleness alone would not stop anything.
    mesh = desk_mesh(name, idle_after=60.0)
    mesh.start_hub()
    node = mesh.start_node("x-pc/carol", extra_env=desktop.session)
    desktop.focus(window)
    with desktop.someone_at_the_keyboard():
        wait_for(lambda: measured(mesh, name, "foreground_seconds") >= 1.5, 30, "active time while typing")
    desktop.blank()
    locked = usage_of(mesh, name)
    wait_for(lambda: usage_of(mesh, name)["seconds"] >= locked["seconds"] + 2.5, 30, "time going on, locked")
    # The session closes now, well within idle_after of the last input: only the lock makes its
    # last seconds away.
    assert node.stop() == 0
    final = wait_for(lambda: usage_of(mesh, name) if usage_of(mesh, name)["seconds"] >= locked["seconds"] + 2.5
                     else None, 10, "the final values")
    assert final["active_seconds"] <= locked["active_seconds"] + 1.0
    assert final["foreground_seconds"] <= locked["foreground_seconds"] + 1.0
    assert final["seconds"] - final["active_seconds"] >= 1.5
