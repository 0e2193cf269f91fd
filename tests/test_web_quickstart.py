"""The README's quickstart with the dashboard: a bare hub in an empty folder, a node, and the
node's program on the dashboard's Now and Usage pages within a minute."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fakeapps import unique_name
from tests.processes import Mesh, free_port, run_cli, start
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(120)


def test_the_dashboard_listens_on_loopback_port_8807_by_default(tmp_path: Path) -> None:
    assert "default: '127.0.0.1:8807'" in " ".join(run_cli("hub", "run", "--help", cwd=tmp_path).stdout.split())


def test_a_newcomer_sees_their_program_on_the_dashboard_within_a_minute(tmp_path: Path, fake_app) -> None:
    mesh = Mesh(tmp_path, "sqlite:///procmesh.db")   # the default database, in the working folder
    port = free_port()
    # Only the ports differ from the bare command: 8805-8807 may be taken on a test machine.
    hub = start("hub", [*mesh.endpoints, "--web-listen", f"127.0.0.1:{port}", "--web-cache-seconds", "0"],
                tmp_path, "hub.log")
    mesh.children.append(hub)
    try:
        hub.wait_log("dashboard: http://127.0.0.1:")
        program = unique_name()
        with open(tmp_path / "monitorProcesses.txt", "a", encoding="utf-8") as watch:
            watch.write(f"{program}\n")   # the newcomer adds a program of theirs to the sample list
        fake_app(program)
        mesh.start_node("newcomer-pc/me")
        url = f"http://127.0.0.1:{port}/"
        wait_for(lambda: program in httpx.get(url, timeout=30).text, 60, "the program on the Now page")
        assert program in httpx.get(url + "usage", timeout=30).text
    finally:
        mesh.close()
