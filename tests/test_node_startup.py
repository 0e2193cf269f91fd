"""The node's first and last moments, as real processes: a node without a console (pythonw on
Windows; here its standard streams closed) logs every way it can end; Ctrl-C and a template's
unreplaced placeholder are one line; the machine-wide node.toml is found and wins."""
from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from common.logs import install_exception_hooks
from node.cli import once_text
from node.platform import current_user, hostname
from tests.processes import Mesh, free_port, python_env, run_cli, start
from tests.test_cli import assert_one_line_error
from tests.waiting import wait_for


def windowless(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The node with no stderr and no stdout, as pythonw starts it: Python sets both to None."""
    command = " ".join([sys.executable, "-m", "node", *args, "2>&-", ">&-"])
    return subprocess.run(["sh", "-c", f"exec {command}"], cwd=tmp_path, env=python_env(tmp_path),
                          capture_output=True, text=True, timeout=30)


def default_log(tmp_path: Path) -> str:
    """The default log file under python_env's XDG_STATE_HOME (platformdirs' user_log_dir)."""
    path = tmp_path / "state" / "procmesh" / "log" / "node.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def test_a_windowless_node_logs_a_settings_error_in_its_default_log(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text("hub = \n")
    result = windowless(tmp_path, "--config", "node.toml")
    assert result.returncode == 1
    lines = default_log(tmp_path).splitlines()
    assert len(lines) == 1 and " ERROR " in lines[0] and "node.toml: invalid TOML" in lines[0], lines


def test_a_windowless_node_logs_a_command_line_mistake(tmp_path: Path) -> None:
    result = windowless(tmp_path, "--scope", "everyone")
    assert result.returncode == 2
    assert "command line: argument --scope: invalid choice: 'everyone'" in default_log(tmp_path)


def test_a_windowless_node_logs_a_log_file_it_cannot_open_in_its_default_log(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = windowless(tmp_path, "--once", "--log-file", str(blocker / "node.log"))
    assert result.returncode == 1
    assert str(blocker) in default_log(tmp_path)


def test_unexpected_errors_are_logged_from_any_thread(monkeypatch, caplog) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    install_exception_hooks(logging.getLogger("procmesh.node"))
    with caplog.at_level(logging.CRITICAL, logger="procmesh.node"):
        try:
            raise RuntimeError("in the main thread")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
        thread = threading.Thread(target=lambda: 1 / 0, name="pump")
        thread.start()
        thread.join()
    main, other = caplog.records
    assert "in the main thread" in caplog.text and main.exc_info is not None
    assert other.getMessage().startswith("thread pump stopped") and other.exc_info[0] is ZeroDivisionError


@contextmanager
def ctrl_c_not_ignored() -> Iterator[None]:
    """Children started in the block get Ctrl-C as from a terminal, even when the tests run with
    SIGINT ignored (a background job of a shell without job control): an ignored signal stays
    ignored across exec, and Python then installs no KeyboardInterrupt for it."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_during_once_is_one_line(tmp_path: Path) -> None:
    log_file = tmp_path / "once.log"
    with ctrl_c_not_ignored():
        proc = subprocess.Popen(
            [sys.executable, "-m", "node", "--once", "--config-endpoint", f"tcp://127.0.0.1:{free_port()}",
             "--log-file", str(log_file), "--log-level", "DEBUG"],
            cwd=tmp_path, env=python_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: log_file.exists() and "machine-wide settings" in log_file.read_text(), 15,
                 "the node waiting for its watch list")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == "procmesh-node: interrupted" and "Traceback" not in err


def test_the_templates_placeholder_is_an_error_at_start(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("node", "--hub", "HUB_HOST", "--once", cwd=tmp_path), "node",
                          "HUB_HOST", "placeholder")


@pytest.mark.parametrize("encoding, escaped", [("cp1252", True), ("utf-8", False)])
def test_once_output_suits_the_console_encoding(encoding: str, escaped: bool) -> None:
    text = once_text({"sessions": [{"label": "日本語"}]}, encoding)
    text.encode(encoding)
    assert ("\\u65e5" in text) is escaped
    assert json.loads(text) == {"sessions": [{"label": "日本語"}]}


def test_once_on_a_cp1252_output_prints_a_label_it_cannot_encode(sqlite_mesh: Mesh, fake_app) -> None:
    sqlite_mesh.watch_new_program(fake_app, "日本語 = {name}")
    sqlite_mesh.start_hub()
    env = python_env(sqlite_mesh.folder) | {"PYTHONIOENCODING": "cp1252"}
    result = subprocess.run([sys.executable, "-m", "node", "--once", *sqlite_mesh.endpoints],
                            cwd=sqlite_mesh.folder, env=env, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr.decode("cp1252", "replace")
    report = json.loads(result.stdout.decode("cp1252"))
    assert [row[1] for row in report["sessions"]] == ["日本語"]


def test_the_machine_wide_file_in_a_later_xdg_entry_is_found_and_wins(sqlite_mesh: Mesh, fake_app) -> None:
    mesh = sqlite_mesh
    name = mesh.watch_new_program(fake_app)
    mesh.start_hub()
    first, second = mesh.folder / "xdg-session", mesh.folder / "xdg-machine"
    (first / "procmesh").mkdir(parents=True)
    (second / "procmesh").mkdir(parents=True)
    machine = second / "procmesh" / "node.toml"
    machine.write_text(f'config_endpoint = ["tcp://127.0.0.1:{mesh.config_port}"]\n'
                       f'report_endpoint = ["tcp://127.0.0.1:{mesh.report_port}"]\n'
                       'node_id = ""\n')
    # A student's environment tries to send reports nowhere and to pose as the teacher.
    env = {"XDG_CONFIG_DIRS": f"{first}:{second}", "PROCMESH_REPORT_ENDPOINT": f"tcp://127.0.0.1:{free_port()}",
           "PROCMESH_NODE_ID": "pc/teacher"}
    node = start("node", ["--log-level", "DEBUG"], mesh.folder, "policy-node.log", env)
    mesh.children.append(node)
    node.wait_log(f"machine-wide settings {machine}")
    assert "ignored environment variable PROCMESH_REPORT_ENDPOINT" in node.log()
    assert "ignored environment variable PROCMESH_NODE_ID" in node.log()
    wait_for(lambda: name in mesh.hub_cli("report", "--format", "json").stdout, 30,
             "the session stored by the hub")
    status = json.loads(mesh.hub_cli("status", "--format", "json").stdout)
    assert [n["node"] for n in status] == [f"{hostname()}/{current_user()}"]
