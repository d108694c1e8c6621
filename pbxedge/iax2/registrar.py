"""Inbound registrations: the address book of dynamic peers (reference iax2.md §6.2–§6.4).

A sans-IO state machine. Authentication is done before :meth:`Registrar.register` is called
(``auth.py``); this module only grants, remembers and expires addresses. Side effects come
out as actions drained with :meth:`Registrar.next_action`:

- :class:`StoreRegistration` / :class:`DeleteRegistration` keep the state store in step
  (Asterisk's astdb ``IAX/Registry/<peer>``, but with an ABSOLUTE expiry, so a restart does
  not grant a fresh full period);
- :class:`AddExtension` / :class:`RemoveExtension` maintain ``regcontext``'s
  ``exten => EXT,1,NoOp(PEER)`` lines;
- :class:`~pbxedge.iax2.qualify.Log` carries Asterisk's log lines.

Times are in the caller's clock (``now``). The glue converts stored expiries between that
clock and wall-clock time when it writes and reads the store.

The REGACK and REGREJ IE builders live here too, since they render what the registrar grants.
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pbxedge import log
from pbxedge.iax2.enums import IE, Cause
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.qualify import Log
from pbxedge.iax2.showframe import format_addr

__all__ = [
    "CALLTOKEN_REQUIRED",
    "EXPIRY_GRACE",
    "REGISTRATION_REFUSED",
    "AddExtension",
    "DeleteRegistration",
    "Registrar",
    "RegistrarAction",
    "RegistrarPeer",
    "Registration",
    "RegistrationGrant",
    "RemoveExtension",
    "StoreRegistration",
    "local_datetime",
    "msgcount_value",
    "regack_ies",
    "regrej_ies",
]

Address = tuple[str, int]

# A registration lives this long past its granted refresh, so a refresh that is a little
# late on the network does not drop the peer (Asterisk: expiry scheduled at expiry + 10 s).
EXPIRY_GRACE = 10.0

REGISTRATION_REFUSED = "Registration Refused"
# Sent instead of Asterisk's empty REGREJ when a request lacks a required call token; an
# empty REGREJ crashes some clients (nmap iax2-brute) and explains nothing (iax2.md §15.2).
CALLTOKEN_REQUIRED = "CallToken Support required"


@dataclass(frozen=True)
class RegistrarPeer:
    """What the registrar needs to know about a configured peer."""

    name: str
    # '&'-separated extensions (patterns allowed) added to regcontext; empty = the peer name.
    regexten: str = ""


@dataclass(frozen=True)
class Registration:
    """A live registration; ``expires_at`` is when the granted period ends (no grace)."""

    peer: str
    addr: Address
    refresh: int
    expires_at: float


@dataclass(frozen=True)
class RegistrationGrant:
    """The answer to a REGREQ: what goes into the REGACK and what changed."""

    peer: str
    addr: Address
    refresh: int  # the REFRESH to send back
    expires_at: float
    address_changed: bool  # new or moved: the glue pokes the peer at once


@dataclass(frozen=True)
class StoreRegistration:
    peer: str
    addr: Address
    expires_at: float


@dataclass(frozen=True)
class DeleteRegistration:
    peer: str


@dataclass(frozen=True)
class AddExtension:
    """``exten => EXTEN,1,NoOp(PEER)`` in ``context`` (only while the peer is registered)."""

    context: str
    exten: str
    peer: str


@dataclass(frozen=True)
class RemoveExtension:
    context: str
    exten: str
    peer: str


RegistrarAction = StoreRegistration | DeleteRegistration | AddExtension | RemoveExtension | Log


class Registrar:
    """Dynamic addresses of the configured peers, their expiry and the regcontext entries."""

    def __init__(
        self,
        peers: Iterable[RegistrarPeer],
        *,
        min_expire: int = 60,
        max_expire: int = 60,
        regcontext: str = "",
    ) -> None:
        self._live: dict[str, Registration] = {}
        self._actions: deque[RegistrarAction] = deque()
        # Indexes that keep a node with many peers at O(log n) per registration: expiries
        # in a heap (stale entries skipped when they surface), peers by address with the
        # order in which they first registered.
        self._expiries: list[tuple[float, str]] = []
        self._at: dict[Address, set[str]] = {}
        self._since: dict[str, int] = {}
        self._sequence = itertools.count()
        self._peers: dict[str, RegistrarPeer] = {}
        self._contexts: list[str] = []
        self.reconfigure(peers, min_expire=min_expire, max_expire=max_expire,
                         regcontext=regcontext)

    def reconfigure(self, peers: Iterable[RegistrarPeer], *, min_expire: int, max_expire: int,
                    regcontext: str) -> list[str]:
        """Take a reloaded configuration; returns the peers whose registration was dropped.

        Registrations of peers still configured stay, with their granted expiry (the new
        limits apply from their next refresh); those of peers no longer configured end.
        The regcontext entries follow a changed regcontext or regexten.
        """
        if not 0 < min_expire <= max_expire:
            raise ValueError(f"need 0 < minregexpire ({min_expire}) <= maxregexpire ({max_expire})")
        new_peers = {p.name: p for p in peers}
        dropped = [name for name in self._live if name not in new_peers]
        for name in dropped:
            self._drop(name)
            self._log(log.VERBOSE, f"Unregistered IAX2 '{name}' (no longer configured)")
        before = {name: self.regcontext_entries(name) for name in self._live}
        self._peers = new_peers
        self.min_expire = min_expire
        self.max_expire = max_expire
        # Several contexts are accepted, '&'-separated (Asterisk takes only one, §6.4).
        self._contexts = _split_amp(regcontext)
        for name, old in before.items():
            new = self.regcontext_entries(name)
            if new != old:
                self._actions.extend(RemoveExtension(c, e, name) for c, e in old)
                self._actions.extend(AddExtension(c, e, name) for c, e in new)
        return dropped

    def add_peer(self, peer: RegistrarPeer) -> None:
        """Accept registrations of *peer* too (a peer found elsewhere than in the config)."""
        self._peers[peer.name] = peer

    # -- outputs -----------------------------------------------------------------------
    def next_action(self) -> RegistrarAction | None:
        return self._actions.popleft() if self._actions else None

    def get_timer(self) -> float | None:
        """The next moment a registration runs out (its expiry plus the grace)."""
        expiries, live = self._expiries, self._live
        while expiries:
            expires_at, peer = expiries[0]
            reg = live.get(peer)
            if reg is not None and reg.expires_at == expires_at:
                return expires_at + EXPIRY_GRACE
            heapq.heappop(expiries)  # refreshed or dropped since
        return None

    # -- queries -----------------------------------------------------------------------
    def registration(self, peer: str) -> Registration | None:
        return self._live.get(peer)

    def count(self) -> int:
        """How many peers are registered now."""
        return len(self._live)

    def address_of(self, peer: str) -> Address | None:
        """Where to send a call for *peer*, or None while it is not registered."""
        reg = self._live.get(peer)
        return reg.addr if reg else None

    def peers_at(self, addr: Address) -> list[str]:
        """Peers registered from *addr*, oldest first.

        Several accounts commonly register from one ip:port (one Asterisk registering four
        accounts), so this is a list rather than a single name.
        """
        return sorted(self._at.get(addr, ()), key=self._since.__getitem__)

    def expires_in(self, peer: str, now: float) -> int | None:
        """Whole seconds until the granted period ends (``iax2 show peer`` Expire)."""
        reg = self._live.get(peer)
        return None if reg is None else max(0, int(reg.expires_at - now))

    def regcontext_entries(self, peer: str) -> list[tuple[str, str]]:
        """(context, exten) pairs the peer owns while registered; empty without regcontext."""
        config = self._peers[peer]
        extens = _split_amp(config.regexten) or [config.name]
        return [(context, exten) for context in self._contexts for exten in extens]

    # -- inputs ------------------------------------------------------------------------
    def register(
        self,
        peer: str,
        addr: Address,
        requested_refresh: int | None,
        now: float,
        *,
        authenticated: bool,
    ) -> RegistrationGrant:
        """Grant an (already verified) REGREQ from *addr*; None = no REFRESH IE."""
        if peer not in self._peers:
            raise KeyError(f"unknown peer {peer!r}")
        refresh = self._clamp(peer, requested_refresh or 0)
        previous = self._live.get(peer)
        expires_at = now + refresh
        self._set(Registration(peer, addr, refresh, expires_at), previous)
        # Written on every refresh, not only on change: the stored expiry is absolute.
        self._actions.append(StoreRegistration(peer, addr, expires_at))
        changed = previous is None or previous.addr != addr
        if changed:
            how = "AUTHENTICATED" if authenticated else "UNAUTHENTICATED"
            self._log(log.VERBOSE, f"Registered IAX2 '{peer}' ({how}) at {format_addr(*addr)}")
        if previous is None:
            self._add_extensions(peer)
        return RegistrationGrant(peer, addr, refresh, expires_at, changed)

    def unregister(self, peer: str, now: float) -> str:
        """REGREL, or the console's ``iax2 unregister``; returns the console's answer."""
        if peer not in self._peers:
            return f"Peer unknown: {peer}. Not unregistered"
        if peer not in self._live:
            return f"Peer {peer} not registered"
        self._drop(peer)
        self._log(log.VERBOSE, f"Unregistered IAX2 '{peer}'")
        return f"Peer {peer} unregistered"

    def tick(self, now: float) -> list[str]:
        """Expire registrations whose period plus grace has passed; returns their peers."""
        expired = []
        while (due := self.get_timer()) is not None and now >= due:
            name = self._expiries[0][1]
            expired.append(name)
            self._drop(name)
            self._log(log.VERBOSE, f"Expiring registration for peer '{name}'")
        return expired

    def restore(self, stored: Iterable[Registration], now: float) -> list[Registration]:
        """Reload stored registrations at start-up; returns the ones kept (poke each).

        The remaining time is kept as stored. Entries that already ran out, or whose peer
        is no longer configured, are dropped and deleted from the store.
        """
        kept: list[Registration] = []
        for reg in stored:
            if reg.peer not in self._peers or now >= reg.expires_at:
                self._actions.append(DeleteRegistration(reg.peer))
                continue
            self._set(reg, self._live.get(reg.peer))
            remaining = int(reg.expires_at - now)
            self._log(
                log.VERBOSE, f"Seeding '{reg.peer}' at {format_addr(*reg.addr)} for {remaining}"
            )
            self._add_extensions(reg.peer)
            kept.append(reg)
        return kept

    # -- internals ---------------------------------------------------------------------
    def _clamp(self, peer: str, requested: int) -> int:
        if requested == 0:  # "whatever you allow": the minimum, as Asterisk does
            return self.min_expire
        granted = min(max(requested, self.min_expire), self.max_expire)
        if granted != requested:
            self._log(
                log.NOTICE,
                f"Restricting registration for peer '{peer}' to {granted} seconds "
                f"(requested {requested})",
            )
        return granted

    def _set(self, reg: Registration, previous: Registration | None) -> None:
        peer = reg.peer
        self._live[peer] = reg
        heapq.heappush(self._expiries, (reg.expires_at, peer))
        if previous is None:
            self._since[peer] = next(self._sequence)
        elif previous.addr != reg.addr:
            self._unindex(peer, previous.addr)
        self._at.setdefault(reg.addr, set()).add(peer)

    def _unindex(self, peer: str, addr: Address) -> None:
        here = self._at.get(addr)
        if here is not None:
            here.discard(peer)
            if not here:
                del self._at[addr]

    def _drop(self, peer: str) -> None:
        reg = self._live.pop(peer)
        self._unindex(peer, reg.addr)
        del self._since[peer]
        self._actions.append(DeleteRegistration(peer))
        for context, exten in self.regcontext_entries(peer):
            self._actions.append(RemoveExtension(context, exten, peer))

    def _add_extensions(self, peer: str) -> None:
        for context, exten in self.regcontext_entries(peer):
            self._actions.append(AddExtension(context, exten, peer))

    def _log(self, level: int, message: str) -> None:
        self._actions.append(Log(level, message))


def _split_amp(text: str) -> list[str]:
    return [part.strip() for part in text.split("&") if part.strip()]


# -- REGACK / REGREJ ------------------------------------------------------------------
def local_datetime(unix_time: float, timezone: str | None) -> datetime:
    """The wall-clock time for a REGACK's DATETIME: in the peer's ``timezone=``, else local.

    An unknown zone name falls back to the system's local time, as Asterisk does.
    """
    # Whole seconds (the IE keeps two-second steps): a busy registrar converts once a second.
    return _local_datetime(int(unix_time), timezone)


@functools.lru_cache(maxsize=64)
def _local_datetime(unix_time: int, timezone: str | None) -> datetime:
    local = datetime.fromtimestamp(unix_time).astimezone()
    if timezone:
        try:
            return local.astimezone(ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return local


def msgcount_value(new: int, old: int) -> int:
    """MSGCOUNT: ``old << 8 | new``, each clamped to 255."""
    return (min(max(old, 0), 255) << 8) | min(max(new, 0), 255)


def regack_ies(
    peer_name: str,
    refresh: int,
    apparent_addr: Address,
    when: datetime,
    *,
    msgcount: int | None = None,
    callerid_number: str | None = None,
    callerid_name: str | None = None,
) -> IEList:
    """REGACK IEs in Asterisk's order (``update_registry``).

    *when* is the peer's local time (:func:`local_datetime`); *msgcount* is present only when
    the peer has a ``mailbox=`` (:func:`msgcount_value`); the caller ID pair is sent when
    the peer has a ``callerid=``, both IEs even if one half is empty.
    """
    ies = (
        IEList()
        .add_str(IE.USERNAME, peer_name)
        .add_datetime(IE.DATETIME, when)
        .add_u16(IE.REFRESH, refresh)
        .add_addr(IE.APPARENT_ADDR, *apparent_addr)
    )
    if msgcount is not None:
        ies.add_u16(IE.MSGCOUNT, msgcount)
    if callerid_number is not None or callerid_name is not None:
        ies.add_str(IE.CALLING_NUMBER, callerid_number or "")
        ies.add_str(IE.CALLING_NAME, callerid_name or "")
    return ies


def regrej_ies(cause: str = REGISTRATION_REFUSED) -> IEList:
    """REGREJ IEs: always CAUSE and CAUSECODE 29 (FACILITY_REJECTED), never empty."""
    return IEList().add_str(IE.CAUSE, cause).add_u8(IE.CAUSECODE, Cause.FACILITY_REJECTED)
