"""Real hub and node processes for end-to-end tests, on free loopback ports."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from tests.fakeapps import unique_name
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parent.parent
TEST_SETTINGS = ("PROCMESH_TEST_MARIADB", "PROCMESH_REQUIRE_MARIADB")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def python_env(home: Path | None = None) -> dict[str, str]:
    """The children import the checkout itself, installed or not. With ``home``, their per-user
    and machine-wide folders (lock files, logs, node.toml) live there, not in the tester's own."""
    # The tester's own PROCMESH_* settings must not leak into the programs under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCMESH_") or k in TEST_SETTINGS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    # Hubs under test serve no dashboard unless a test gives --web-listen: port 8807 is one per machine.
    env["PROCMESH_WEB_LISTEN"] = "off"
    if home is not None:
        for variable, folder in (("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"),
                                 ("XDG_CONFIG_HOME", "config"), ("XDG_CONFIG_DIRS", "etc-xdg")):
            env[variable] = str(home / folder)
    return env


def run_cli(program: str, *args: str, cwd: Path | None = None, timeout: float = 30.0,
            env: dict[str, str] | None = None, wrapper: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hub|node ARGS`` to completion, as a person would at a prompt; ``wrapper``
    is a command that runs it (tests/sandbox.py)."""
    return subprocess.run([*wrapper, sys.executable, "-m", program, *args], cwd=cwd,
                          env=env or python_env(cwd), capture_output=True, text=True, timeout=timeout)


@dataclass
class Running:
    """A long-running child whose combined output goes to a log file the test can read."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, text: str, timeout: float = 30.0) -> None:
        wait_for(lambda: text in self.log() or self._died(), timeout, f"{text!r} in {self.log_path.name}")
        assert text in self.log(), f"process exited early:\n{self.log()}"

    def _died(self) -> bool:
        return self.proc.poll() is not None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def start(program: str, args: list[str], cwd: Path, log_name: str,
          extra_env: dict[str, str] | None = None, wrapper: Sequence[str] = ()) -> Running:
    """Start ``python -m program ARGS`` in cwd; ``extra_env`` adds variables (test hooks) to its own,
    ``wrapper`` is a command that runs it (tests/sandbox.py)."""
    log_path = cwd / log_name
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*wrapper, sys.executable, "-m", program, *args], cwd=cwd,
                                env={**python_env(cwd), **(extra_env or {})},
                                stdout=log, stderr=subprocess.STDOUT)
    return Running(proc, log_path)


@dataclass
class Mesh:
    """Ports and files for one hub and its nodes; every child is stopped at teardown."""

    folder: Path
    db_url: str
    interval: float = 0.5
    grace: float = 2.0
    idle_after: float | None = None
    config_port: int = field(default_factory=free_port)
    report_port: int = field(default_factory=free_port)
    children: list[Running] = field(default_factory=list)

    @property
    def watch_file(self) -> Path:
        return self.folder / "monitorProcesses.txt"

    @property
    def endpoints(self) -> list[str]:
        return ["--config-endpoint", f"tcp://127.0.0.1:{self.config_port}",
                "--report-endpoint", f"tcp://127.0.0.1:{self.report_port}"]

    def watch_new_program(self, fake_app: Callable[[str], object], entry: str = "{name}") -> str:
        """Run a fake app under a new name and make the watch list the one ``entry`` for it."""
        name = unique_name()
        fake_app(name)
        self.watch_file.write_text(entry.format(name=name) + "\n", encoding="utf-8")
        return name

    def hub_args(self) -> list[str]:
        presence = [] if self.idle_after is None else ["--idle-after", str(self.idle_after)]
        return ["run", "--db", self.db_url, "--watch", str(self.watch_file), *self.endpoints,
                "--interval", str(self.interval), "--grace", str(self.grace), *presence,
                "--log-level", "DEBUG"]

    def start_hub(self, wait: bool = True, wrapper: Sequence[str] = ()) -> Running:
        hub = start("hub", self.hub_args(), self.folder, f"hub-{len(self.children)}.log", wrapper=wrapper)
        self.children.append(hub)
        if wait:
            hub.wait_log("hub listening")
        return hub

    def start_node(self, node_id: str, *extra: str, extra_env: dict[str, str] | None = None,
                   clock_shift: float = 0.0, asleep_file: Path | None = None) -> Running:
        """A node process; with ``clock_shift`` or ``asleep_file`` it runs on a clock the test steers
        (see tests/clocknode.py)."""
        args = [*self.endpoints, "--node-id", node_id, "--log-level", "DEBUG", *extra]
        program = "node"
        if clock_shift or asleep_file:
            steering = ["--shift", str(clock_shift)]
            if asleep_file:
                steering += ["--asleep-file", str(asleep_file)]
            program, args = "tests.clocknode", [*steering, "--", *args]
        node = start(program, args, self.folder, f"node-{len(self.children)}.log", extra_env)
        self.children.append(node)
        return node

    def hub_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("hub", *args, "--db", self.db_url, cwd=self.folder)

    def close(self) -> None:
        for child in self.children:
            child.kill()
