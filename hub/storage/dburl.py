"""Database URLs: `sqlite:///FILE` and `mariadb://USER[:PASSWORD]@HOST[:PORT]/DB` (`mysql://` too)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .base import StorageError

SQLITE_SCHEMES = ("sqlite",)
MARIADB_SCHEMES = ("mariadb", "mysql")
DEFAULT_PORT = 3306
PASSWORD_ENV = "PROCMESH_DB_PASSWORD"
URL_FORMS = "use sqlite:///FILE or mariadb://USER@HOST/DB"


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    scheme: str                                     # as written: sqlite, mariadb or mysql
    path: str = ""                                  # SQLite: the database file
    host: str = ""
    port: int = DEFAULT_PORT
    user: str = ""
    password: str = field(default="", repr=False)
    database: str = ""
    unix_socket: str = ""

    @property
    def backend(self) -> str:
        return "sqlite" if self.scheme in SQLITE_SCHEMES else "mariadb"

    @property
    def server(self) -> str:
        """Where the MariaDB server is, for messages: `host:port` or the socket path."""
        return self.unix_socket or f"{_url_host(self.host)}:{self.port}"

    def redacted(self) -> str:
        """The URL with the password shown as `***`, fit for logs and error messages."""
        if self.backend == "sqlite":
            return f"{self.scheme}:///{self.path}"
        credentials = quote(self.user, safe="") + (":***" if self.password else "")
        address = f"{_url_host(self.host)}:{self.port}" if self.host else ""
        options = f"?unix_socket={quote(self.unix_socket)}" if self.unix_socket else ""
        return f"{self.scheme}://{credentials}@{address}/{quote(self.database, safe='')}{options}"


def parse_db_url(url: str, environ: Mapping[str, str] | None = None,
                 password_file: str = "") -> DatabaseURL:
    """Parse a database URL; raise StorageError whose message never repeats a password.

    The password comes from the URL, else from PROCMESH_DB_PASSWORD, else from ``password_file``;
    the file and another source together are an error, so nobody wonders which one counts.
    """
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator:
        raise StorageError(f"the database URL has no scheme: {URL_FORMS}")
    if scheme not in SQLITE_SCHEMES + MARIADB_SCHEMES:
        raise StorageError(f"unsupported database URL scheme {scheme!r}: {URL_FORMS}")
    if scheme in SQLITE_SCHEMES:
        return _parse_sqlite(scheme, rest)
    return _parse_mariadb(url, os.environ if environ is None else environ, password_file)


def _parse_sqlite(scheme: str, rest: str) -> DatabaseURL:
    # The file name is taken literally (no percent-decoding): Windows paths and odd names survive.
    if not rest.startswith("/"):
        raise StorageError(f"an SQLite URL takes no host: use {scheme}:///FILE (relative) "
                           f"or {scheme}:////ABSOLUTE/PATH")
    path = rest[1:]
    if not path:
        raise StorageError(f"the SQLite URL names no file: use {scheme}:///FILE")
    return DatabaseURL(scheme=scheme, path=path)


def _parse_mariadb(url: str, environ: Mapping[str, str], password_file: str) -> DatabaseURL:
    try:
        parts = urlsplit(url)
        if parts.fragment:
            raise StorageError("the database URL contains '#': write it as %23 (e.g. in the password)")
        port = parts.port
    except ValueError:
        raise StorageError("the database URL has an invalid host or port: use HOST, HOST:PORT or "
                           "[IPV6]:PORT with a port from 1 to 65535, and percent-encode / ? # @ : "
                           "in the password") from None
    if port == 0:
        raise StorageError("the database URL has port 0: use a port from 1 to 65535")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - {"unix_socket"})
    if unknown:
        raise StorageError(f"unknown option {unknown[0]!r} in the database URL: "
                           "only unix_socket is supported")
    user = unquote(parts.username or "")
    if password_file and (parts.password is not None or environ.get(PASSWORD_ENV)):
        where = "the database URL" if parts.password is not None else PASSWORD_ENV
        raise StorageError(f"the database password is given twice, in {where} and in db_password_file: "
                           "keep one")
    if password_file:
        password = read_password_file(password_file)
    elif parts.password is None:
        password = environ.get(PASSWORD_ENV, "")
    else:
        password = unquote(parts.password)
    database = unquote(parts.path[1:])
    host = parts.hostname or ""
    unix_socket = options.get("unix_socket", "")
    if not user:
        raise StorageError(f"the database URL names no user: {URL_FORMS}")
    if not host and not unix_socket:
        raise StorageError(f"the database URL names no host: {URL_FORMS} (or ?unix_socket=/PATH)")
    if not database or "/" in database:
        raise StorageError(f"the database URL must name one database after the host: {URL_FORMS}")
    return DatabaseURL(scheme=parts.scheme.lower(), host=host, port=port or DEFAULT_PORT, user=user,
                       password=password, database=database, unix_socket=unix_socket)


def read_password_file(path: str) -> str:
    """The password in ``path``: its first line, without the line end an editor adds."""
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            password = handle.readline().rstrip("\r\n")
    except OSError as exc:
        raise StorageError(f"cannot read the database password file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise StorageError(f"the database password file {path} is not UTF-8 text") from None
    if not password:
        raise StorageError(f"the database password file {path} is empty")
    return password


def password_in_url(url: str) -> bool:
    """Whether a MariaDB URL carries its password (which then shows in the process list)."""
    try:
        return urlsplit(url).password is not None
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
