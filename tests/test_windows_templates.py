"""The Windows start-up templates, read as Windows would read them (no Windows here to run them):
absolute paths, the windowless launcher, a line in the log when Python is missing, a task that
starts one node per user with fast user switching, and no double-quoted Windows path in a sample."""
from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path, PureWindowsPath

from tests.processes import REPO

WINDOWS = REPO / "config" / "windows"
TASK = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"


def cmd_variables(text: str) -> dict[str, str]:
    return dict(re.findall(r'^set "(\w+)=([^"]*)"', text, re.MULTILINE))


def test_the_logon_script_starts_the_windowless_node_by_absolute_path() -> None:
    raw = (WINDOWS / "procmesh-node.cmd").read_bytes()
    assert raw.count(b"\n") == raw.count(b"\r\n"), "cmd.exe misreads labels in files with LF line ends"
    text = raw.decode("ascii")
    variables = cmd_variables(text)
    assert PureWindowsPath(variables["PYTHONDIR"]).is_absolute()
    assert variables["NODEW"] == "%PYTHONDIR%\\Scripts\\procmesh-nodew.exe"
    assert 'start "" "%NODEW%" --hub %HUB%' in text


def test_the_logon_script_logs_when_python_or_the_node_is_missing() -> None:
    text = (WINDOWS / "procmesh-node.cmd").read_text()
    checks = re.findall(r'^if not exist "([^"]+)" \(\r?\n  call :fail "[^"]+"\r?\n  exit /b 1', text, re.MULTILINE)
    assert checks == ["%PYTHONDIR%\\pythonw.exe", "%NODEW%"]
    failure = text[text.index("\n:fail"):]
    assert cmd_variables(text)["LOGDIR"] == "%LOCALAPPDATA%\\procmesh"
    assert '>>"%LOGDIR%\\node.log" echo' in failure and "exit /b 1" in failure


def test_the_scheduled_task_runs_one_node_per_user_for_good() -> None:
    task = ET.parse(WINDOWS / "procmesh-node-task.xml").getroot()
    assert task.find(f"{TASK}Triggers/{TASK}LogonTrigger") is not None
    assert task.findtext(f"{TASK}Principals/{TASK}Principal/{TASK}GroupId") == "S-1-5-32-545"
    assert task.findtext(f"{TASK}Settings/{TASK}MultipleInstancesPolicy") == "Parallel"
    assert task.findtext(f"{TASK}Settings/{TASK}ExecutionTimeLimit") == "PT0S"
    assert task.findtext(f"{TASK}Settings/{TASK}DisallowStartIfOnBatteries") == "false"
    command = PureWindowsPath(task.findtext(f"{TASK}Actions/{TASK}Exec/{TASK}Command") or "")
    assert command.is_absolute() and command.name == "procmesh-nodew.exe"


def test_the_windowless_launcher_is_a_gui_script() -> None:
    [script] = [e for e in entry_points(group="gui_scripts") if e.name == "procmesh-nodew"]
    assert script.value == "node.cli:main"
    # pip wrote it beside this Python's own programs (Scripts\procmesh-nodew.exe on Windows).
    assert (Path(sys.executable).parent / "procmesh-nodew").exists()


def test_no_sample_puts_a_windows_path_in_double_quotes() -> None:
    double_quoted = re.compile(r'=\s*\[?\s*"[A-Za-z]:\\|=\s*"%\w+%\\')
    samples = [REPO / "README.md", REPO / "docs" / "deploy.md", *(REPO / "config").glob("*.toml")]
    offenders = [f"{path.name}: {line.strip()}" for path in samples
                 for line in path.read_text(encoding="utf-8").splitlines() if double_quoted.search(line)]
    assert offenders == []
