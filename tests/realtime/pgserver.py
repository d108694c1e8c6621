"""A private PostgreSQL server for the tests: Debian's binaries, a cluster in a temp folder.

PostgreSQL refuses to run as root, so when the tests run as root the cluster belongs to
the unprivileged ``nobody``. Settings favour speed over durability (no fsync): the data
lives only as long as the test session. Connections use TCP on 127.0.0.1 with a password,
as a node in production would.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from pbxedge.realtime.schema import sql_text
from pbxedge.realtime.settings import PgsqlSettings

__all__ = ["PgServer", "find_pg_bin"]

ADMIN = "postgres"
ADMIN_PASSWORD = "pgadmin"
USER = "asterisk"
PASSWORD = "asterisk-secret"
TEMPLATE = "rt_template"
_LIMIT_S = 60


def find_pg_bin() -> Path | None:
    """The newest installed server's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PgServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="pg-"))
        self.data = self.root / "data"
        self.port = _free_tcp_port()
        self._user = "nobody" if os.geteuid() == 0 else None
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._counter = 0

    # -- the server ---------------------------------------------------------------------
    def _run(self, *args: str) -> None:
        subprocess.run([str(self.bin / args[0]), *args[1:]], cwd=self.root, user=self._user,
                       check=True, capture_output=True, timeout=_LIMIT_S)

    def init(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(ADMIN_PASSWORD + "\n")
        if self._user is not None:
            shutil.chown(pwfile, self._user)
        self._run("initdb", "-D", str(self.data), "-U", ADMIN, f"--pwfile={pwfile}",
                  "-A", "scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions")
        pwfile.unlink()
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "shared_buffers = 16MB\nmax_connections = 60\n")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", str(_LIMIT_S), "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ----------------------------------------------------------------------
    def admin(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=ADMIN,
                               password=ADMIN_PASSWORD, dbname=dbname, autocommit=True)

    def prepare_template(self) -> None:
        """The role the nodes use and a template with Asterisk's tables plus the migration."""
        with self.admin() as db:
            db.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
            db.execute(f"CREATE DATABASE {TEMPLATE} OWNER {USER}")
        with psycopg.connect(**self.settings(TEMPLATE).conninfo(), autocommit=True) as db:
            db.execute(sql_text("tables"))
            db.execute(sql_text("migrate"))

    def create_database(self, *, migrated: bool = True) -> str:
        """A fresh database with the tables (and the regserver column unless not *migrated*)."""
        self._counter += 1
        name = f"rt{self._counter}"
        with self.admin() as db:
            db.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} OWNER {USER}")
        if not migrated:
            with self.connect(name) as db:
                db.execute("ALTER TABLE iaxfriends DROP COLUMN regserver")
        return name

    def settings(self, dbname: str) -> PgsqlSettings:
        return PgsqlSettings(hostname="127.0.0.1", port=self.port, dbname=dbname, user=USER,
                             password=PASSWORD)

    def connect(self, dbname: str) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.settings(dbname).conninfo(), autocommit=True)

    def res_pgsql_conf(self, dbname: str) -> str:
        return (f"[general]\nhostname=127.0.0.1\nport={self.port}\ndbname={dbname}\n"
                f"user={USER}\npassword={PASSWORD}\nrequirements=warn\n")
