"""A MariaDB server of the test's own, in a throwaway data folder, that a test may stop and start.

The shared test server (PROCMESH_TEST_MARIADB) serves other tests and other people; a database
outage is caused on this one instead. It listens on 127.0.0.1 on a free port; root has no password.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pymysql
import pytest

from tests.processes import free_port
from tests.waiting import wait_for

SBIN = ("/usr/sbin", "/usr/local/sbin")
# Small, so that installing takes a second and the server leaves memory to the tests.
SIZES = ("--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M")


def _program(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))


def _as_mysql() -> list[str]:
    # mariadbd refuses to run as root; a tester who is not root runs it as themselves.
    return ["--user=mysql"] if os.geteuid() == 0 else []


class ThrowawayMariaDB:
    """``install()`` once, then ``start()`` and ``stop()`` as often as a test needs; ``remove()``."""

    def __init__(self, install_db: str, server: str) -> None:
        # Not under pytest's tmp folder: that is private to root, and the server runs as mysql.
        self.folder = Path(tempfile.mkdtemp(prefix="procmesh-mariadb-"))
        self.datadir = self.folder / "data"
        # Its own temporary folder: at start mariadbd deletes the temporary-table files it finds in
        # its tmpdir, and in the shared /tmp those belong to the machine's main server's queries.
        self.tmpdir = self.folder / "tmp"
        self.port = free_port()
        self._install_db = install_db
        self._server = server
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mariadb://root@127.0.0.1:{self.port}/mysql"

    def install(self) -> None:
        self.tmpdir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "mysql")
            shutil.chown(self.tmpdir, "mysql")
        result = subprocess.run(
            [self._install_db, "--no-defaults", f"--datadir={self.datadir}", f"--tmpdir={self.tmpdir}",
             *_as_mysql(), "--auth-root-authentication-method=normal", "--skip-test-db", *SIZES],
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"mariadb-install-db failed:\n{result.stdout}{result.stderr}"

    def start(self, timeout: float = 60.0) -> None:
        """Start the server on the same data folder and port, and wait until it answers."""
        assert not self.running
        with open(self.folder / "server.log", "ab") as log:
            self._proc = subprocess.Popen(
                [self._server, "--no-defaults", f"--datadir={self.datadir}", f"--tmpdir={self.tmpdir}",
                 f"--port={self.port}",
                 "--bind-address=127.0.0.1", f"--socket={self.folder / 'sock'}",
                 f"--pid-file={self.folder / 'pid'}", *_as_mysql(), "--skip-name-resolve",
                 "--skip-log-bin", *SIZES],
                stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._answers, timeout, f"the throwaway MariaDB on port {self.port}", interval=0.1)

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM, as a service manager stops it, and wait until it has exited."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGTERM)
            self._proc.wait(timeout)
            self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def remove(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(30)
            self._proc = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        return (self.folder / "server.log").read_text(errors="replace")

    def _answers(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise AssertionError(f"the throwaway MariaDB exited:\n{self.log()}")
        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=2).close()
        except pymysql.Error:
            return False
        return True


def throwaway_mariadb() -> ThrowawayMariaDB:
    """An installed, not yet started server; skipped (or failed, under PROCMESH_REQUIRE_MARIADB=1)
    when the MariaDB server programs are not installed."""
    install_db, server = _program("mariadb-install-db"), _program("mariadbd")
    if install_db is None or server is None:
        reason = "needs the MariaDB server programs (mariadb-install-db, mariadbd)"
        if os.environ.get("PROCMESH_REQUIRE_MARIADB") == "1":
            pytest.fail(reason + " (PROCMESH_REQUIRE_MARIADB=1)")
        pytest.skip(reason)
    instance = ThrowawayMariaDB(install_db, server)
    try:
        instance.install()
    except BaseException:
        instance.remove()
        raise
    return instance
