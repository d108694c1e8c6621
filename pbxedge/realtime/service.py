"""The node's Realtime service: the database links, accounts, writes and console.

Started first among the node's services. It owns

- one :class:`~pbxedge.realtime.database.Database` for res_pgsql.conf and, when
  cdr_pgsql.conf names another database, one for the CDRs;
- :class:`~pbxedge.realtime.accounts.RealtimeAccounts` (``iaxusers``/``iaxpeers``) and its
  ``rtautoclear`` timer;
- :class:`~pbxedge.realtime.writes.RealtimeWriter`, whose flusher copies queued
  registration updates and CDRs to PostgreSQL;
- the ``switch => Realtime/...`` lookups (:mod:`dialplan.switches`);

and the console commands ``realtime show status``, ``realtime show pgsql status``
(Asterisk's) and ``iax2 prune realtime``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import trio

from dialplan.switches import RealtimeSwitches
from pbxedge import log
from pbxedge.config.iax_models import General
from pbxedge.control.registry import CommandContext, CommandRegistry, UsageError
from pbxedge.realtime.accounts import RealtimeAccounts
from pbxedge.realtime.database import Database, DatabaseError
from pbxedge.realtime.extensions import RealtimeExtensions
from pbxedge.realtime.settings import RealtimeSettings
from pbxedge.realtime.writes import CDR, CONFIG, RealtimeWriter
from pbxedge.store import Store

__all__ = ["RealtimeService"]


class RealtimeService:
    name = "realtime"

    def __init__(self, settings: RealtimeSettings, general: General, store: Store, *,
                 initiated_seconds: bool = False,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._general = general
        self._wall_clock = wall_clock
        self._started = wall_clock()
        self.db = Database(settings.pgsql, label="realtime", wall_clock=wall_clock) \
            if settings.bindings else None
        self.cdr_db: Database | None = None
        if settings.cdr is not None:
            same = self.db is not None and settings.cdr.conninfo() == settings.pgsql.conninfo()
            self.cdr_db = self.db if same else Database(settings.cdr, label="cdr_pgsql",
                                                        wall_clock=wall_clock)
        users, peers = settings.table("iaxusers"), settings.table("iaxpeers")
        self.accounts = RealtimeAccounts(self.db, general, users_table=users, peers_table=peers,
                                         wall_clock=wall_clock) \
            if self.db is not None and (users or peers) else None
        targets = {CONFIG: self.db, CDR: self.cdr_db}
        regserver = general.systemname if general.rtsavesysname else None
        self.writer = RealtimeWriter(
            store, {k: v for k, v in targets.items() if v is not None},
            peers_table=peers if general.rtupdate else None,
            cdr_table=settings.cdr.table if settings.cdr is not None else None,
            regserver=regserver, initiated_seconds=initiated_seconds, wall_clock=wall_clock)
        extensions = {b.family: b.table for b in settings.bindings.values()
                      if b.family == "extensions"}
        self.switches = RealtimeSwitches(RealtimeExtensions(self.db, extensions),
                                         trio.current_time) \
            if self.db is not None and extensions else None
        self._autoclear_changed = trio.Event()

    @property
    def updates_registrations(self) -> bool:
        """``rtupdate``: registrations of realtime peers are written to the table."""
        return self.accounts is not None and self._general.rtupdate \
            and self.accounts.peers_table is not None

    # -- node service -------------------------------------------------------------------
    def register_commands(self, registry: CommandRegistry) -> None:
        registry.register("realtime show status", self._show_status,
                          summary="Show the Realtime database links and pending writes")
        registry.register("realtime show pgsql status", self._show_pgsql,
                          summary="Shows connection information for the PostgreSQL RealTime driver")
        registry.register("iax2 prune realtime", self._prune,
                          summary="Prune a cached realtime lookup",
                          usage="Usage: iax2 prune realtime [<peername>|all]\n"
                          "       Prunes object(s) from the cache")

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        for db in self._databases():
            db.open()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self.writer.run)
                nursery.start_soon(self._check_schema)
                if self.accounts is not None:
                    nursery.start_soon(self._autoclear)
                task_status.started()
        finally:
            with trio.CancelScope(shield=True):
                for db in self._databases():
                    await db.close()

    async def stop(self) -> None:
        """Nothing to finish: pending writes wait in the store for the next start."""

    def _databases(self) -> list[Database]:
        found = [self.db, self.cdr_db]
        return [db for i, db in enumerate(found) if db is not None and db not in found[:i]]

    async def _check_schema(self) -> None:
        """Say once at start-up what the tables lack for what iax.conf asks."""
        if self.db is None or self.accounts is None or self.accounts.peers_table is None:
            return
        table = self.accounts.peers_table
        try:
            rows = await self.db.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s", (table,))
        except DatabaseError:
            return  # an outage is reported by the link itself
        columns = {str(r["column_name"]) for r in rows}
        if not columns:
            log.error(f"realtime: table '{table}' does not exist in {self.settings.pgsql.dbname}")
        elif "regserver" not in columns and self._general.rtsavesysname:
            log.warning(f"realtime: table '{table}' has no regserver column, so other nodes "
                        "cannot tell where peers registered; add it with "
                        "`pbxedge realtime-sql migrate | psql`")

    async def _autoclear(self) -> None:
        assert self.accounts is not None
        while True:
            due = self.accounts.next_autoclear()
            with trio.move_on_at(due if due is not None else trio.current_time() + 1.0):
                await trio.sleep_forever()
            for name in self.accounts.autoclear(trio.current_time()):
                log.verbose(3, f"realtime: '{name}' dropped from the cache (rtautoclear)")

    # -- console ------------------------------------------------------------------------
    def _show_status(self, ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        lines = []
        for label, db in (("realtime", self.db), ("cdr_pgsql", self.cdr_db)):
            if db is None:
                continue
            status = db.status()
            state = "up" if status.up else "DOWN"
            since = "" if status.since is None else \
                f" for {int(self._wall_clock() - status.since)} seconds"
            lines.append(f"{label:<10} {db.settings.describe()}: {state}{since}; "
                         f"{status.queries} queries, {status.failures} failed")
            if not status.up and status.last_error:
                lines.append(f"{'':<10} last error: {status.last_error}")
        for binding in self.settings.bindings.values():
            lines.append(f"{'':<10} {binding.family} => {binding.table}")
        lines.append(f"Pending writes: {self.writer.pending(CONFIG)} registration updates, "
                     f"{self.writer.pending(CDR)} CDRs; {self.writer.written} written since start")
        if self.accounts is not None:
            lines.append(f"Cached realtime peers: {len(self.accounts.cached_peers())} "
                         f"(rtcachefriends={'yes' if self.accounts.caching else 'no'})")
        return "\n".join(lines) + "\n"

    def _show_pgsql(self, ctx: CommandContext, args: list[str]) -> str:
        if self.db is None:
            return "Database connection: not configured\n"
        settings, status = self.settings.pgsql, self.db.status()
        if not status.up or status.since is None:
            return f"Unable to connect {settings.describe()}\n"
        return (f"Connected to {settings.dbname}@{settings.hostname or settings.socket}, port "
                f"{settings.port} with username {settings.user} for "
                f"{int(self._wall_clock() - status.since)} seconds.\n")

    def _prune(self, ctx: CommandContext, args: list[str]) -> str:
        if len(args) != 1:
            raise UsageError
        if self.accounts is None:
            return "Realtime accounts are not configured (extconfig.conf).\n"
        target = args[0]
        if target.lower() == "all":
            count = self.accounts.prune()
            return f"Cache flushed successfully ({count} realtime objects).\n"
        if self.accounts.prune(target):
            return f"Peer {target} was removed from the cache.\n"
        return f"Peer {target} is not eligible for this operation.\n"
