"""Database URL parsing, errors and redaction."""
from __future__ import annotations

import pytest

from hub.storage import DatabaseURL, StorageError, open_storage, parse_db_url, password_in_url

NO_ENV: dict[str, str] = {}


@pytest.mark.parametrize("url, path", [
    ("sqlite:///procmesh.db", "procmesh.db"),
    ("sqlite:///data/procmesh.db", "data/procmesh.db"),
    ("sqlite:////var/lib/procmesh/procmesh.db", "/var/lib/procmesh/procmesh.db"),
    ("SQLite:///procmesh.db", "procmesh.db"),
    ("sqlite:///C:/ProgramData/procmesh/procmesh.db", "C:/ProgramData/procmesh/procmesh.db"),
    ("sqlite:///lab 100%.db", "lab 100%.db"),   # taken literally, not percent-decoded
])
def test_sqlite_urls(url: str, path: str) -> None:
    parsed = parse_db_url(url, NO_ENV)
    assert (parsed.backend, parsed.scheme, parsed.path) == ("sqlite", "sqlite", path)
    assert parsed.redacted() == f"sqlite:///{path}"


@pytest.mark.parametrize("url, message", [
    ("sqlite://host/procmesh.db", "takes no host"),
    ("sqlite://", "takes no host"),
    ("sqlite:///", "names no file"),
])
def test_bad_sqlite_urls(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        parse_db_url(url, NO_ENV)


def test_full_mariadb_url() -> None:
    parsed = parse_db_url("mariadb://hub:s3cret@db.lab.example:3307/procmesh", NO_ENV)
    assert parsed == DatabaseURL(scheme="mariadb", host="db.lab.example", port=3307, user="hub",
                                 password="s3cret", database="procmesh")
    assert parsed.backend == "mariadb"
    assert parsed.redacted() == "mariadb://hub:***@db.lab.example:3307/procmesh"
    assert parsed.server == "db.lab.example:3307"


def test_mysql_scheme_and_default_port() -> None:
    parsed = parse_db_url("mysql://hub@10.0.0.5/procmesh", NO_ENV)
    assert (parsed.backend, parsed.scheme, parsed.port, parsed.password) == ("mariadb", "mysql", 3306, "")
    assert parsed.redacted() == "mysql://hub@10.0.0.5:3306/procmesh"


def test_user_password_and_database_are_url_decoded() -> None:
    parsed = parse_db_url("mariadb://lab%20hub:p%40ss%3Aw%2Fo%23rd@db/proc%2Dmesh", NO_ENV)
    assert (parsed.user, parsed.password, parsed.database) == ("lab hub", "p@ss:w/o#rd", "proc-mesh")
    assert parsed.redacted() == "mariadb://lab%20hub:***@db:3306/proc-mesh"


def test_ipv6_host() -> None:
    parsed = parse_db_url("mariadb://hub@[::1]:3307/procmesh", NO_ENV)
    assert (parsed.host, parsed.port, parsed.server) == ("::1", 3307, "[::1]:3307")
    assert parsed.redacted() == "mariadb://hub@[::1]:3307/procmesh"


def test_unix_socket() -> None:
    parsed = parse_db_url("mariadb://hub@/procmesh?unix_socket=/run/mysqld/mysqld.sock", NO_ENV)
    assert (parsed.host, parsed.unix_socket, parsed.server) == ("", "/run/mysqld/mysqld.sock",
                                                                 "/run/mysqld/mysqld.sock")
    assert parsed.redacted() == "mariadb://hub@/procmesh?unix_socket=/run/mysqld/mysqld.sock"
    with_host = parse_db_url("mariadb://hub@localhost/procmesh?unix_socket=/tmp/my.sock", NO_ENV)
    assert (with_host.host, with_host.unix_socket) == ("localhost", "/tmp/my.sock")


def test_password_from_the_environment_when_the_url_has_none() -> None:
    env = {"PROCMESH_DB_PASSWORD": "from-env"}
    assert parse_db_url("mariadb://hub@db/procmesh", env).password == "from-env"
    assert parse_db_url("mariadb://hub:in-url@db/procmesh", env).password == "in-url"
    assert parse_db_url("mariadb://hub:@db/procmesh", env).password == ""   # explicitly empty
    assert parse_db_url("mariadb://hub@db/procmesh", env).redacted() == "mariadb://hub:***@db:3306/procmesh"


def test_password_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCMESH_DB_PASSWORD", "from-process-env")
    assert parse_db_url("mariadb://hub@db/procmesh").password == "from-process-env"


def test_repr_never_shows_the_password() -> None:
    assert "s3cret" not in repr(parse_db_url("mariadb://hub:s3cret@db/procmesh", NO_ENV))


@pytest.mark.parametrize("url, message", [
    ("mariadb://s3cret-host-only/procmesh", "names no user"),
    ("mariadb://hub:s3cret@/procmesh", "names no host"),
    ("mariadb://hub:s3cret@db", "must name one database"),
    ("mariadb://hub:s3cret@db/", "must name one database"),
    ("mariadb://hub:s3cret@db/a/b", "must name one database"),
    ("mariadb://hub:s3cret@db:port/procmesh", "invalid host or port"),
    ("mariadb://hub:s3cret@db:70000/procmesh", "invalid host or port"),
    ("mariadb://hub:s3cret@db:0/procmesh", "port 0"),
    ("mariadb://hub:s3cret@[::1/procmesh", "invalid host or port"),
    ("mariadb://hub:s3cr#et@db/procmesh", "contains '#'"),
    ("mariadb://hub:s3cret@db/procmesh?ssl=1", "unknown option 'ssl'"),
])
def test_bad_mariadb_urls_say_why_without_the_password(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message) as raised:
        parse_db_url(url, NO_ENV)
    assert "s3cr" not in str(raised.value)


@pytest.mark.parametrize("url, message", [
    ("postgres://hub:s3cret@db/procmesh", "unsupported database URL scheme 'postgres': use sqlite:///FILE or "
                                          "mariadb://USER@HOST/DB"),
    ("procmesh.db", "the database URL has no scheme: use sqlite:///FILE or mariadb://USER@HOST/DB"),
    ("hub:s3cret@db/procmesh", "the database URL has no scheme"),
    ("", "the database URL has no scheme"),
])
def test_unsupported_urls(url: str, message: str) -> None:
    with pytest.raises(StorageError) as raised:
        open_storage(url)
    assert str(raised.value) == message or str(raised.value).startswith(message)
    assert "s3cret" not in str(raised.value)


def test_password_from_a_file_without_its_line_end(tmp_path) -> None:
    secret = tmp_path / "db-password"
    secret.write_text("s3cret pass\r\n")
    parsed = parse_db_url("mariadb://hub@db/procmesh", NO_ENV, password_file=str(secret))
    assert parsed.password == "s3cret pass"
    assert parsed.redacted() == "mariadb://hub:***@db:3306/procmesh"


@pytest.mark.parametrize("url, env, message", [
    ("mariadb://hub:inline@db/procmesh", {}, "in the database URL and in db_password_file"),
    ("mariadb://hub@db/procmesh", {"PROCMESH_DB_PASSWORD": "fromenv"}, "in PROCMESH_DB_PASSWORD and in db_password_file"),
])
def test_a_password_file_with_another_password_is_an_error(tmp_path, url: str, env, message: str) -> None:
    secret = tmp_path / "db-password"
    secret.write_text("s3cret\n")
    with pytest.raises(StorageError, match=message) as caught:
        parse_db_url(url, env, password_file=str(secret))
    assert "s3cret" not in str(caught.value) and "inline" not in str(caught.value)


@pytest.mark.parametrize("content, message", [(None, "cannot read the database password file"),
                                              ("\n", "is empty"), (b"\xff\xfe", "is not UTF-8")])
def test_unusable_password_files_are_one_clear_line(tmp_path, content, message: str) -> None:
    secret = tmp_path / "db-password"
    if isinstance(content, bytes):
        secret.write_bytes(content)
    elif content is not None:
        secret.write_text(content)
    with pytest.raises(StorageError, match=message):
        parse_db_url("mariadb://hub@db/procmesh", NO_ENV, password_file=str(secret))


@pytest.mark.parametrize("url, inline", [
    ("mariadb://hub:s3cret@db/procmesh", True), ("mariadb://hub:@db/procmesh", True),
    ("mariadb://hub@db/procmesh", False), ("sqlite:///procmesh.db", False), ("mariadb://[bad", False),
])
def test_password_in_url(url: str, inline: bool) -> None:
    assert password_in_url(url) is inline
