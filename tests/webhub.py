"""A real hub serving its dashboard on a free loopback port, and accounts made with the real CLI."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import httpx
import pytest

from tests.processes import Mesh, Running, free_port, python_env, start


@dataclass
class WebHub:
    hub: Running
    url: str   # ends with "/"

    def client(self, **options) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **options)


def start_web_hub(mesh: Mesh, *extra: str) -> WebHub:
    port = free_port()
    # Pages answer from the database at every load: tests watch them change within seconds.
    mesh_args = [*mesh.hub_args(), "--web-listen", f"127.0.0.1:{port}", "--web-cache-seconds", "0", *extra]
    hub = start("hub", mesh_args, mesh.folder, f"hub-{len(mesh.children)}.log")
    mesh.children.append(hub)
    hub.wait_log("hub listening")
    hub.wait_log("dashboard: http")
    return WebHub(hub, f"http://127.0.0.1:{port}/")


def add_account(mesh: Mesh, name: str, role: str, password: str,
                check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "hub", "web-user", "add", name, "--role", role,
                             "--password-stdin", "--db", mesh.db_url], input=password + "\n",
                            cwd=mesh.folder, env=python_env(mesh.folder), capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0 or not check, result.stderr
    return result


def sign_in(client: httpx.Client, name: str, password: str) -> httpx.Response:
    """Fill in the login form as a browser would: fetch it for its CSRF token, then post."""
    form = client.get("/login")
    token = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return client.post("/login", data={"name": name, "password": password, "csrf": token, "next": "/"})


def start_node_on_computer(mesh: Mesh, computer: str) -> Running:
    """A real node that believes it runs on ``computer``: its own UTS namespace with that host name,
    so one test machine can show a lab of several computers. Skips where namespaces are not allowed."""
    probe = subprocess.run(["unshare", "--uts", "hostname", computer], capture_output=True, timeout=10)
    if probe.returncode != 0:
        pytest.skip(f"needs unshare --uts to name a second computer: {probe.stderr.decode().strip()}")
    args = [*mesh.endpoints, "--node-id", f"{computer}/student", "--log-level", "DEBUG"]
    log_path = mesh.folder / f"node-{computer}.log"
    env = python_env(mesh.folder)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', computer,
                                 sys.executable, "-m", "node", *args], cwd=mesh.folder, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    node = Running(proc, log_path)
    mesh.children.append(node)
    return node
