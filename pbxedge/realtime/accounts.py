"""Realtime users and peers: looked up in ``iaxfriends`` when iax.conf does not name them.

iax.conf always wins: a name it defines is never looked up. With ``rtcachefriends=yes``
an account read from the table stays in memory and is used without a query until
``iax2 prune realtime`` drops it or ``rtautoclear`` seconds have passed; that is also what
keeps cached accounts working while the database is down. Without it every request reads
the row again (Asterisk's temporary peers), so a changed or deleted row counts at once.

Where a dynamic peer is registered is never cached: :meth:`RealtimeAccounts.location`
reads the row each time (a call may go to a peer that just registered to another node),
falling back to the last row seen while the database is unreachable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import trio

from pbxedge.config.iax_models import General, Peer, User
from pbxedge.iax2.registrar import EXPIRY_GRACE
from pbxedge.realtime.database import Database, DatabaseDown, DatabaseError, Row
from pbxedge.realtime.friends import (
    Location,
    RowAccount,
    host_matches,
    load_friend,
    location_of,
    row_accounts,
)

__all__ = ["CachedFriend", "RealtimeAccounts"]

logger = logging.getLogger("pbxedge.realtime")


@dataclass
class CachedFriend:
    user: User | None
    peer: Peer | None
    row: Row
    loaded_at: float  # trio clock


class RealtimeAccounts:
    """``iaxusers``/``iaxpeers`` lookups with the rtcachefriends cache."""

    def __init__(self, db: Database, general: General, *, users_table: str | None,
                 peers_table: str | None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._general = general
        self.users_table = users_table
        self.peers_table = peers_table
        self._wall_clock = wall_clock
        self._cache: dict[str, CachedFriend] = {}
        # The last row seen per peer, for locations while the database is down.
        self._last_rows: dict[str, Row] = {}

    @property
    def caching(self) -> bool:
        return self._general.rtcachefriends

    # -- lookups ------------------------------------------------------------------------
    async def user(self, name: str, ip: str) -> User | None:
        """The realtime user for a NEW naming *name* from *ip*, or None."""
        if self.users_table is None:
            return None
        found = await self._friend(self.users_table, name, ip, "user")
        return found.user if found is not None else None

    async def peer(self, name: str, ip: str | None = None) -> Peer | None:
        """The realtime peer *name* (for a REGREQ from *ip*, or a call when None)."""
        if self.peers_table is None:
            return None
        found = await self._friend(self.peers_table, name, ip, "peer")
        return found.peer if found is not None else None

    def cached_user(self, name: str) -> User | None:
        cached = self._cache.get(name)
        return cached.user if cached is not None else None

    def cached_peer(self, name: str) -> Peer | None:
        cached = self._cache.get(name)
        return cached.peer if cached is not None else None

    def cached_peers(self) -> list[Peer]:
        return [c.peer for c in self._cache.values() if c.peer is not None]

    def last_peer(self, name: str) -> Peer | None:
        """The peer as its last row read made it (cached or not); None if never read."""
        cached = self.cached_peer(name)
        if cached is not None:
            return cached
        row = self._last_rows.get(name)
        if row is None or self.peers_table is None:
            return None
        return row_accounts(self.peers_table, row, self._general, want="peer").peer

    def last_location(self, name: str) -> Location | None:
        """Where the last row read said *name* is registered, if that is still live."""
        row = self._last_rows.get(name)
        where = location_of(row) if row is not None else None
        return where if where is not None and self._live(where) else None

    async def refresh_locations(self, names: list[str]) -> None:
        """Read the rows of *names* again (one query), for ``iax2 show peers``."""
        if not names or self.peers_table is None:
            return
        try:
            rows = await self._db.fetch(
                f'SELECT * FROM "{self.peers_table}" WHERE name = ANY(%s)', (names,))
        except DatabaseError:
            return
        for row in rows:
            self._last_rows[str(row["name"])] = row

    async def location(self, name: str) -> Location | None:
        """Where the row says *name* is registered now, if that registration is still live."""
        if self.peers_table is None:
            return None
        try:
            row = await load_friend(self._db, self.peers_table, name)
        except DatabaseError:
            return self.last_location(name)
        if row is None:
            return None
        self._last_rows[name] = row
        return self.last_location(name)

    def _live(self, where: Location) -> bool:
        """A row's registration counts for the longest period a node grants, plus the grace
        a late refresh gets (Asterisk: a fixed 60 s, which is its default period)."""
        if self._general.rtignoreregexpire:
            return True
        lifetime = max(self._general.maxregexpire, self._general.minregexpire) + EXPIRY_GRACE
        return self._wall_clock() - where.regseconds <= lifetime

    async def _friend(self, table: str, name: str, ip: str | None,
                      want: str) -> CachedFriend | None:
        cached = self._cache.get(name)
        if cached is not None and getattr(cached, want) is not None:
            return cached
        try:
            row = await load_friend(self._db, table, name)
        except DatabaseDown:
            return None  # logged once by the database
        except DatabaseError as exc:
            logger.error("realtime lookup of '%s' in %s failed: %s", name, table, exc)
            return None
        if row is None or not await host_matches(row, ip):
            return None
        self._last_rows[name] = row
        built = self._build(table, row, want)
        if built is None:
            return None
        if self.caching:
            previous = self._cache.get(name)
            if previous is not None:  # the other half of a friend was cached first
                previous.user = previous.user or built.user
                previous.peer = previous.peer or built.peer
                return previous
            self._cache[name] = built
        return built

    def _build(self, table: str, row: Row, want: str) -> CachedFriend | None:
        account: RowAccount = row_accounts(table, row, self._general, want=want)
        for problem in account.problems:
            logger.warning("%s", problem)
        if getattr(account, want) is None:
            return None
        return CachedFriend(account.user, account.peer, row, trio.current_time())

    # -- the cache ----------------------------------------------------------------------
    def prune(self, name: str | None = None) -> int:
        """``iax2 prune realtime [name|all]``: forget cached accounts; how many went."""
        if name is None:
            count = len(self._cache)
            self._cache.clear()
            return count
        return 1 if self._cache.pop(name, None) is not None else 0

    def autoclear(self, now: float) -> list[str]:
        """Drop accounts cached longer than ``rtautoclear`` seconds; their names."""
        limit = self._general.rtautoclear
        if not limit:
            return []
        gone = [n for n, c in self._cache.items() if now - c.loaded_at >= limit]
        for name in gone:
            del self._cache[name]
        return gone

    def next_autoclear(self) -> float | None:
        limit = self._general.rtautoclear
        if not limit or not self._cache:
            return None
        return min(c.loaded_at for c in self._cache.values()) + limit
