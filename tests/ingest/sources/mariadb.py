"""A real MariaDB on 127.0.0.1 for the SQL connector tests (Debian's mariadb-server).

The fixture installs nothing: it makes a throw-away data directory with ``mariadb-install-db``,
starts the system's ``mariadbd`` as root on a free port of 127.0.0.1 (and a socket in the same
directory), creates a user with a password, and stops it at the end of the session. Without the
server, or without root, tests that use it skip and say how to install it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

INSTALL = "apt-get install -y mariadb-server"
USER, PASSWORD = "docket", "Md-pass-1"
_counter = itertools.count()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MariaDB:
    """One MariaDB server, reached on ``127.0.0.1:port`` (tests) or ``socket`` (root, for setup)."""

    root: Path
    port: int
    socket: Path

    def url(self, database: str, user: str = USER) -> str:
        """A URL without the password (the connector refuses one): give it through ``password_env``."""
        return f"mysql://{user}@127.0.0.1:{self.port}/{database}"

    def sql(self, script: str, database: str | None = None) -> list[tuple[Any, ...]]:
        """Run ``;``-separated statements as root over the socket; the last one's rows."""
        import pymysql

        conn = pymysql.connect(unix_socket=str(self.socket), user="root", database=database, autocommit=True)
        rows: list[tuple[Any, ...]] = []
        try:
            with conn.cursor() as cur:
                for statement in filter(None, (s.strip() for s in script.split(";"))):
                    cur.execute(statement)
                    rows = list(cur.fetchall())
        finally:
            conn.close()
        return rows

    def create_database(self) -> str:
        name = f"docket_test_{next(_counter)}"
        # every right on it, so that only the connector's read-only transaction stops a write
        self.sql(f"CREATE DATABASE {name}; GRANT ALL ON {name}.* TO '{USER}'@'%'")
        return name


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    server = shutil.which("mariadbd") or next(
        (p for p in ("/usr/sbin/mariadbd", "/usr/sbin/mysqld") if Path(p).exists()), None
    )
    install_db = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if server is None or install_db is None:
        pytest.skip(f"MariaDB is not installed; install it with: {INSTALL}")
    if os.geteuid() != 0:
        pytest.skip("starting MariaDB for the SQL tests needs root")
    try:
        import pymysql  # noqa: F401
    except ImportError:
        pytest.skip("the MariaDB tests need PyMySQL: pip install -e '.[sql]'")
    root = Path(tempfile.mkdtemp(prefix="docket-maria-"))  # short: the socket path has a length limit
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [
                install_db,
                "--no-defaults",
                f"--datadir={root / 'data'}",
                "--auth-root-authentication-method=normal",
                "--user=root",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        port, sock = _free_port(), root / "mariadb.sock"
        process = subprocess.Popen(
            [
                server,
                "--no-defaults",
                f"--datadir={root / 'data'}",
                "--user=root",
                "--skip-networking=0",
                "--bind-address=127.0.0.1",
                f"--port={port}",
                f"--socket={sock}",
                f"--pid-file={root / 'mariadb.pid'}",
                f"--log-error={root / 'error.log'}",
                "--innodb-buffer-pool-size=16M",
                "--skip-log-bin",
                "--skip-name-resolve",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ready = False
        for _ in range(300):
            if process.poll() is not None:
                break
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                ready = sock.exists()
            if ready:
                break
            time.sleep(0.1)
        if not ready:
            log = root / "error.log"
            pytest.fail("MariaDB did not start: " + (log.read_text(errors="replace") if log.exists() else "no log"))
        db = MariaDB(root, port, sock)
        # anonymous users (where the install made them) would shadow the test user on 127.0.0.1
        anonymous = db.sql("SELECT Host FROM mysql.user WHERE User = ''")
        db.sql(
            ";".join(f"DROP USER ''@'{host}'" for (host,) in anonymous)
            + f";CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'"
        )
        yield db
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mariadb_database(mariadb: MariaDB) -> Iterator[str]:
    """The name of an empty database of this test's own, which the test user may read and write."""
    name = mariadb.create_database()
    try:
        yield name
    finally:
        mariadb.sql(f"DROP DATABASE IF EXISTS {name}")
