"""Mistakes a person can make at the command line: one clear line, a non-zero exit, no traceback."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import python_env, run_cli


def assert_one_line_error(result, program: str, *fragments: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"procmesh-{program}: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr


@pytest.fixture
def watch_file(tmp_path: Path) -> Path:
    path = tmp_path / "monitorProcesses.txt"
    path.write_text("chrome\n")
    return path


def hub(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    return run_cli("hub", *args, cwd=tmp_path, env=env)


def test_unknown_database_scheme(tmp_path: Path, watch_file: Path) -> None:
    assert_one_line_error(hub(tmp_path, "--db", "postgres://x/y", "--watch", str(watch_file)),
                          "hub", "unsupported database URL scheme 'postgres'")


def test_unreachable_mariadb_names_the_server_and_never_the_password(tmp_path: Path) -> None:
    result = hub(tmp_path, "init-db", "--db", "mariadb://root:s3cret@127.0.0.1:1/lab")
    assert result.returncode == 1
    warning, error = result.stderr.strip().splitlines()
    # A password on the command line shows in the process list: the hub says so, without it.
    assert "WARNING" in warning and "process list" in warning and "db_password_file" in warning
    assert error.startswith("procmesh-hub: error: ") and "127.0.0.1:1" in error
    assert "s3cret" not in result.stderr + result.stdout


def test_password_from_the_environment_is_not_shown_either(tmp_path: Path) -> None:
    env = python_env(tmp_path) | {"PROCMESH_DB_PASSWORD": "hunter2", "PROCMESH_DB": "mariadb://root@127.0.0.1:1/lab"}
    result = hub(tmp_path, "status", env=env)
    assert_one_line_error(result, "hub", "127.0.0.1:1")
    assert "hunter2" not in result.stderr


def test_port_in_use(tmp_path: Path, watch_file: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = hub(tmp_path, "--watch", str(watch_file), "--config-endpoint", f"tcp://127.0.0.1:{port}",
                     "--report-endpoint", "tcp://127.0.0.1:0")
    assert_one_line_error(result, "hub", f"cannot listen on tcp://127.0.0.1:{port}", "in use")


def test_bad_toml(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text("db = \n")
    assert_one_line_error(hub(tmp_path, "--config", "hub.toml"), "hub", "hub.toml: invalid TOML")


def test_unknown_key_in_toml(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text("intervall = 5\n")
    assert_one_line_error(hub(tmp_path, "status", "--config", "hub.toml"), "hub", "unknown key 'intervall'")


def test_invalid_watch_file_at_start_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("chrome\nbad = re:(\n")
    assert_one_line_error(hub(tmp_path, "--watch", "list.txt"), "hub", "line 2:")


def test_unreadable_watch_file(tmp_path: Path) -> None:
    (tmp_path / "folder.txt").mkdir()
    assert_one_line_error(hub(tmp_path, "--watch", "folder.txt"), "hub", "cannot read watch list")


def test_out_of_range_interval(tmp_path: Path, watch_file: Path) -> None:
    assert_one_line_error(hub(tmp_path, "--watch", str(watch_file), "--interval", "0"), "hub",
                          "option --interval")


@pytest.mark.parametrize("args, fragment", [
    (("--since", "last tuesday"), "--since: cannot read time"),
    (("--by", "computer,room"), "--by 'computer,room'"),
    (("--since", "2026-11-02", "--until", "2026-11-01"), "(--until) must be after its start (--since)"),
    (("--tz", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
])
def test_report_argument_mistakes(tmp_path: Path, args, fragment: str) -> None:
    hub(tmp_path, "init-db")
    assert_one_line_error(hub(tmp_path, "report", *args), "hub", fragment)


@pytest.mark.parametrize("command", [("report",), ("status",), ("keys", "list")])
def test_reading_commands_never_create_a_database(tmp_path: Path, command: tuple[str, ...]) -> None:
    missing = tmp_path / "typo.db"
    env = {**python_env(tmp_path), "PROCMESH_DB": f"sqlite:///{missing}"}
    result = hub(tmp_path, *command, env=env)
    if command[0] != "keys":   # keys never opens the database at all
        assert_one_line_error(result, "hub", f"no database at {missing}")
    assert not missing.exists()
    assert not (tmp_path / "procmesh.db").exists()


# Run in a child with -c so sys.modules shows what the command itself loaded.
LOADED_BY_A_COMMAND = """
import sys
from hub.cli import main
code = main(sys.argv[1:])
heavy = ("zmq", "starlette", "uvicorn", "jinja2", "prometheus_client", "argon2", "hub.server")
print(",".join(name for name in heavy if name in sys.modules))
sys.exit(code)
"""


@pytest.mark.parametrize("command", [("report",), ("report", "--by", "lab,day"), ("peak",), ("unused",),
                                     ("now",), ("status",)])
def test_reading_commands_load_neither_zeromq_nor_the_web_stack(tmp_path: Path, watch_file: Path,
                                                                command: tuple[str, ...]) -> None:
    # A report asked from a shell should not pay for the socket loop and the dashboard it never uses.
    assert hub(tmp_path, "init-db").returncode == 0
    result = subprocess.run([sys.executable, "-c", LOADED_BY_A_COMMAND, *command], cwd=tmp_path,
                            env=python_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == ""


def test_a_missing_mariadb_database_is_no_database(tmp_path: Path, mariadb_server) -> None:
    url = mariadb_server.redacted().rsplit("/", 1)[0] + "/procmesh_no_such_db"
    assert_one_line_error(hub(tmp_path, "status", "--db", url), "hub",
                          "no database at", "procmesh_no_such_db")


def test_init_db_then_empty_report_and_status(tmp_path: Path) -> None:
    created = hub(tmp_path, "init-db")
    assert created.returncode == 0 and "tables ready in sqlite:///procmesh.db" in created.stdout
    report = hub(tmp_path, "report", "--format", "csv")
    assert report.returncode == 0
    assert report.stdout.strip() == "computer,user,process,sessions,seconds,first_start,last_end"
    status = hub(tmp_path, "status")
    assert status.returncode == 0 and status.stdout.startswith("node")


def test_node_rejects_a_bad_environment_value(tmp_path: Path) -> None:
    env = python_env(tmp_path) | {"PROCMESH_SCOPE": "everyone"}
    result = run_cli("node", "--once", cwd=tmp_path, env=env)
    assert_one_line_error(result, "node", "environment variable PROCMESH_SCOPE", "not one of user, all")


def test_node_rejects_bad_toml(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text("[hub\n")
    result = run_cli("node", "--config", "node.toml", cwd=tmp_path)
    assert_one_line_error(result, "node", "node.toml: invalid TOML")


def test_curve_without_a_hub_key_pair(tmp_path: Path, watch_file: Path) -> None:
    assert_one_line_error(hub(tmp_path, "--watch", str(watch_file), "--curve"), "hub",
                          "no key pair", "procmesh-hub keys init")


def test_accept_any_node_needs_curve(tmp_path: Path, watch_file: Path) -> None:
    assert_one_line_error(hub(tmp_path, "--watch", str(watch_file), "--accept-any-node"), "hub",
                          "accept_any_node only applies with curve")


def test_node_with_a_bad_hub_key(tmp_path: Path) -> None:
    result = run_cli("node", "--once", "--hub-key", "not-a-key", cwd=tmp_path)
    assert_one_line_error(result, "node", "neither a 40-character public key nor an existing key file")


def test_unreadable_password_file_never_shows_the_password(tmp_path: Path) -> None:
    result = hub(tmp_path, "status", "--db", "mariadb://root@127.0.0.1:1/lab",
                 "--db-password-file", str(tmp_path / "missing"))
    assert_one_line_error(result, "hub", "cannot read the database password file", "No such file")


@pytest.mark.parametrize("program", ["hub", "node"])
def test_version_names_the_program_and_its_release(tmp_path: Path, program: str) -> None:
    from common import __version__
    result = run_cli(program, "--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"procmesh-{program} {__version__}"


@pytest.mark.parametrize("program", ["hub", "node"])
def test_log_file_in_a_folder_that_cannot_be_created_is_one_line(tmp_path: Path, program: str) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder should be\n")
    args = ("status", "--db", f"sqlite:///{tmp_path / 'x.db'}") if program == "hub" else ("--once",)
    result = run_cli(program, *args, "--log-file", str(blocker / "logs" / "p.log"), cwd=tmp_path)
    assert_one_line_error(result, program, str(blocker))


def test_every_deliberate_error_is_a_procmesh_error() -> None:
    from common.curve import KeyFileError
    from common.errors import ProcmeshError
    from common.protocol import ProtocolError
    from common.settings import SettingsError
    from common.watchlist import WatchListError
    from hub.answers import AnswerError
    from hub.server import BindError
    from hub.storage import StorageError, StorageUnavailable
    from node.agent import NoConfigError
    for error in (KeyFileError, ProtocolError, SettingsError, WatchListError, AnswerError, BindError,
                  StorageError, StorageUnavailable, NoConfigError):
        assert issubclass(error, ProcmeshError), error
