"""Peers registering to us: REGREQ/REGREL → REGAUTH → REGACK or REGREJ (iax2.md §4.6, §6.2).

The endpoint has already applied call tokens and call-number limits when a REGREQ or REGREL
reaches :meth:`InboundRegistrations.on_request`. From there, per call:

- the USERNAME must name a ``host=dynamic`` peer whose ACL admits the source; anything else
  gets a decoy REGAUTH (so names cannot be enumerated) and, whatever it answers, a REGREJ;
- a peer without secret, dbsecret or inkeys is granted at once, unauthenticated;
- otherwise the answer to the REGAUTH is checked (RSA, MD5, plaintext, ``auth.verify_regreq``);
- a REGREQ is granted through the :class:`~pbxedge.iax2.registrar.Registrar` and answered with
  a final REGACK; a REGREL (an *authenticated* unregister, the path nmap's iax2-brute probes)
  removes the registration and is answered with a REGACK too.

Every refusal is a REGREJ carrying CAUSE and CAUSECODE 29, delayed 1 s with ``delayreject``
(the endpoint ACKs the request meanwhile), and one log line that says why (refusals repeated
from one address are summarised).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import trio

from pbxedge import log
from pbxedge.config.iax_models import IaxConfig, Peer
from pbxedge.iax2.accounts import PeerAccount
from pbxedge.iax2.auth import (
    DELAYREJECT_SECONDS,
    AuthMethodMemory,
    SecretResolver,
    build_regauth,
    make_challenge,
    match_registrant,
    offers_challenge,
    verify_regreq,
)
from pbxedge.iax2.callstate import CallStateError
from pbxedge.iax2.endpoint import UnknownCall
from pbxedge.iax2.enums import IE, AuthMethod, FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.events import Event, FrameReceived, NewCall
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.registrar import (
    REGISTRATION_REFUSED,
    Registrar,
    RegistrarPeer,
    RegistrationGrant,
    local_datetime,
    msgcount_value,
    regack_ies,
    regrej_ies,
)
from pbxedge.iax2.showframe import format_addr
from pbxedge.iaxservice.accounts import peer_account, peer_accounts
from pbxedge.iaxservice.service import IaxService
from pbxedge.keys import KeyStore
from pbxedge.realtime.accounts import RealtimeAccounts

__all__ = ["InboundRegistrations", "RegistrationSink"]

Address = tuple[str, int]

_REQUESTS = (IaxSubclass.REGREQ, IaxSubclass.REGREL)
_NO_METHODS = AuthMethod(0)


class RegistrationSink(Protocol):
    """Who applies what the registrar decided (store, regcontext, qualify)."""

    def registered(self, grant: RegistrationGrant, now: float) -> None: ...

    def unregistered(self, peer: str, now: float) -> None: ...


@dataclass(slots=True)
class _Exchange:
    """One registration call we answer: what we challenged with, and for whom."""

    callno: int
    addr: Address
    username: str
    peer: PeerAccount | None  # None: a decoy exchange that can only end in REGREJ
    reason: str  # why the peer is (not) acceptable, for the log
    token_validated: bool
    section: Peer | None = None  # the peer's settings (from iax.conf or the realtime table)
    realtime: bool = False  # the section came from the realtime table
    methods: AuthMethod = _NO_METHODS
    challenge: str | None = None
    finished: bool = False


class _ExchangeHandler:
    __slots__ = ("exchange", "owner")

    def __init__(self, owner: InboundRegistrations, exchange: _Exchange) -> None:
        self.owner = owner
        self.exchange = exchange

    def on_event(self, event: Event) -> None:
        self.owner.on_exchange_event(self.exchange, event)


class InboundRegistrations:
    """Answers REGREQ/REGREL calls for the peers of one config."""

    def __init__(
        self,
        iax: IaxService,
        *,
        config: IaxConfig,
        keys: KeyStore,
        registrar: Registrar,
        sink: RegistrationSink,
        secret_resolver: SecretResolver | None = None,
        wall_clock: Callable[[], float] = time.time,
        realtime: RealtimeAccounts | None = None,
    ) -> None:
        self._iax = iax
        self._realtime = realtime
        self._config = config
        self._keys = keys
        self._registrar = registrar
        self._sink = sink
        self._resolver = secret_resolver
        self._wall_clock = wall_clock
        self._methods = AuthMethodMemory()
        for subclass in _REQUESTS:
            iax.on_request(subclass, self.on_request)

    def reconfigure(self, config: IaxConfig, keys: KeyStore) -> None:
        """Answer requests from now on with a reloaded config and keys; exchanges under way
        finish with the account they started with."""
        self._config = config
        self._keys = keys

    # -- the first frame -----------------------------------------------------------------
    def on_request(self, event: NewCall) -> None:
        now = self._iax.now()
        ies = event.ies
        username = ies.get_str(IE.USERNAME)
        if not username:
            exchange = _Exchange(event.callno, event.addr, "", None, "no USERNAME IE", False)
            self._refuse(exchange, IaxSubclass(event.frame.subclass), now)
            return
        section = self._config.peers.get(username)
        if section is None and self._realtime is not None:
            section = self._realtime.cached_peer(username)
            if section is None:
                # The table is asked first; frames of this call that come meanwhile are
                # retransmissions, which the endpoint answers.
                self._iax.nursery.start_soon(self._realtime_request, event, username, ies)
                return
        self._answer_request(event, username, ies, section, now)

    async def _realtime_request(self, event: NewCall, username: str, ies: IEList) -> None:
        assert self._realtime is not None
        peer = await self._realtime.peer(username, event.addr[0])
        try:
            self._iax.endpoint.call_info(event.callno)
        except UnknownCall:
            return  # the client gave up while the table was asked
        self._answer_request(event, username, ies, peer, self._iax.now())

    def _answer_request(self, event: NewCall, username: str, ies: IEList, section: Peer | None,
                        now: float) -> None:
        realtime = section is not None and section.name not in self._config.peers
        if section is not None and realtime:
            peers: Mapping[str, PeerAccount] = {section.name: peer_account(section)}
            self._registrar.add_peer(RegistrarPeer(section.name, section.regexten or ""))
        else:
            peers = peer_accounts(self._config)
        match = match_registrant(peers, username, event.addr[0])
        exchange = _Exchange(
            event.callno, event.addr, username, match.peer, match.reason, event.token_validated,
            section if match.peer is not None else None, realtime=realtime,
        )
        self._iax.own(event.callno, _ExchangeHandler(self, exchange))
        if not match.needs_challenge:
            self._accept(exchange, IaxSubclass(event.frame.subclass), ies, now, authenticated=False)
            return
        if match.peer is not None:
            exchange.methods = match.peer.auth
            self._methods.remember(exchange.methods)
        else:
            # A decoy looks like whatever this node usually sends (last_authmethod).
            exchange.methods = self._methods.last
        if offers_challenge(exchange.methods):
            exchange.challenge = make_challenge(self._iax.rng)
        self._send(
            exchange,
            IaxSubclass.REGAUTH,
            build_regauth(exchange.methods, exchange.challenge, username),
            now,
        )

    # -- the authenticated answer --------------------------------------------------------
    def on_exchange_event(self, exchange: _Exchange, event: Event) -> None:
        if not isinstance(event, FrameReceived) or exchange.finished:
            return
        frame = event.frame
        if frame.frametype != FrameType.IAX or frame.iax_subclass not in _REQUESTS:
            return
        now = self._iax.now()
        subclass = frame.iax_subclass
        try:
            ies = frame.ies()
        except MalformedFrame:
            exchange.reason = "malformed answer to REGAUTH"
            self._refuse(exchange, subclass, now)
            return
        outcome = verify_regreq(
            exchange.peer, exchange.methods, exchange.challenge, ies, self._keys, self._resolver
        )
        if not outcome.ok:
            exchange.reason = _why(exchange, outcome.reason)
            self._refuse(exchange, subclass, now)
            return
        self._accept(exchange, subclass, ies, now, authenticated=True)

    # -- outcomes ------------------------------------------------------------------------
    def _accept(
        self,
        exchange: _Exchange,
        subclass: IaxSubclass,
        ies: IEList,
        now: float,
        *,
        authenticated: bool,
    ) -> None:
        peer = exchange.section
        assert peer is not None  # only real peers get this far
        if not exchange.realtime:
            # An iax.conf peer: a reload may have removed it (or made it static) while it
            # was answering REGAUTH.
            current = self._config.peers.get(peer.name)
            if current is None or not current.dynamic:
                exchange.reason = "no longer a dynamic peer in the configuration"
                self._refuse(exchange, subclass, now)
                return
            peer = current
        if exchange.token_validated:
            self._iax.token_policy.mark_validated(subclass, exchange.username)
        grant: RegistrationGrant | None = None
        if subclass is IaxSubclass.REGREL:
            self._registrar.unregister(peer.name, now)
            self._sink.unregistered(peer.name, now)
            # Asterisk answers a release like a REGREQ without REFRESH: the minimum.
            refresh = self._registrar.min_expire
        else:
            grant = self._registrar.register(
                peer.name, exchange.addr, ies.get_u16(IE.REFRESH), now,
                authenticated=authenticated,
            )
            refresh = grant.refresh
        ack = regack_ies(
            peer.name,
            refresh,
            exchange.addr,
            local_datetime(self._wall_clock(), peer.timezone),
            msgcount=msgcount_value(0, 0) if peer.mailbox else None,
            callerid_number=peer.callerid_number,
            callerid_name=peer.callerid_name,
        )
        self._send(exchange, IaxSubclass.REGACK, ack, now, final=True)
        if grant is not None:
            self._sink.registered(grant, now)

    def _refuse(self, exchange: _Exchange, subclass: IaxSubclass, now: float) -> None:
        if self._iax.log_limiter.admit(f"Refused {subclass.name}", exchange.addr[0], log.NOTICE):
            who = f"'{log.printable(exchange.username)}'" if exchange.username else "(no username)"
            log.notice(
                f"Registration ({subclass.name}) of {who} from {format_addr(*exchange.addr)} "
                f"refused: {exchange.reason}"
            )
        exchange.finished = True
        self._iax.rejects[REGISTRATION_REFUSED] += 1
        if self._config.general.delayreject:
            # The endpoint ACKs the request at once; the REGREJ follows after a pause that
            # slows down password guessing.
            self._iax.nursery.start_soon(self._refuse_later, exchange)
            return
        self._send(exchange, IaxSubclass.REGREJ, regrej_ies(), now, final=True)

    async def _refuse_later(self, exchange: _Exchange) -> None:
        await trio.sleep(DELAYREJECT_SECONDS)
        self._send(exchange, IaxSubclass.REGREJ, regrej_ies(), self._iax.now(), final=True)

    def _send(
        self,
        exchange: _Exchange,
        subclass: IaxSubclass,
        ies: IEList,
        now: float,
        *,
        final: bool = False,
    ) -> None:
        exchange.finished = exchange.finished or final
        try:
            self._iax.endpoint.send_iax(exchange.callno, subclass, ies, now, final=final)
        except (UnknownCall, CallStateError):
            # The client gave up (or sent INVAL) while we were deciding: nothing to answer.
            return
        self._iax.kick()


def _why(exchange: _Exchange, reason: str) -> str:
    """The log reason: the match problem for decoys, "bad secret" for a failed proof."""
    if exchange.peer is None:
        return exchange.reason
    return f"bad secret ({reason})"
