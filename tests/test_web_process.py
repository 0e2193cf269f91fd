"""The dashboard in a child process of ``procmesh-hub run`` (web_process, the default): at a lower
priority, stopped with the hub however the hub ends, started again when it dies alone."""
from __future__ import annotations

import os
import signal

import httpx
import psutil
import pytest

from tests.processes import Mesh, free_port, start
from tests.waiting import wait_for
from tests.webhub import WebHub, start_web_hub

pytestmark = pytest.mark.timeout(120)


def dashboard_process(web: WebHub) -> psutil.Process:
    """The hub's child that serves the dashboard (multiprocessing also starts a resource tracker)."""
    def serving() -> psutil.Process | None:
        for child in psutil.Process(web.hub.proc.pid).children():
            try:
                if "spawn_main" in " ".join(child.cmdline()) and child.net_connections("tcp"):
                    return child
            except psutil.NoSuchProcess:
                continue
        return None
    return wait_for(serving, 30, "the dashboard's process")


def answers(web: WebHub) -> bool:
    try:
        with web.client() as client:
            return client.get("/nodes").status_code == 200
    except httpx.TransportError:
        return False


def test_the_dashboard_runs_in_a_child_process_at_a_lower_priority(sqlite_mesh: Mesh) -> None:
    web = start_web_hub(sqlite_mesh)
    wait_for(lambda: answers(web), 30, "the dashboard to answer")   # it lowers its priority before that
    child = dashboard_process(web)
    assert child.nice() > psutil.Process(web.hub.proc.pid).nice()
    listening = [c for c in child.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
    assert listening and listening[0].laddr.port == int(web.url.rsplit(":", 1)[1].strip("/"))


def test_a_dashboard_process_that_dies_is_started_again_and_logged(sqlite_mesh: Mesh) -> None:
    web = start_web_hub(sqlite_mesh)
    first = dashboard_process(web)
    wait_for(lambda: answers(web), 30, "the dashboard to answer")
    first.kill()
    wait_for(lambda: dashboard_process(web).pid != first.pid and answers(web), 60, "a new dashboard process")
    assert "the dashboard's process stopped (exit code -9): starting it again" in web.hub.log()


@pytest.mark.parametrize("ending", ["stopped", "killed"])
def test_the_dashboard_process_ends_with_the_hub(sqlite_mesh: Mesh, ending: str) -> None:
    web = start_web_hub(sqlite_mesh)
    child = dashboard_process(web)
    wait_for(lambda: answers(web), 30, "the dashboard to answer")
    if ending == "stopped":
        assert web.hub.stop(30) == 0
    else:   # no chance to stop its child: the child must notice by itself
        os.kill(web.hub.proc.pid, signal.SIGKILL)
        web.hub.proc.wait(10)
    wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, 30,
             "the dashboard's process to end")
    assert not answers(web)


def test_with_web_process_off_the_hub_serves_from_a_thread(sqlite_mesh: Mesh) -> None:
    web = start_web_hub(sqlite_mesh, "--no-web-process")
    wait_for(lambda: answers(web), 30, "the dashboard to answer")
    hub = psutil.Process(web.hub.proc.pid)
    assert not any("spawn_main" in " ".join(c.cmdline()) for c in hub.children())
    assert any(c.status == psutil.CONN_LISTEN for c in hub.net_connections("tcp"))


def test_the_dashboard_alone_serves_pages_metrics_and_health(sqlite_mesh: Mesh) -> None:
    """``procmesh-hub web``: no hub, no child process; the pages and its own /metrics."""
    sqlite_mesh.hub_cli("init-db")
    port = free_port()
    web = start("hub", ["web", "--db", sqlite_mesh.db_url, "--web-listen", f"127.0.0.1:{port}"],
                sqlite_mesh.folder, "web.log")
    sqlite_mesh.children.append(web)
    web.wait_log("dashboard: http")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        assert wait_for(lambda: answers(WebHub(web, f"http://127.0.0.1:{port}/")), 30, "the dashboard")
        assert "procmesh_web_info" in client.get("/metrics").text
        assert client.get("/healthz").text == "ok\n"
        assert client.get("/usage").status_code == 200


def test_a_hub_that_does_not_answer_its_dashboard_is_unhealthy(sqlite_mesh: Mesh) -> None:
    """A stopped hub (SIGSTOP): the dashboard's process still answers, /healthz and /metrics with 503."""
    web = start_web_hub(sqlite_mesh)
    wait_for(lambda: answers(web), 30, "the dashboard to answer")
    os.kill(web.hub.proc.pid, signal.SIGSTOP)
    try:
        with httpx.Client(base_url=web.url, timeout=60) as client:
            health = client.get("/healthz")
            assert health.status_code == 503 and "the hub did not answer" in health.text
            assert client.get("/metrics").status_code == 503
            assert client.get("/nodes").status_code == 200
    finally:
        os.kill(web.hub.proc.pid, signal.SIGCONT)
    with web.client() as client:
        wait_for(lambda: client.get("/healthz").status_code == 200, 30, "healthy again")
