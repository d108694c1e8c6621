"""The SQL shipped with pbxedge: Asterisk's Realtime tables and pbxedge's migration.

``pbxedge realtime-sql tables`` prints the tables as Asterisk's alembic scripts create
them (for a new database), ``pbxedge realtime-sql migrate`` the statements that add
what pbxedge uses on top (the ``regserver`` column); both are meant for ``psql``.
"""

from __future__ import annotations

import sys
from importlib import resources

__all__ = ["SCRIPTS", "realtime_sql_main", "sql_text"]

SCRIPTS = ("tables", "migrate")


def sql_text(name: str) -> str:
    if name not in SCRIPTS:
        raise ValueError(f"no SQL script {name!r}; choose from {', '.join(SCRIPTS)}")
    return resources.files("pbxedge.realtime").joinpath(f"sql/{name}.sql").read_text()


def realtime_sql_main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in SCRIPTS:
        print(f"usage: pbxedge realtime-sql {{{'|'.join(SCRIPTS)}}}", file=sys.stderr)
        return 2
    sys.stdout.write(sql_text(argv[0]))
    return 0
