"""One private PostgreSQL server for the whole session; each test gets a fresh database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.realtime.pgserver import PgServer, find_pg_bin


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries are not installed (Debian package "
                    "'postgresql', which `make deps` installs)")
    server = PgServer(bin_dir)
    try:
        server.init()
        server.start()
        server.prepare_template()
        yield server
    finally:
        server.remove()


@pytest.fixture
def pg_db(pg_server: PgServer) -> str:
    """The name of a new database holding Asterisk's tables and pbxedge's migration."""
    return pg_server.create_database()
