"""Real processes under chosen names, for tests that need psutil to find a "program"."""
from __future__ import annotations

import secrets
import shutil
import subprocess
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pytest

LONG_ENOUGH = "3600"  # seconds; every test stops its fake apps long before


def unique_name(prefix: str = "pmfake") -> str:
    """A process name no other process on the machine has; 15 characters, as Linux keeps in full."""
    return f"{prefix}_{secrets.token_hex(4)}"


def start_fake_app(tmp_path: Path, name: str, duration: str = LONG_ENOUGH) -> subprocess.Popen:
    """Run a copy of `sleep` called `name`, so the process list shows a program of that name."""
    sleep = shutil.which("sleep")
    if sleep is None:
        pytest.skip("needs a `sleep` program to copy")
    exe = tmp_path / name
    # Overwriting the copy while an earlier fake app runs it fails with "text file busy".
    if not exe.exists():
        shutil.copy2(sleep, exe)
    return subprocess.Popen([str(exe), duration], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_fake_app(proc: subprocess.Popen) -> None:
    """Kill and reap, so the process is gone from the process list (not left as a zombie)."""
    proc.kill()
    proc.wait()


@contextmanager
def running_fake_app(tmp_path: Path, name: str,
                     duration: str = LONG_ENOUGH) -> Iterator[subprocess.Popen]:
    proc = start_fake_app(tmp_path, name, duration)
    try:
        yield proc
    finally:
        stop_fake_app(proc)


@pytest.fixture
def fake_app(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """`fake_app(name, duration=...)` starts a fake app; all of them are stopped after the test."""
    with ExitStack() as stack:
        def start(name: str, duration: str = LONG_ENOUGH) -> subprocess.Popen:
            return stack.enter_context(running_fake_app(tmp_path, name, duration))

        yield start
