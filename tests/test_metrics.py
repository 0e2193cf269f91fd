"""/metrics and /healthz of a real hub with a real node: the figures a Prometheus server would scrape."""
from __future__ import annotations

import sqlite3

import httpx
import pytest
import zmq
from prometheus_client.parser import text_string_to_metric_families

from common import __version__

from tests.fakeapps import unique_name
from tests.processes import Mesh
from tests.waiting import wait_for
from tests.webhub import WebHub, start_web_hub

pytestmark = pytest.mark.timeout(90)


def scrape(client: httpx.Client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def send_junk(mesh: Mesh) -> None:
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.linger = 2000
    push.connect(f"tcp://127.0.0.1:{mesh.report_port}")
    push.send(b"\xc1")
    push.close()
    ctx.term()


# The dashboard in its own process asks the hub for these figures; in a thread it reads them.
@pytest.fixture(params=["--web-process", "--no-web-process"])
def reporting(request: pytest.FixtureRequest, sqlite_mesh: Mesh, fake_app) -> tuple[Mesh, WebHub, str]:
    """A hub serving its dashboard, and a node reporting a running program: (mesh, web, program)."""
    name = unique_name()
    fake_app(name)
    sqlite_mesh.watch_file.write_text(f"{name}\n")
    web = start_web_hub(sqlite_mesh, request.param)
    sqlite_mesh.start_node("metrics-pc/ann")
    return sqlite_mesh, web, name


def test_metrics_count_what_the_hub_did(reporting: tuple[Mesh, WebHub, str]) -> None:
    mesh, web, name = reporting
    send_junk(mesh)
    with web.client() as client:
        samples = wait_for(lambda: (s := scrape(client)) and value(s, "procmesh_session_rows_written_total") > 0
                           and value(s, "procmesh_reports_dropped_total", reason="undecodable") and s,
                           20, "rows written and the junk frame counted")
        assert value(samples, "procmesh_reports_received_total") >= 1
        assert value(samples, "procmesh_nodes_online") == 1
        assert value(samples, "procmesh_watch_list_version") == 1
        assert value(samples, "procmesh_write_seconds_count") >= 1
        assert value(samples, "procmesh_database_errors_total") == 0
        assert value(samples, "procmesh_pending_rows") >= 0
        assert ("procmesh_hub_info", (("version", __version__),)) in samples
        mesh.watch_file.write_text(f"{name}\nsecond\n")
        wait_for(lambda: value(scrape(client), "procmesh_watch_list_version") == 2, 10, "version 2")


def test_healthz_says_503_and_why_while_the_database_refuses_writes(
        reporting: tuple[Mesh, WebHub, str]) -> None:
    mesh, web, _ = reporting
    with web.client() as client:
        wait_for(lambda: value(scrape(client), "procmesh_session_rows_written_total") > 0, 20, "a first write")
        assert client.get("/healthz").status_code == 200
        # Another program holds the database's write lock: the hub's writes time out and are retried.
        blocker = sqlite3.connect(mesh.db_url.removeprefix("sqlite:///"), isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            unhealthy = wait_for(lambda: (r := client.get("/healthz")).status_code == 503 and r, 30, "a 503")
            assert "database writes fail" in unhealthy.text and "locked" in unhealthy.text
            assert value(scrape(client), "procmesh_database_errors_total") >= 1
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        wait_for(lambda: client.get("/healthz").status_code == 200, 30, "healthy again")
