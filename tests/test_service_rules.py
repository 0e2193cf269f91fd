"""The Windows service's rules, portable: which Python it runs, with which arguments, and what the
node decides for itself there; on other systems the command is one line pointing elsewhere."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.settings import SettingsError
from node.keys import init_node_keys, secret_file_access
from node.servicesetup import (check_node_arguments, service_arguments, service_node_arguments,
                               service_python)
from tests.processes import run_cli
from tests.test_cli import assert_one_line_error


def test_the_service_runs_pythons_console_interpreter_not_pythonw() -> None:
    base = "C:\\Program Files\\Python312"
    assert service_python(f"{base}\\pythonw.exe", base, base) == f"{base}\\python.exe"
    assert service_python(f"{base}\\python.exe", base, base) == f"{base}\\python.exe"


def test_a_virtual_environment_cannot_host_the_service() -> None:
    with pytest.raises(SettingsError, match="virtual environment"):
        service_python("C:\\lab\\venv\\Scripts\\python.exe", "C:\\lab\\venv", "C:\\Program Files\\Python312")


def test_the_service_counts_every_user_and_logs_to_programdata() -> None:
    args = service_node_arguments(["--hub", "lab server"], "C:\\ProgramData\\procmesh")
    assert args == ["--scope", "all", "--log-file", "C:\\ProgramData\\procmesh\\node-service.log",
                    "--hub", "lab server"]
    assert service_arguments(["--hub", "lab server"]) == '-m node.windows.service --hub "lab server"'


@pytest.mark.parametrize("arg", ["--scope", "--scope=user", "--once", "--node-id"])
def test_arguments_the_service_decides_itself_are_refused(arg: str) -> None:
    with pytest.raises(SettingsError, match=arg.split("=")[0]):
        check_node_arguments(["--hub", "lab", arg])


def test_the_service_command_elsewhere_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("node", "service", "install", cwd=tmp_path), "node",
                          "procmesh-node service is for Windows")


def test_a_windows_key_says_who_can_read_its_secret(tmp_path: Path) -> None:
    said = init_node_keys(tmp_path / "keys", "pc-07", False, windows=True)
    assert secret_file_access(True) in said and "readable by you only" not in said
    assert "readable by you only" in init_node_keys(tmp_path / "own", "pc-07", False, windows=False)
