"""Database fixtures: a fresh SQLite file or a fresh MariaDB database per test."""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pymysql
import pytest

from hub.storage import DatabaseURL, Storage, open_storage, parse_db_url
from hub.storage.mariadb import connect_kwargs
from tests.fakeapps import fake_app  # noqa: F401  (a fixture, shared by every test module)
from tests.processes import Mesh

DEFAULT_TEST_MARIADB = "mariadb://root@127.0.0.1:3306/test"


def _test_dsn() -> str:
    return os.environ.get("PROCMESH_TEST_MARIADB", DEFAULT_TEST_MARIADB)


@pytest.fixture(scope="session")
def mariadb_server() -> DatabaseURL:
    """The test server, checked once per session: a missing server costs one timeout, not one per test.

    pytest remembers a session fixture's skip or failure and repeats it for every later test.
    """
    url = parse_db_url(_test_dsn())
    try:
        pymysql.connect(**connect_kwargs(url)).close()
    except pymysql.Error as exc:
        reason = f"MariaDB not reachable at {url.redacted()}: {exc.args[-1] if exc.args else exc}"
        if os.environ.get("PROCMESH_REQUIRE_MARIADB") == "1":
            pytest.fail(reason + " (PROCMESH_REQUIRE_MARIADB=1)")
        pytest.skip(reason)
    return url


@pytest.fixture
def mariadb_admin(mariadb_server: DatabaseURL) -> Iterator[pymysql.connections.Connection]:
    """A connection of the test DSN's account, outside the storage under test, in autocommit."""
    conn = pymysql.connect(**{**connect_kwargs(mariadb_server), "autocommit": True})
    with conn.cursor() as cursor:
        # A test that leaves a transaction open must not hang DROP DATABASE for a year.
        cursor.execute("SET SESSION lock_wait_timeout = 10")
    yield conn
    conn.close()


def new_database(admin: pymysql.connections.Connection, server_dsn: str) -> tuple[str, str]:
    """Create a fresh, empty database `procmesh_t_<hex>` on admin's server; its name and URL."""
    name = f"procmesh_t_{secrets.token_hex(6)}"
    with admin.cursor() as cursor:
        # An identifier cannot be a parameter; name is our own hex.
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return name, urlunsplit(urlsplit(server_dsn)._replace(path=f"/{name}"))


@pytest.fixture
def mariadb_url(mariadb_admin: pymysql.connections.Connection) -> Iterator[str]:
    """URL of a fresh, empty database, dropped after the test."""
    name, url = new_database(mariadb_admin, _test_dsn())
    try:
        yield url
    finally:
        with mariadb_admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'procmesh.db'}"


@pytest.fixture(params=["sqlite", "mariadb"])
def storage_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@contextmanager
def storage_with_schema(url: str) -> Iterator[Storage]:
    """An open storage with its tables created, closed afterwards."""
    with open_storage(url) as store:
        store.ensure_schema()
        yield store


@pytest.fixture
def storage(storage_url: str) -> Iterator[Storage]:
    """An open storage with its tables created, on each backend."""
    with storage_with_schema(storage_url) as store:
        yield store


@pytest.fixture
def new_mesh(tmp_path: Path) -> Iterator[Callable[..., Mesh]]:
    """``new_mesh(db_url, watch=TEXT, interval=..., grace=...)``: a Mesh in the test's folder, with
    that watch list; every process it started is stopped after the test."""
    meshes: list[Mesh] = []

    def make(db_url: str, *, watch: str | None = None, **options: Any) -> Mesh:
        mesh = Mesh(tmp_path, db_url, **options)
        if watch is not None:
            mesh.watch_file.write_text(watch)
        meshes.append(mesh)
        return mesh

    yield make
    for mesh in meshes:
        mesh.close()


@pytest.fixture
def sqlite_mesh(new_mesh: Callable[..., Mesh], sqlite_url: str) -> Mesh:
    return new_mesh(sqlite_url)
