"""PostgreSQL from trio: psycopg 3 with its connection pool, in worker threads.

psycopg's async API runs on asyncio only, so each query is a plain psycopg call made in a
trio worker thread (``trio.to_thread.run_sync``); libpq releases the GIL while it waits on
the network, so the event loop keeps serving calls meanwhile.

Every query is bounded three ways: the pool gives up waiting for a connection after
:attr:`Database.timeout`, libpq gives up connecting after ``connect_timeout``, and the
server cancels a statement after ``statement_timeout``. The trio side abandons the thread
one second later still, so a peer that stopped answering at the TCP level cannot hold a
call up either.

The pool opens connections on demand only (``min_size=0``): while the server is down
nothing retries in the background, and the first query after its return connects again.
A connection is checked before it is handed out, so queries after a server restart do not
fail on a connection the server closed.

:class:`Database` also keeps the link's state for ``realtime show status``: an outage is
logged once when it starts and once when it ends.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import psycopg_pool
import trio
from psycopg.rows import dict_row

from pbxedge import log
from pbxedge.realtime.settings import PgsqlSettings

__all__ = ["Database", "DatabaseDown", "DatabaseError", "LinkStatus", "Row"]

Row = dict[str, Any]
_T = TypeVar("_T")

# Queries decide whether a call or a registration is accepted: a few seconds at most.
QUERY_TIMEOUT_S = 3.0
# libpq's smallest useful value (it rounds anything lower up to 2).
CONNECT_TIMEOUT_S = 2
# Worker threads at once: one query per connection.
MAX_CONNECTIONS = 4
RECONNECT_TIMEOUT_S = 1.0
# The trio side waits this much longer than the database's own timeouts.
_ABANDON_MARGIN_S = 1.0
# While the server is down, queries fail at once for this long after a failed attempt:
# a call or a registration does not wait out the timeouts again and again.
RETRY_INTERVAL_S = 2.0

# psycopg_pool logs every failed connection attempt; an outage is reported once, here.
for _name in ("psycopg", "psycopg.pool"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


class DatabaseError(Exception):
    """A query failed for a reason other than the server being unreachable."""


class DatabaseDown(DatabaseError):
    """The server could not be reached (or did not answer in time)."""


@dataclass(frozen=True)
class LinkStatus:
    up: bool
    since: float | None  # unix time of the last change; None before the first query
    last_error: str
    queries: int
    failures: int


class Database:
    """One PostgreSQL connection pool, queried from trio."""

    def __init__(self, settings: PgsqlSettings, *, timeout: float = QUERY_TIMEOUT_S,
                 label: str = "realtime",
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.timeout = timeout
        self.label = label
        self._clock = wall_clock
        self._pool = psycopg_pool.ConnectionPool(
            kwargs={**settings.conninfo(), "connect_timeout": str(CONNECT_TIMEOUT_S),
                    "options": f"-c statement_timeout={math.ceil(timeout * 1000)}",
                    "autocommit": True},
            min_size=0, max_size=MAX_CONNECTIONS, open=False, timeout=timeout,
            check=psycopg_pool.ConnectionPool.check_connection, name=label,
            reconnect_timeout=RECONNECT_TIMEOUT_S)
        self._limiter = trio.CapacityLimiter(MAX_CONNECTIONS)
        self._up: bool | None = None
        self._since: float | None = None
        self._last_error = ""
        self._queries = 0
        self._failures = 0
        self._retry_at = -math.inf  # trio clock

    # -- lifecycle ----------------------------------------------------------------------
    def open(self) -> None:
        self._pool.open(wait=False)

    async def close(self) -> None:
        await trio.to_thread.run_sync(self._pool.close, 2.0, abandon_on_cancel=True)

    # -- state --------------------------------------------------------------------------
    @property
    def up(self) -> bool:
        """False only after a failure, until a query succeeds again."""
        return self._up is not False

    def status(self) -> LinkStatus:
        return LinkStatus(self._up is not False, self._since, self._last_error,
                          self._queries, self._failures)

    def _succeeded(self) -> None:
        if self._up is not True:
            now = self._clock()
            if self._up is False:
                log.notice(f"{self.label}: PostgreSQL {self.settings.describe()} is back after "
                           f"{now - (self._since or now):.0f} s")
            self._up, self._since = True, now
        self._queries += 1

    def _failed(self, why: str) -> None:
        self._failures += 1
        self._retry_at = trio.current_time() + RETRY_INTERVAL_S
        self._last_error = why
        if self._up is not False:
            self._up, self._since = False, self._clock()
            log.error(f"{self.label}: PostgreSQL {self.settings.describe()} is unreachable "
                      f"({why}); cached accounts keep working and writes wait in the local "
                      "store")

    # -- queries ------------------------------------------------------------------------
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """The rows of one SELECT, as column -> value."""
        def work(conn: psycopg.Connection[Any]) -> list[Row]:
            with conn.cursor(row_factory=dict_row) as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()

        return await self.run(work)

    async def run(self, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """*work* with a pooled connection in a worker thread; raises :class:`DatabaseDown`
        when the server cannot be reached in time, :class:`DatabaseError` for other errors."""
        def in_thread() -> _T:
            with self._pool.connection() as conn:
                return work(conn)

        if self._up is False and trio.current_time() < self._retry_at:
            raise DatabaseDown(self._last_error)
        try:
            with trio.fail_after(self.timeout + CONNECT_TIMEOUT_S + _ABANDON_MARGIN_S):
                result = await trio.to_thread.run_sync(in_thread, abandon_on_cancel=True,
                                                       limiter=self._limiter)
        except trio.TooSlowError:
            self._failed("no answer in time")
            raise DatabaseDown("no answer in time") from None
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            why = _first_line(exc)
            if isinstance(exc, psycopg.errors.QueryCanceled):
                why = f"statement timeout: {why}"
            self._failed(why)
            raise DatabaseDown(why) from exc
        except psycopg.Error as exc:
            # The server answered: the link is fine, the statement is not.
            self._succeeded()
            raise DatabaseError(_first_line(exc)) from exc
        self._succeeded()
        return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
