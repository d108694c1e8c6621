"""Registration updates and CDRs for the shared database, through the local outbox.

Every write is first committed to the node's SQLite store (:meth:`Store.outbox_add`), then
a flusher task copies what is pending to PostgreSQL in batches, one transaction per batch,
and deletes it locally only once PostgreSQL has committed. So a database outage (or a
node restart during one) loses nothing: the writes wait, and the flusher tries again every
:data:`RETRY_S` seconds; when the server is back they are written within seconds.

Nothing is written twice either. Every entry is marked attempted in the store before it
is sent, so after a failure whose outcome is unknown (the link dropped around the COMMIT,
the node stopped meanwhile) a CDR is inserted again only if no row has its ``uniqueid``. Registration updates are idempotent and guarded:

- a registration (``ipaddr``, ``port``, ``regseconds``, and ``regserver`` with
  ``rtsavesysname``) is written only over an older one, so a late write from a node that was
  cut off cannot move a peer back to where it used to be;
- a clearing (REGREL or expiry) writes NULLs (Asterisk writes ``port = ''``, which an
  INTEGER column refuses, realtime.md §0 trap 1) and only while the row still holds this
  node's registration, not a newer one made at another node.

CDRs go to cdr_pgsql's table: every column whose name is a CDR field is written, in the
column's type (timestamps as local time, as cdr_pgsql writes them by default).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import psycopg
import trio
from psycopg import sql

from pbxedge.cdr.record import CdrRecord
from pbxedge.realtime.database import Database, DatabaseDown, DatabaseError
from pbxedge.store import OutboxEntry, Store, StoreError

__all__ = ["CDR", "CONFIG", "RETRY_S", "RealtimeWriter"]

logger = logging.getLogger("pbxedge.realtime")

CONFIG = "config"  # the res_pgsql.conf database (iaxfriends)
CDR = "cdr"  # the cdr_pgsql.conf database
RETRY_S = 1.0
BATCH = 500

_REGISTER = "register"
_UNREGISTER = "unregister"
_CDR = "cdr"

# The CDR fields cdr_pgsql knows, by column name; calldate is the start time.
_CDR_TIMES = ("start", "answer", "end", "calldate")
_CDR_FIELDS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
               "lastapp", "lastdata", "duration", "billsec", "disposition", "amaflags",
               "userfield", "uniqueid", "linkedid", "peeraccount", "sequence", *_CDR_TIMES)


class RealtimeWriter:
    """Queues writes in the store and copies them to PostgreSQL."""

    def __init__(self, store: Store, databases: Mapping[str, Database], *,
                 peers_table: str | None, cdr_table: str | None,
                 regserver: str | None, initiated_seconds: bool = False,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._databases = dict(databases)
        self._peers_table = peers_table
        self._cdr_table = cdr_table
        self._regserver = regserver
        self._initiated_seconds = initiated_seconds
        self._wall_clock = wall_clock
        self._wake = trio.Event()
        self._columns: dict[tuple[str, str], dict[str, str]] = {}  # (target, table) -> types
        self.written = 0

    # -- queueing (from the trio thread, synchronous) ------------------------------------
    def registered(self, peer: str, addr: tuple[str, int], regseconds: int) -> None:
        self._queue(CONFIG, _REGISTER, {"name": peer, "ipaddr": addr[0], "port": addr[1],
                                        "regseconds": regseconds}, key=peer)

    def unregistered(self, peer: str, registered_at: int) -> None:
        """Clear the row, if it still shows the registration made at *registered_at*."""
        self._queue(CONFIG, _UNREGISTER, {"name": peer, "regseconds": registered_at}, key=peer)

    def save_cdr(self, record: CdrRecord) -> None:
        """A :class:`~pbxedge.cdr.recorder.CdrSink`: the record, for cdr_pgsql's table."""
        if self._cdr_table is None:
            return
        fields = dataclasses.asdict(record)
        fields.update(disposition=record.disposition.value, amaflags=record.amaflags.value,
                      duration=record.duration,
                      billsec=record.billsec(initiated_seconds=self._initiated_seconds))
        self._queue(CDR, _CDR, fields)

    def _queue(self, target: str, kind: str, payload: dict[str, Any], *,
               key: str | None = None) -> None:
        if target not in self._databases:
            return
        try:
            self._store.outbox_add(target, kind, json.dumps(payload), key=key)
        except StoreError as exc:
            logger.error("cannot queue a %s write for PostgreSQL: %s", kind, exc)
            return
        self._wake.set()

    def pending(self, target: str | None = None) -> int:
        try:
            return self._store.outbox_count(target)
        except StoreError:
            return 0

    # -- flushing -----------------------------------------------------------------------
    async def run(self) -> None:
        """Copy the outbox to PostgreSQL until cancelled."""
        while True:
            busy = False
            for target in self._databases:
                busy = await self._flush(target) or busy
            if busy:  # more is pending than one batch, or the server is away: try again soon
                with trio.move_on_after(RETRY_S):
                    await self._wake.wait()
            else:
                await self._wake.wait()
            self._wake = trio.Event()

    async def flush_now(self) -> bool:
        """Write everything pending; True when nothing is left (tests and shutdown)."""
        for target in self._databases:
            while await self._flush(target):
                if not self._databases[target].up:
                    return False
        return self.pending() == 0

    async def _flush(self, target: str) -> bool:
        """One batch for *target*; True while something remains to be done."""
        try:
            entries = self._store.outbox_pending(target, BATCH)
        except StoreError as exc:
            logger.error("cannot read the outbox: %s", exc)
            return True
        if not entries:
            return False
        db = self._databases[target]
        # Counted before the try: if this node stops or the link drops around the COMMIT,
        # the next try cannot know whether PostgreSQL has the rows.
        self._mark_attempted(entries)
        try:
            await db.run(lambda conn: self._write_batch(conn, target, entries))
        except DatabaseDown:
            return True
        except DatabaseError as exc:
            logger.error("PostgreSQL refused a batch of %d writes (%s); writing them one by one",
                         len(entries), exc)
            self._columns.clear()
            await self._write_singly(db, target, entries)
            return True
        self._done(entries)
        return len(entries) == BATCH

    async def _write_singly(self, db: Database, target: str, entries: list[OutboxEntry]) -> None:
        for entry in entries:
            def one(conn: psycopg.Connection[Any], batch: list[OutboxEntry] = [entry]) -> None:  # noqa: B006
                self._write_batch(conn, target, batch)

            try:
                await db.run(one)
            except DatabaseDown:
                return
            except DatabaseError as exc:
                # It can never succeed (a value the table refuses): say what is dropped.
                logger.error("PostgreSQL refused a %s write, dropped: %s: %s", entry.kind, exc,
                             entry.payload)
            self._done([entry])

    def _mark_attempted(self, entries: list[OutboxEntry]) -> None:
        try:
            self._store.outbox_attempted([e.id for e in entries])
        except StoreError as exc:
            logger.error("cannot update the outbox: %s", exc)

    def _done(self, entries: list[OutboxEntry]) -> None:
        try:
            self._store.outbox_done([e.id for e in entries])
        except StoreError as exc:
            # Kept, they are sent again: as attempted, a CDR is checked by uniqueid first.
            logger.error("cannot update the outbox: %s", exc)
            return
        self.written += len(entries)

    # -- in the worker thread -----------------------------------------------------------
    def _write_batch(self, conn: psycopg.Connection[Any], target: str,
                     entries: list[OutboxEntry]) -> None:
        with conn.transaction(), conn.cursor() as cursor:
            for entry in entries:
                payload = json.loads(entry.payload)
                if entry.kind == _CDR:
                    self._insert_cdr(cursor, target, payload, guarded=entry.attempts > 0)
                else:
                    self._update_peer(cursor, target, entry.kind, payload)

    def _table_columns(self, cursor: psycopg.Cursor[Any], target: str,
                       table: str) -> dict[str, str]:
        key = (target, table)
        found = self._columns.get(key)
        if found is None:
            cursor.execute("SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_schema = current_schema() AND table_name = %s",
                           (table,))
            found = self._columns[key] = {str(r[0]): str(r[1]) for r in cursor.fetchall()}
        return found

    def _update_peer(self, cursor: psycopg.Cursor[Any], target: str, kind: str,
                     payload: dict[str, Any]) -> None:
        table = self._peers_table
        assert table is not None
        has_regserver = "regserver" in self._table_columns(cursor, target, table)
        saves_server = has_regserver and self._regserver is not None
        if kind == _REGISTER:
            values = {"ipaddr": payload["ipaddr"], "port": payload["port"],
                      "regseconds": payload["regseconds"]}
            if saves_server:
                values["regserver"] = self._regserver
            guard = sql.SQL("(regseconds IS NULL OR regseconds <= {})").format(
                sql.Literal(payload["regseconds"]))
        else:
            values = {"ipaddr": None, "port": None, "regseconds": None}
            guard = sql.SQL("(regseconds IS NULL OR regseconds <= {})").format(
                sql.Literal(payload["regseconds"]))
            if saves_server:
                values["regserver"] = None
                guard = sql.SQL("{} AND (regserver IS NULL OR regserver = {})").format(
                    guard, sql.Literal(self._regserver))
        statement = sql.SQL("UPDATE {} SET {} WHERE name = {} AND {}").format(
            sql.Identifier(table),
            sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Literal(v))
                               for c, v in values.items()),
            sql.Literal(payload["name"]), guard)
        cursor.execute(statement)

    def _insert_cdr(self, cursor: psycopg.Cursor[Any], target: str, record: dict[str, Any],
                    *, guarded: bool) -> None:
        table = self._cdr_table
        assert table is not None
        types = self._table_columns(cursor, target, table)
        values = {column: _cdr_value(record, column, types[column])
                  for column in _CDR_FIELDS if column in types}
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in values)
        literals = sql.SQL(", ").join(sql.Literal(v) for v in values.values())
        if guarded and "uniqueid" in types:
            cursor.execute(sql.SQL(
                "INSERT INTO {t} ({c}) SELECT {v} WHERE NOT EXISTS "
                "(SELECT 1 FROM {t} WHERE uniqueid = {u})").format(
                    t=sql.Identifier(table), c=columns, v=literals,
                    u=sql.Literal(record["uniqueid"])))
        else:
            cursor.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(table), columns, literals))


def _cdr_value(record: dict[str, Any], column: str, data_type: str) -> Any:
    """A CDR field in the column's type, as cdr_pgsql formats it."""
    value = record["start" if column == "calldate" else column]
    if column in _CDR_TIMES:
        if value is None:
            return None
        if data_type.startswith("timestamp") or data_type == "date":
            return datetime.fromtimestamp(math.floor(value))
        if data_type in ("integer", "bigint", "smallint"):
            return math.floor(value)
        if data_type in ("real", "double precision", "numeric"):
            return float(value)
        return datetime.fromtimestamp(math.floor(value)).strftime("%Y-%m-%d %H:%M:%S")
    if data_type in ("integer", "bigint", "smallint") and not isinstance(value, int):
        return None
    return value
