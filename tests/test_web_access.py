"""Who may see the dashboard: open on loopback until accounts exist, then nothing without signing in.

A real hub serves the dashboard on a free loopback port; accounts are made with the real
``procmesh-hub web-user`` command; requests are plain HTTP, as a browser or a scraper sends them.
"""
from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from hub.web.pages import PAGES
from tests.processes import Mesh, free_port, run_cli
from tests.webhub import WebHub, add_account, sign_in, start_web_hub

pytestmark = pytest.mark.timeout(90)
PASSWORD = "correct horse battery"
PAGE_ROUTES = [path for page in PAGES for path in (page.path, page.csv_path)]
MACHINE_ROUTES = ["/metrics", "/healthz"]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mesh, WebHub]]:
    """One hub for the module, with an admin and a viewer account."""
    folder = tmp_path_factory.mktemp("guarded")
    mesh = Mesh(folder, f"sqlite:///{folder / 'procmesh.db'}")
    mesh.watch_file.write_text("anything\n")
    try:
        add_account(mesh, "ada", "admin", PASSWORD)
        add_account(mesh, "vic", "viewer", PASSWORD)
        yield mesh, start_web_hub(mesh)
    finally:
        mesh.close()


def test_on_loopback_without_accounts_every_page_is_open(sqlite_mesh: Mesh) -> None:
    sqlite_mesh.watch_file.write_text("anything\n")
    web = start_web_hub(sqlite_mesh)
    with web.client() as client:
        for path in PAGE_ROUTES + MACHINE_ROUTES:
            assert client.get(path).status_code == 200, path
        assert "open on localhost" in client.get("/nodes").text


@pytest.mark.parametrize("command", ["run", "web"])
def test_an_address_other_than_loopback_needs_accounts(tmp_path: Path, command: str) -> None:
    (tmp_path / "monitorProcesses.txt").write_text("anything\n")
    db = f"sqlite:///{tmp_path / 'procmesh.db'}"
    run_cli("hub", "init-db", "--db", db, cwd=tmp_path)
    endpoints = ["--config-endpoint", f"tcp://127.0.0.1:{free_port()}",
                 "--report-endpoint", f"tcp://127.0.0.1:{free_port()}"] if command == "run" else []
    result = run_cli("hub", command, "--db", db, "--web-listen", f"0.0.0.0:{free_port()}", *endpoints,
                     cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("procmesh-hub: error: web_listen 0.0.0.0:")
    assert "web-user add" in result.stderr and "Traceback" not in result.stderr


def test_anonymous_requests_get_the_login_page_or_401(guarded: tuple[Mesh, WebHub]) -> None:
    _, web = guarded
    with web.client() as client:
        for path in PAGE_ROUTES + MACHINE_ROUTES + ["/"]:
            response = client.get(path)
            if path.endswith(".csv") or path in MACHINE_ROUTES:
                assert response.status_code == 401, path
                assert "procmesh_" not in response.text and "ok" not in response.text
            else:
                assert response.status_code == 303, path
                assert response.headers["location"].startswith("/login"), path
                login = client.get(response.headers["location"])
                assert login.status_code == 200 and 'name="password"' in login.text, path


def test_sign_in_and_out(guarded: tuple[Mesh, WebHub]) -> None:
    _, web = guarded
    with web.client() as client:
        wrong = sign_in(client, "ada", "not the password")
        assert wrong.status_code == 401 and "wrong name or password" in wrong.text
        right = sign_in(client, "ada", PASSWORD)
        assert right.status_code == 303
        cookie = right.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert "secure" not in cookie   # plain HTTP: a Secure cookie would never come back
        page = client.get("/nodes")
        assert page.status_code == 200 and "ada (admin)" in page.text
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        out = client.post("/logout", data={"csrf": token})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert client.get("/nodes").status_code == 303


def test_a_form_post_without_the_csrf_token_is_refused(guarded: tuple[Mesh, WebHub]) -> None:
    _, web = guarded
    with web.client() as client:
        client.get("/login")
        refused = client.post("/login", data={"name": "ada", "password": PASSWORD})
        assert refused.status_code == 403
        assert client.get("/nodes").status_code == 303   # not signed in
        sign_in(client, "ada", PASSWORD)
        assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
        assert client.post("/logout").status_code == 403
        assert client.get("/nodes").status_code == 200   # still signed in


def test_a_removed_account_is_signed_out_at_its_next_request(guarded: tuple[Mesh, WebHub]) -> None:
    mesh, web = guarded
    add_account(mesh, "temp", "admin", PASSWORD)
    with web.client() as client:
        sign_in(client, "temp", PASSWORD)
        assert client.get("/nodes").status_code == 200
        removed = run_cli("hub", "web-user", "remove", "temp", "--db", mesh.db_url, cwd=mesh.folder)
        assert removed.returncode == 0
        assert client.get("/nodes").status_code == 303


def test_metrics_and_health_take_basic_credentials(guarded: tuple[Mesh, WebHub]) -> None:
    _, web = guarded
    with web.client() as client:
        assert client.get("/metrics", auth=("vic", "wrong password")).status_code == 401
        metrics = client.get("/metrics", auth=("vic", PASSWORD))
        assert metrics.status_code == 200 and "procmesh_reports_received_total" in metrics.text
        assert client.get("/healthz", auth=("vic", PASSWORD)).text == "ok\n"


def test_wrong_passwords_in_a_row_lock_the_name(sqlite_mesh: Mesh) -> None:
    sqlite_mesh.watch_file.write_text("anything\n")
    add_account(sqlite_mesh, "ada", "admin", PASSWORD)
    web = start_web_hub(sqlite_mesh)
    with web.client() as client:
        for _ in range(5):
            assert sign_in(client, "ada", "guess").status_code == 401
        locked = sign_in(client, "ada", PASSWORD)
        assert locked.status_code == 429 and "too many wrong passwords" in locked.text
        assert client.get("/nodes").status_code == 303


def test_web_user_commands(sqlite_mesh: Mesh) -> None:
    mesh = sqlite_mesh
    add_account(mesh, "ada", "admin", PASSWORD)
    listing = mesh.hub_cli("web-user", "list")
    assert "ada" in listing.stdout and "admin" in listing.stdout and PASSWORD not in listing.stdout
    again = run_cli("hub", "web-user", "remove", "nobody", "--db", mesh.db_url, cwd=mesh.folder)
    assert again.returncode == 1 and again.stderr.strip() == "procmesh-hub: error: there is no account nobody"


def test_a_short_password_is_refused(sqlite_mesh: Mesh) -> None:
    result = add_account(sqlite_mesh, "bob", "viewer", "short", check=False)
    assert result.returncode == 1 and "too short" in result.stderr and "Traceback" not in result.stderr



def test_a_broken_labs_file_is_named_on_the_page_with_its_line(sqlite_mesh: Mesh) -> None:
    sqlite_mesh.watch_file.write_text("anything\n")
    (sqlite_mesh.folder / "labs.txt").write_text("# labs\nLab 1 = re:(unclosed\n")
    web = start_web_hub(sqlite_mesh)
    with web.client() as client:
        page = client.get("/")
        assert page.status_code == 500
        assert "labs.txt" in page.text and "line 2" in page.text and "Traceback" not in page.text
        assert client.get("/nodes").status_code == 200   # pages that need no labs still work


def test_the_dashboard_alone_never_makes_an_empty_database(tmp_path: Path) -> None:
    result = run_cli("hub", "web", "--db", f"sqlite:///{tmp_path / 'typo.db'}", "--web-listen",
                     f"127.0.0.1:{free_port()}", cwd=tmp_path)
    assert result.returncode == 1 and "no database at" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "typo.db").exists()


def test_https_with_web_certfile_and_web_keyfile_marks_the_cookie_secure(sqlite_mesh: Mesh) -> None:
    folder = sqlite_mesh.folder
    sqlite_mesh.watch_file.write_text("anything\n")
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                           "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                           "-keyout", str(folder / "web.key"), "-out", str(folder / "web.crt")],
                          capture_output=True, timeout=60)
    assert made.returncode == 0, made.stderr
    add_account(sqlite_mesh, "ada", "admin", PASSWORD)
    web = start_web_hub(sqlite_mesh, "--web-certfile", str(folder / "web.crt"),
                        "--web-keyfile", str(folder / "web.key"))
    assert "dashboard: https://" in web.hub.log()
    url = web.url.replace("http://", "https://")
    trust = ssl.create_default_context(cafile=str(folder / "web.crt"))
    with httpx.Client(base_url=url, verify=trust, timeout=30) as client:
        assert "secure" in client.get("/login").headers["set-cookie"].lower()
        assert sign_in(client, "ada", PASSWORD).status_code == 303
        assert client.get("/nodes").status_code == 200


def test_a_certificate_without_its_key_is_one_line(sqlite_mesh: Mesh) -> None:
    sqlite_mesh.watch_file.write_text("anything\n")
    result = run_cli("hub", *sqlite_mesh.hub_args(), "--web-listen", f"127.0.0.1:{free_port()}",
                     "--web-certfile", "web.crt", cwd=sqlite_mesh.folder)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == ("procmesh-hub: error: web_certfile and web_keyfile go "
                                                      "together: give both, or neither")


def test_a_certificate_that_cannot_be_read_is_one_line(sqlite_mesh: Mesh) -> None:
    sqlite_mesh.watch_file.write_text("anything\n")
    (sqlite_mesh.folder / "web.crt").write_text("not a certificate\n")
    result = run_cli("hub", *sqlite_mesh.hub_args(), "--web-listen", f"127.0.0.1:{free_port()}",
                     "--web-certfile", "web.crt", "--web-keyfile", "web.key", cwd=sqlite_mesh.folder)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        "procmesh-hub: error: web_certfile web.crt with web_keyfile web.key cannot be used: ")
