"""Registrations both ways, their persistence, regcontext and qualify (iax2.md §6).

:class:`RegistrationService` is a node service. It puts together

- the registrar side (:mod:`pbxedge.iaxservice.reg_server` over
  :class:`~pbxedge.iax2.registrar.Registrar`): peers registering to us;
- our own ``register =>`` lines (:mod:`pbxedge.iaxservice.reg_client`);
- qualify (:mod:`pbxedge.iaxservice.qualify_service`);

and applies what the registrar decides: the state store (written in batches, see
:data:`STORE_DELAY`) with ABSOLUTE expiry times (a restart restores the remaining time, never
a fresh period), the regcontext
``exten => EXT,1,NoOp(PEER)`` lines in the dialplan's run-time table, and a POKE to every
peer that (re)appears. One timer task sleeps until the earliest deadline of all the sans-IO
machines, then ticks them.

It is also the node's peer directory: where a peer is (registered or static) and how its
qualify looks, for the dialer and the console.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import trio

from dialplan.engine import Engine
from pbxedge import log
from pbxedge.config.iax_models import IaxConfig, Peer
from pbxedge.control.registry import CommandRegistry
from pbxedge.events import PeerStatus as PeerStatusEvent
from pbxedge.iax2.dialstring import PeerRuntime
from pbxedge.iax2.enums import EncryptionMethod
from pbxedge.iax2.qualify import Log
from pbxedge.iax2.regclient import RegistryRow
from pbxedge.iax2.registrar import (
    EXPIRY_GRACE,
    AddExtension,
    DeleteRegistration,
    Registrar,
    RegistrarAction,
    RegistrarPeer,
    Registration,
    RegistrationGrant,
    RemoveExtension,
    StoreRegistration,
)
from pbxedge.iaxservice.qualify_service import QualifyService
from pbxedge.iaxservice.reg_client import OutboundRegistrations
from pbxedge.iaxservice.reg_console import register_registration_commands
from pbxedge.iaxservice.reg_log import emit
from pbxedge.iaxservice.reg_resolver import ip_literal, resolve
from pbxedge.iaxservice.reg_server import InboundRegistrations
from pbxedge.iaxservice.service import IaxService
from pbxedge.keys import KeyStore
from pbxedge.realtime.service import RealtimeService
from pbxedge.registry_views import PeerDetail, PeerRow
from pbxedge.store import Store, StoredRegistration, StoreError

__all__ = ["RegistrationService"]

Address = tuple[str, int]

# The regcontext entries are NoOp(<peer>) lines owned by this registrar name (§6.4).
_EXTENSION_APP = "NoOp"
_EXTENSION_REGISTRAR = "IAX2"
# Machines created before the trio clock can be read are due at their first tick.
_DUE_AT_FIRST_TICK = 0.0
# A registration reaches the store at most this long after its REGACK, together with the
# others of that moment: one transaction for many instead of one each (what makes a busy
# registrar cheap). A crash loses at most this much of refreshes the peers repeat anyway;
# a clean stop writes everything.
STORE_DELAY = 0.1


class RegistrationService:
    """Inbound and outbound registrations, persistence, regcontext, qualify, console."""

    name = "registrations"

    def __init__(
        self,
        iax: IaxService,
        *,
        config: IaxConfig,
        keys: KeyStore,
        store: Store | None,
        engine: Engine | None,
        wall_clock: Callable[[], float] = time.time,
        realtime: RealtimeService | None = None,
    ) -> None:
        general = config.general
        self._iax = iax
        self._realtime = realtime
        # Realtime peers registered here: the regseconds written for each, so that clearing
        # the row later touches only this node's registration.
        self._rt_registered: dict[str, int] = {}
        self._config = config
        self._store = store
        self._engine = engine
        self._wall_clock = wall_clock
        self._wakeup = trio.Event()
        self._sleeping_until = math.inf  # the timer task's deadline while it waits
        # Registrations decided but not yet in the store, written together (see STORE_DELAY).
        self._unsaved: dict[str, StoredRegistration | None] = {}
        self._save_at: float | None = None
        self._static: dict[str, Address] = {}
        # peer_at without a scan of every peer: static and defaultip addresses by address,
        # and the file order that decides between several peers at one address.
        self._static_at: dict[Address, set[str]] = {}
        self._default_at: dict[Address, set[str]] = {}
        self._order: dict[str, int] = {}
        self._index_peers(config)
        self.registrar = Registrar([])
        self._configure_registrar(config)
        self.inbound = InboundRegistrations(
            iax,
            config=config,
            keys=keys,
            registrar=self.registrar,
            sink=self,
            secret_resolver=store.db_get if store is not None else None,
            wall_clock=wall_clock,
            realtime=realtime.accounts if realtime is not None else None,
        )
        self.outbound = OutboundRegistrations(
            iax,
            config.registrations,
            keys=keys,
            now=_DUE_AT_FIRST_TICK,
            srv=general.srvlookup,
            wake=self._wake,
        )
        self.qualify = QualifyService(iax, config.peers.values(), _DUE_AT_FIRST_TICK)

    # -- node service --------------------------------------------------------------------
    def register_commands(self, registry: CommandRegistry) -> None:
        register_registration_commands(registry, self)

    async def stop(self) -> None:
        """Write the registrations not yet stored."""
        self._save()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Restore stored registrations, locate static peers, then run the timers."""
        now = self._iax.now()
        self._restore(now)
        for peer in self._config.peers.values():
            if _static_place(peer) is not None:
                self._locate(peer, now)
        task_status.started()
        while True:
            self._sleeping_until = self._next_deadline()
            with trio.move_on_at(self._sleeping_until):
                await self._wakeup.wait()
            self._tick(self._iax.now())
            # Reset only now: the tick's own wake-ups are covered by the next deadline.
            self._wakeup = trio.Event()

    def reconfigure(self, config: IaxConfig, keys: KeyStore) -> list[str]:
        """Apply a reloaded iax.conf; returns what changed, for the log.

        Registrations of peers still configured as dynamic stay; peers no longer
        configured lose theirs (their live calls go on: a call does not need its peer's
        entry). Unchanged ``register =>`` lines keep their registration, changed ones
        register again; qualify keeps the status of peers whose settings did not change.
        """
        now = self._iax.now()
        old_peers = self._config.peers
        self._config = config
        self.inbound.reconfigure(config, keys)
        dropped = self._configure_registrar(config)
        self._index_peers(config)
        for name in dropped:
            self.qualify.address_lost(name, now)
        self._apply_registrar(now)
        started, stopped = self.outbound.reconfigure(
            config.registrations, keys=keys, srv=config.general.srvlookup, now=now)
        moved = [name for name in self._static
                 if _static_place(config.peers.get(name)) != _static_place(old_peers.get(name))]
        for name in moved:
            self._static_at.get(self._static.pop(name), set()).discard(name)
            self.qualify.address_lost(name, now)
        for name in self.qualify.reconfigure(config.peers.values(), now):
            addr = self._current_address(name)
            if addr is not None:
                self.qualify.address_changed(name, addr, now)
        for peer in config.peers.values():
            if _static_place(peer) is not None and peer.name not in self._static:
                self._locate(peer, now)
        self._wake()
        added = len(config.peers.keys() - old_peers.keys())
        removed = len(old_peers.keys() - config.peers.keys())
        return [f"peers: {len(config.peers)} ({added} added, {removed} removed, "
                f"{len(dropped)} registrations ended)",
                f"register => lines: {len(self.outbound.lines)} ({started} registering anew, "
                f"{stopped} stopped)"]

    def _index_peers(self, config: IaxConfig) -> None:
        self._order = {name: index for index, name in enumerate(config.peers)}
        self._default_at = {}
        for peer in config.peers.values():
            default = ip_literal(peer.defaultip, peer.port) if peer.defaultip else None
            if default is not None:
                self._default_at.setdefault(default, set()).add(peer.name)

    def _configure_registrar(self, config: IaxConfig) -> list[str]:
        general = config.general
        return self.registrar.reconfigure(
            [RegistrarPeer(p.name, p.regexten or "") for p in config.peers.values() if p.dynamic],
            min_expire=general.minregexpire,
            # A maximum below the minimum would make every grant impossible; the minimum wins.
            max_expire=max(general.minregexpire, general.maxregexpire),
            regcontext=general.regcontext or "",
        )

    # -- peer directory (used by calls and the console) -----------------------------------
    def address_of(self, peer: str) -> Address | None:
        """Where a call to *peer* goes now: its registration, its static address, or its
        ``defaultip`` while a dynamic peer is not registered."""
        found = self._current_address(peer)
        if found is not None:
            return found
        config = self._config.peers.get(peer)
        if config is not None and config.defaultip:
            return config.defaultip, config.port
        return None

    def _current_address(self, peer: str) -> Address | None:
        """Registered or static address: what ``iax2 show peers`` prints (not defaultip)."""
        return self.registrar.address_of(peer) or self._static.get(peer)

    def runtime(self, peer: str) -> PeerRuntime:
        return PeerRuntime(self.address_of(peer), self.qualify.lastms(peer))

    def peer_at(self, addr: Address) -> str | None:
        """The first peer (file order) that is at *addr* now."""
        names = [*self.registrar.peers_at(addr), *self._static_at.get(addr, ())]
        names += [name for name in self._default_at.get(addr, ())
                  if self._current_address(name) is None]
        last = len(self._order)
        return min(names, key=lambda name: self._order.get(name, last), default=None)

    def peer_rows(self) -> list[PeerRow]:
        rows = [self._peer_row(p, None) for p in self._config.peers.values()]
        for peer in self._realtime_peers():
            addr, node = self._realtime_location(peer.name)
            rows.append(self._peer_row(peer, node, addr))
        return rows

    def _peer_row(self, p: Peer, regserver: str | None,
                  addr: Address | None = None) -> PeerRow:
        return PeerRow(
            name=p.name,
            addr=addr or self._current_address(p.name),
            dynamic=p.dynamic,
            status=self.qualify.status(p.name),
            username=p.username or "",
            mask=p.mask,
            trunk=p.trunk,
            encryption=p.encryption,
            description=p.description or "",
            regserver=regserver,
        )

    def _realtime_peers(self) -> list[Peer]:
        """Cached realtime peers, and those registered here (whether cached or not)."""
        accounts = self._realtime.accounts if self._realtime is not None else None
        if accounts is None:
            return []
        found = {p.name: p for p in accounts.cached_peers() if p.name not in self._config.peers}
        for name in self._rt_registered:
            peer = found.get(name) or accounts.last_peer(name)
            if peer is not None:
                found[name] = peer
        return list(found.values())

    async def refresh_locations(self) -> None:
        accounts = self._realtime.accounts if self._realtime is not None else None
        if accounts is not None:
            await accounts.refresh_locations([p.name for p in self._realtime_peers()
                                              if self.registrar.address_of(p.name) is None])

    def _realtime_location(self, name: str) -> tuple[Address | None, str | None]:
        """Where a realtime peer is and which node holds it: here, or as its row last said."""
        here = self.registrar.address_of(name)
        if here is not None:
            return here, self._config.general.systemname or "(this node)"
        assert self._realtime is not None and self._realtime.accounts is not None
        where = self._realtime.accounts.last_location(name)
        if where is None:
            return None, None
        return where.addr, where.regserver or "(unknown)"

    def peer_detail(self, name: str) -> PeerDetail | None:
        peer = self._config.peers.get(name) or next(
            (p for p in self._realtime_peers() if p.name == name), None)
        if peer is None:
            return None
        return _detail(peer, self.qualify.status(name).text, self._current_address(name),
                       self.registrar.expires_in(name, self._iax.now()))

    def registry_rows(self) -> list[RegistryRow]:
        return self.outbound.rows()

    def unregister(self, name: str) -> str:
        """Console ``iax2 unregister``: Asterisk's answers, one line."""
        peer = self._config.peers.get(name)
        if peer is not None and not peer.dynamic:
            return f"Peer {name} not registered\n"
        now = self._iax.now()
        was_registered = self.registrar.address_of(name) is not None
        text = self.registrar.unregister(name, now)
        if was_registered:
            self.unregistered(name, now)
        return text + "\n"

    def register_now(self, name: str) -> str:
        return self.outbound.force(name, self._iax.now())

    # -- RegistrationSink ----------------------------------------------------------------
    def registered(self, grant: RegistrationGrant, now: float) -> None:
        self._apply_registrar(now)
        if grant.address_changed:
            # Asterisk tells a registration only when it is new or moved, and without port.
            self._iax.events.publish(PeerStatusEvent(grant.peer, "Registered",
                                                address=grant.addr[0]))
            self.qualify.address_changed(grant.peer, grant.addr, now)
            self._wake()
        elif min(grant.expires_at + EXPIRY_GRACE, self._save_at or math.inf) \
                < self._sleeping_until:
            # A refresh from the same address moves no deadline but the store's (and the
            # expiry, if it was shortened): most refreshes wake nothing.
            self._wake()

    def unregistered(self, peer: str, now: float) -> None:
        self._apply_registrar(now)
        self._iax.events.publish(PeerStatusEvent(peer, "Unregistered"))
        self.qualify.address_lost(peer, now)
        self._wake()

    # -- internals -----------------------------------------------------------------------
    def _wake(self) -> None:
        self._wakeup.set()

    def _next_deadline(self) -> float:
        timers = [
            t
            for t in (
                self.registrar.get_timer(),
                self.outbound.get_timer(),
                self.qualify.get_timer(),
                self._save_at,
            )
            if t is not None
        ]
        return min(timers, default=float("inf"))

    def _save(self) -> None:
        """Write what changed since the last write, in one transaction."""
        unsaved, self._unsaved = self._unsaved, {}
        self._save_at = None
        if unsaved and self._store is not None:
            try:
                self._store.write_registrations(unsaved.items())
            except StoreError as exc:
                # The registrations stand; only their survival across a restart is lost.
                log.warning(f"Cannot update the state store: {exc}")

    def _tick(self, now: float) -> None:
        if self._save_at is not None and now >= self._save_at:
            self._save()
        for peer in self.registrar.tick(now):
            self._iax.events.publish(PeerStatusEvent(peer, "Unregistered", cause="Expired"))
            self.qualify.address_lost(peer, now)
        self._apply_registrar(now)
        self.outbound.tick(now)
        self.qualify.tick(now)

    def _restore(self, now: float) -> None:
        if self._store is None:
            return
        wall = self._wall_clock()
        try:
            stored = self._store.load_registrations(wall)
        except StoreError as exc:
            log.warning(f"Cannot read stored registrations: {exc}")
            return
        entries = [
            Registration(s.peer, (s.host, s.port), s.refresh, now + (s.expires_at - wall))
            for s in stored
        ]
        if self._realtime is not None and self._realtime.accounts is not None:
            # Only registrations this node granted are stored: the others were realtime peers.
            for s in stored:
                if s.peer not in self._config.peers:
                    self.registrar.add_peer(RegistrarPeer(s.peer))
                    self._rt_registered[s.peer] = int(s.expires_at - s.refresh)
        kept = self.registrar.restore(entries, now)
        self._apply_registrar(now)
        for reg in kept:
            self.qualify.address_changed(reg.peer, reg.addr, now)

    def _locate(self, peer: Peer, now: float) -> None:
        """Find a static peer: at once for an IP literal, else by a lookup in a task."""
        assert peer.host is not None
        literal = ip_literal(peer.host, peer.port)
        if literal is not None:
            self._static_found(peer.name, literal, now)
        else:
            self._iax.nursery.start_soon(self._locate_static, peer)

    async def _locate_static(self, peer: Peer) -> None:
        assert peer.host is not None
        addrs = await resolve(peer.host, peer.port, srv=False)
        if not addrs:
            log.warning(f"Unable to resolve host '{peer.host}' of peer '{peer.name}'")
            return
        if self._config.peers.get(peer.name) is not peer:
            return  # a reload replaced or removed the peer meanwhile
        self._static_found(peer.name, addrs[0], self._iax.now())

    def _static_found(self, peer: str, addr: Address, now: float) -> None:
        old = self._static.get(peer)
        if old is not None:
            self._static_at.get(old, set()).discard(peer)
        self._static[peer] = addr
        self._static_at.setdefault(addr, set()).add(peer)
        self.qualify.address_changed(peer, addr, now)
        self._wake()

    def _apply_registrar(self, now: float) -> None:
        """Carry out the registrar's actions: store, dialplan, log."""
        while (action := self.registrar.next_action()) is not None:
            self._apply_one(action, now)

    def _unsaved_change(self, peer: str, reg: StoredRegistration | None, now: float) -> None:
        if self._store is None:
            return
        self._unsaved[peer] = reg
        if self._save_at is None:
            self._save_at = now + STORE_DELAY

    def _apply_one(self, action: RegistrarAction, now: float) -> None:
        if isinstance(action, StoreRegistration):
            self._realtime_registered(action)
            reg = self.registrar.registration(action.peer)
            if reg is not None:
                expires_at = self._wall_clock() + (action.expires_at - now)
                self._unsaved_change(action.peer, StoredRegistration(
                    action.peer, action.addr[0], action.addr[1], expires_at, reg.refresh,
                    action.peer), now)
        elif isinstance(action, DeleteRegistration):
            registered_at = self._rt_registered.pop(action.peer, None)
            if registered_at is not None and self._realtime is not None \
                    and self._realtime.updates_registrations:
                self._realtime.writer.unregistered(action.peer, registered_at)
            self._unsaved_change(action.peer, None, now)
        elif isinstance(action, AddExtension):
            if self._engine is not None:
                self._engine.plan.add_extension(
                    action.context, action.exten, 1, _EXTENSION_APP, action.peer,
                    registrar=_EXTENSION_REGISTRAR,
                )
        elif isinstance(action, RemoveExtension):
            if self._engine is not None:
                self._engine.plan.remove_extension(
                    action.context, action.exten, 1, registrar=_EXTENSION_REGISTRAR
                )
        elif isinstance(action, Log):
            emit(action)


    def _realtime_registered(self, action: StoreRegistration) -> None:
        """rtupdate: the row of a realtime peer learns where it is (every refresh)."""
        if action.peer in self._config.peers or self._realtime is None:
            return
        regseconds = int(self._wall_clock())
        self._rt_registered[action.peer] = regseconds
        if self._realtime.updates_registrations:
            self._realtime.writer.registered(action.peer, action.addr, regseconds)


def _static_place(peer: Peer | None) -> tuple[str, int] | None:
    """Where a static peer is configured to be (None: not a static peer)."""
    if peer is None or peer.dynamic or not peer.host:
        return None
    return peer.host, peer.port


def _detail(peer: Peer, status: str, addr: Address | None, expires: int | None) -> PeerDetail:
    calltoken = {"no": "No", "auto": "Auto"}.get(peer.requirecalltoken, "Yes")
    # pbxedge always offers key rotation with AES128, as Asterisk does without keyrotate=off.
    encrypted = peer.encryption or peer.forceencryption
    encryption = EncryptionMethod.AES128 | EncryptionMethod.KEYROTATE if encrypted else 0
    return PeerDetail(
        name=peer.name,
        status=status,
        description=peer.description or "",
        secret_set=bool(peer.secret or peer.dbsecret),
        context=peer.context or "",
        parking_lot=peer.parkinglot or "",
        mailbox=peer.mailbox or "",
        dynamic=peer.dynamic,
        callnum_limit=peer.maxcallnumbers or 0,
        calltoken_required=calltoken,
        trunk=peer.trunk,
        encryption=encryption,
        callerid_name=peer.callerid_name or "",
        callerid_number=peer.callerid_number or "",
        expire_seconds=expires,
        acl=peer.acl.is_set,
        addr=addr,
        defaddr=(peer.defaultip, peer.port) if peer.defaultip else None,
        username=peer.username or "",
        codecs=int(peer.capability),
        codec_order=tuple(peer.prefs),
        qualify_freq_ok_ms=peer.qualifyfreqok,
        qualify_freq_notok_ms=peer.qualifyfreqnotok,
        qualify_smoothing=peer.qualifysmoothing,
    )
