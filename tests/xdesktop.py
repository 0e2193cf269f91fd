"""A real X11 desktop for tests: Xvfb, the openbox window manager (which keeps _NET_ACTIVE_WINDOW),
windows of real X programs started under chosen names, and xdotool for the keyboard and mouse.

The programs come from Debian packages (xvfb, openbox, xdotool, x11-apps, x11-xserver-utils and
imagemagick for screenshots; dbus-daemon for a session bus); `.ci/run` installs them. Without them the tests that need a desktop
are skipped, unless PROCMESH_REQUIRE_DESKTOP=1 (as CI sets it) makes that a failure.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from tests.waiting import wait_for

PROGRAMS = ("Xvfb", "openbox", "xdotool", "xset", "xprop", "xlogo")
# A small X program whose copy, under a watched name, gives a real window of a real process.
WINDOW_PROGRAM = "xlogo"


def require_desktop_programs(programs: tuple[str, ...] = PROGRAMS) -> None:
    missing = [name for name in programs if shutil.which(name) is None]
    if not missing:
        return
    reason = (f"needs {', '.join(missing)} (Debian: xvfb openbox xdotool x11-apps x11-xserver-utils "
              "x11-utils dbus-daemon)")
    if os.environ.get("PROCMESH_REQUIRE_DESKTOP") == "1":
        pytest.fail(reason + " (PROCMESH_REQUIRE_DESKTOP=1)")
    pytest.skip(reason)


@dataclass
class Window:
    process: subprocess.Popen
    id: str

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Desktop:
    display: str
    folder: Path
    children: list[subprocess.Popen] = field(default_factory=list)

    @property
    def session(self) -> dict[str, str]:
        """The variables of a program in this desktop session (and no Wayland session of the tester's)."""
        return {"DISPLAY": self.display, "WAYLAND_DISPLAY": ""}

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.session}

    def run(self, *args: str) -> str:
        result = subprocess.run(args, env=self.env(), capture_output=True, text=True, timeout=20)
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return result.stdout

    def start(self, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(args, env=self.env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.children.append(proc)
        return proc

    def open_window(self, name: str) -> Window:
        """Run a copy of a small X program called ``name`` and wait for its window."""
        exe = self.folder / name
        if not exe.exists():
            shutil.copy2(shutil.which(WINDOW_PROGRAM) or WINDOW_PROGRAM, exe)
        proc = self.start(str(exe))

        def window_id() -> str:
            # By its title: xlogo names its window after the program, and sets no _NET_WM_PID.
            found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{name}$"],
                                   env=self.env(), capture_output=True, text=True, timeout=10)
            return found.stdout.split()[0] if found.stdout.split() else ""

        return Window(proc, wait_for(window_id, 30, f"a window of {name}"))

    def focus(self, window: Window) -> None:
        self.run("xdotool", "windowactivate", "--sync", window.id)
        wait_for(lambda: window.id in self.run("xdotool", "getactivewindow"), 10, "the window focused")

    def nudge(self) -> None:
        """One bit of input, as a person moving the mouse a pixel and back and pressing Shift."""
        self.run("xdotool", "mousemove_relative", "--", "1", "1", "mousemove_relative", "--", "-1", "-1",
                 "key", "shift")

    @contextmanager
    def someone_at_the_keyboard(self, every: float = 0.2) -> Iterator[None]:
        """Input several times a second until the block ends."""
        stop = threading.Event()

        def keep_busy() -> None:
            while not stop.is_set():
                self.nudge()
                stop.wait(every)

        worker = threading.Thread(target=keep_busy, daemon=True)
        worker.start()
        try:
            yield
        finally:
            stop.set()
            worker.join(10)

    def blank(self) -> None:
        """Blank the screen as a screen locker does (the X screen saver, until the next input)."""
        self.run("xset", "s", "activate")

    def unblank(self) -> None:
        self.run("xset", "s", "reset")

    def screenshot(self, path: Path) -> None:
        """The whole screen as a PNG, to look at when a test does not do what it should."""
        if shutil.which("import"):
            self.run("import", "-window", "root", str(path))

    def root_number(self, name: str) -> int | None:
        """The root window's CARDINAL property ``name``, or None while nobody has set it."""
        # xprop prints "NAME(CARDINAL) = 4", or "NAME:  not found." before it is set.
        value = self.run("xprop", "-root", name).partition(" = ")[2].strip()
        return int(value) if value.isdigit() else None

    def __enter__(self) -> Desktop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for proc in reversed(self.children):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.children:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_desktop(folder: Path) -> Desktop:
    """Xvfb on a display number it picks itself, and openbox on it, ready for windows."""
    require_desktop_programs()
    server = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    assert server.stdout is not None
    number = server.stdout.readline().strip()
    desktop = Desktop(f":{number.decode()}", folder, [server])
    try:
        assert number, "Xvfb did not start"
        desktop.start("openbox", "--sm-disable")
        wait_for_the_window_manager(desktop)
    except BaseException:
        desktop.close()
        raise
    return desktop


def wait_for_the_window_manager(desktop: Desktop) -> None:
    """Return once openbox handles requests in its main loop, so a window opened next is shown.

    openbox publishes _NET_SUPPORTING_WM_CHECK and _NET_NUMBER_OF_DESKTOPS before it has finished
    starting (theme, menus). A request that reaches it in between -- a window's map request, a
    client message -- is read into its X library's queue and waits there until some later event
    wakes it: the window stays unmapped and unmanaged (8 windows of 10 opened as soon as
    _NET_SUPPORTING_WM_CHECK appeared, 12 of 15 with the CPUs busy). So ready means: it has
    answered a request. The request (a number of desktops other than its own) is sent again at
    every poll, and each one also wakes an openbox that holds an earlier one.
    """
    own = wait_for(lambda: desktop.root_number("_NET_NUMBER_OF_DESKTOPS"), 30, "openbox managing the screen")
    wanted = 2 if own == 1 else 1

    def answered() -> bool:
        if desktop.root_number("_NET_NUMBER_OF_DESKTOPS") == wanted:
            return True
        desktop.run("xdotool", "set_num_desktops", str(wanted))
        return False

    wait_for(answered, 30, "openbox answering requests", interval=0.25)
