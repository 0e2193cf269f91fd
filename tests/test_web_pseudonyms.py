"""pseudonymize_users: no user name on the dashboard, to admins either, nor in ``report`` output; the
same person has the same pseudonym in both."""
from __future__ import annotations

import time

from common.ids import new_sid
from hub.storage import NodeRow, SessionRow, open_storage
from hub.web.pseudonym import Pseudonymizer
from tests.fakeapps import unique_name
from tests.processes import Mesh, python_env, run_cli
from tests.webhub import add_account, sign_in, start_web_hub


def store_a_session(mesh: Mesh, user: str) -> None:
    now = time.time()
    with open_storage(mesh.db_url) as storage:
        storage.ensure_schema()
        storage.write([SessionRow(new_sid(), f"pc-9/{user}", "10.0.0.9", user, "pc-9", "editor", now - 60,
                                  now)],
                      [NodeRow(f"pc-9/{user}", "pc-9", user, "10.0.0.9", "Linux", "test", "", now, True)])


def test_pseudonymize_users_hides_names_from_admins_and_from_report(sqlite_mesh: Mesh) -> None:
    mesh = sqlite_mesh
    mesh.watch_file.write_text("editor\n")
    user = unique_name("pmname")
    store_a_session(mesh, user)
    alias = Pseudonymizer.from_keys_dir(mesh.folder / "keys")(user)

    web = start_web_hub(mesh, "--pseudonymize-users")
    with web.client() as client:   # open on loopback: an admin
        for path in ("/usage?table=user", "/usage.csv?table=user", "/nodes", "/nodes.csv", "/", "/now.csv"):
            body = client.get(path).text
            assert user not in body, path
        assert alias in client.get("/usage.csv?table=user").text

    env = {**python_env(mesh.folder), "PROCMESH_PSEUDONYMIZE_USERS": "true"}
    hidden = run_cli("hub", "report", "--by", "user", "--db", mesh.db_url, cwd=mesh.folder, env=env)
    assert hidden.returncode == 0, hidden.stderr
    assert user not in hidden.stdout and alias in hidden.stdout
    shown = mesh.hub_cli("report", "--by", "user")
    assert user in shown.stdout


def test_a_kept_answer_shows_a_viewer_pseudonyms_after_an_admin_saw_the_names(sqlite_mesh: Mesh) -> None:
    """Pages keep one answer, and its renderings, for everyone: an admin's rendering with names
    must never be what a viewer is served."""
    mesh = sqlite_mesh
    mesh.watch_file.write_text("editor\n")
    user = unique_name("pmname")
    store_a_session(mesh, user)
    add_account(mesh, "ada", "admin", "admin-password")
    add_account(mesh, "vic", "viewer", "viewer-password")
    web = start_web_hub(mesh, "--web-cache-seconds", "600")
    paths = ("/usage", "/usage.csv?table=user", "/nodes", "/nodes.csv")
    with web.client() as admin:
        sign_in(admin, "ada", "admin-password")
        for path in paths:
            assert user in admin.get(path).text, path
    with web.client() as viewer:
        sign_in(viewer, "vic", "viewer-password")
        for path in paths:
            assert user not in viewer.get(path).text, path
