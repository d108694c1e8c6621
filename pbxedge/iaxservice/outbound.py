"""Outgoing IAX2 calls: the ``IAX2`` technology of the node's dialer.

:class:`IaxDialer` is the node's :class:`~pbxedge.channels.dial.Dialer` (the race of the
legs, the bridge and the manager's Originate live there) with :class:`IaxTechnology`
placing the ``IAX2/…`` legs.

``Dial(IAX2/[user[:secret|:[key]]@]peer[:port][/exten[@context]][/options])`` resolves the
target (peer defaults, §8.1; a realtime peer registered to another node is called through
that node), sends a NEW built like Asterisk's (§7.2), answers the AUTHREQ (RSA, MD5 or
plaintext; with encryption the key is set *before* the AUTHREP so that it already travels
encrypted, §5.2), then maps what comes back to ``DIALSTATUS``:

=====================  ===========================================
ANSWER                 ANSWER; the legs stay bridged until one hangs up
BUSY / HANGUP 17       BUSY
CONGESTION / cause 34  CONGESTION (also ``autokill`` without any reply, §2.8)
REJECT, unreachable    CHANUNAVAIL (cause 20 when the peer cannot be dialled)
timeout                NOANSWER
=====================  ===========================================

After ANSWER the legs are bridged (:mod:`pbxedge.channels.bridge`): voice, DTMF, TEXT,
hold and hook flashes cross, and a hangup on either leg hangs up the other with the same
cause. Two bridged IAX2 legs may be re-pathed (native transfer), and a blind transfer from
either side moves the call on (:mod:`pbxedge.iaxservice.transfers`).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import trio

from dialplan.channel import Channel, ChannelState, Indication
from dialplan.dialer import DialResult, DialStatus
from pbxedge.channelname import channel_name, host_label
from pbxedge.channels.dial import CallerId, Dialer
from pbxedge.channels.iax import EndpointLink, IaxChannel
from pbxedge.events import Newchannel
from pbxedge.iax2.accounts import PeerAccount
from pbxedge.iax2.auth import (
    AuthFailure,
    ChallengeAnswer,
    Credentials,
    answer_challenge,
    choose_credentials,
)
from pbxedge.iax2.callstate import CallState, CallStateError
from pbxedge.iax2.codecs import Codec, best_codec
from pbxedge.iax2.dialstring import (
    DialString,
    DialStringError,
    DialTarget,
    DialUnavailable,
    PeerRuntime,
    parse_dial_string,
    resolve_dial_target,
)
from pbxedge.iax2.endpoint import CallNumbersExhausted, UnknownCall
from pbxedge.iax2.enums import (
    IE,
    AuthMethod,
    Cause,
    ControlSubclass,
    EncryptionMethod,
    FrameType,
    IaxSubclass,
)
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.events import (
    CallDestroyed,
    CallTransferred,
    Event,
    FrameReceived,
    PeerUnreachable,
    TransferFailed,
    TransferReleased,
    VoiceReceived,
)
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.negotiate import accept_format_ok
from pbxedge.iax2.newcall import build_new
from pbxedge.iaxservice.accounts import dial_defaults, peer_account, peer_accounts
from pbxedge.iaxservice.call_host import CallHost
from pbxedge.iaxservice.inbound import cause_of, deliver_to_channel, run_dialplan
from pbxedge.iaxservice.overlap import TBD_TIMEOUT_TEXT, Overlap
from pbxedge.iaxservice.realtime_route import RELAY_VARIABLE, realtime_route
from pbxedge.iaxservice.transfers import (
    log_transfer_event,
    start_native_transfer,
    transfer_context,
)
from pbxedge.log import printable

__all__ = ["IaxDialer", "IaxTechnology", "OutboundLeg", "status_for_cause"]

logger = logging.getLogger("pbxedge.iax2")

Address = tuple[str, int]


def status_for_cause(cause: int) -> DialStatus:
    """How app_dial's ``handle_cause`` reads a leg that ended before ANSWER."""
    if cause == Cause.USER_BUSY:
        return DialStatus.BUSY
    if cause in (Cause.SWITCH_CONGESTION, Cause.NORMAL_CIRCUIT_CONGESTION):
        return DialStatus.CONGESTION
    if cause in (Cause.NO_ANSWER, Cause.NORMAL_CLEARING):
        return DialStatus.NOANSWER
    return DialStatus.CHANUNAVAIL


@dataclass(frozen=True)
class _Placed:
    """Where a leg goes, once the dial string is resolved."""

    target: DialTarget
    addr: tuple[str, int]
    variables: dict[str, str] = field(default_factory=dict)  # sent in the NEW


class OutboundLeg:
    """One outgoing call: owns its call number from NEW to the end of the call.

    *caller* is the channel that dials (None for a call placed from nowhere, the manager's
    Originate); the NEW shows *callerid* (number, name).
    """

    def __init__(self, service: CallHost, caller: Channel | None, placed: _Placed,
                 callerid: CallerId) -> None:
        self._svc = service
        self._caller = caller
        self._callerid = callerid
        self._target = placed.target
        self._addr = placed.addr
        self._variables = placed.variables
        self.callno = 0
        self.channel: IaxChannel | None = None
        self.result: DialResult | None = None
        self.settled = trio.Event()
        self._heard = False
        # Blind transfers: the far end sent the caller elsewhere (redirect), or the caller's
        # side sent this leg into our dialplan (handover); both as (context, exten).
        self.redirect: tuple[str, str] | None = None
        self.handover: tuple[str, str] | None = None
        # Dial(IAX2/peer/TBD): the caller's digits follow as DPREQs, then a DIAL (§7.3).
        self._overlap = (Overlap(caller, self._send_iax, self._give_up, self._idle_hangup,
                                 self._describe)
                         if placed.target.exten == "TBD" and caller is not None else None)

    def _now(self) -> float:
        return self._svc.iax.now()

    # -- placing the call -----------------------------------------------------------------

    def place(self) -> None:
        svc = self._svc
        target = self._target
        caller = self._caller
        codec = _originating_codec(caller, target)
        prefs = [codec, *(c for c in target.prefs if c != codec)]
        ies = build_new(
            target.exten,
            prefs=prefs,
            capability=target.capability,
            format=int(codec),
            now_datetime=datetime.now(),
            username=target.username,
            calling_number=self._callerid[0],
            calling_name=self._callerid[1],
            ani=caller.caller_ani if caller and target.sendani else None,
            language=(caller.language if caller else None) or None,
            context=target.context,
            encryption=target.encryption,
            autoanswer=target.autoanswer,
            variables=self._variables,
        )
        try:
            self.callno = svc.iax.endpoint.start(self._addr, IaxSubclass.NEW, ies, self._now(),
                                                 trunk=target.trunk)
        except CallNumbersExhausted as exc:
            logger.warning("cannot call %s: %s", target.peer_name or target.host, exc)
            self._settle(DialStatus.CONGESTION, Cause.NORMAL_CIRCUIT_CONGESTION)
            return
        svc.iax.own(self.callno, self)
        label = host_label(self._addr, peer_name=target.peer_name)
        self.channel = IaxChannel(channel_name(label, self.callno),
                                  EndpointLink(svc.iax, self.callno), env=svc.media_env,
                                  nursery=svc.nursery, codec=int(codec),
                                  state=ChannelState.DOWN,
                                  caller_num=self._callerid[0],
                                  caller_name=self._callerid[1])
        general = svc.config.general
        peer = svc.config.peers.get(target.peer_name) if target.peer_name else None
        self.channel.mohinterpret = ((peer.mohinterpret if peer else general.mohinterpret)
                                     or "default")
        self.channel.mohsuggest = (peer.mohsuggest if peer else general.mohsuggest) or ""
        self.channel.jitterbuffer = svc.jitter_settings(
            peer.jitterbuffer if peer else general.jitterbuffer)
        self.channel.transfer_policy = peer.transfer if peer else general.transfer
        svc.iax.endpoint.set_transfer_allowed(self.callno,
                                              self.channel.transfer_policy != "no")
        self.channel.use_jitterbuffer(True)
        svc.add_channel(self.channel, self.callno)
        events = svc.media_env.events
        if events.active:
            events.publish(Newchannel(self.channel, target.context or "default",
                                      target.exten or "s", linked=caller))
        svc.iax.kick()
        kill_ms = target.qualify_maxms or svc.config.general.autokill_ms
        if kill_ms:
            svc.nursery.start_soon(self._autokill, 2 * kill_ms / 1000)

    async def _autokill(self, seconds: float) -> None:
        """``auto_congest``: no reply of any kind within the limit means CONGESTION."""
        await trio.sleep(seconds)
        if self.settled.is_set() or self._heard:
            return
        try:
            info = self._svc.iax.endpoint.call_info(self.callno)
        except UnknownCall:
            return
        if info.peer_callno or info.state is not CallState.TOKEN_WAIT:
            return  # an ACK or CALLTOKEN came back: the peer is alive
        logger.warning("Auto-congesting call due to slow response (%s)", self._describe())
        self._settle(DialStatus.CONGESTION, Cause.NORMAL_CIRCUIT_CONGESTION)
        self.hangup(Cause.NORMAL_CIRCUIT_CONGESTION)

    def _describe(self) -> str:
        return self.channel.name if self.channel else f"{self._addr[0]}:{self._addr[1]}"

    def _send_iax(self, subclass: IaxSubclass, ies: IEList) -> None:
        try:
            self._svc.iax.endpoint.send_iax(self.callno, subclass, ies, self._now())
        except (UnknownCall, CallStateError):
            return
        self._svc.iax.kick()

    def _give_up(self, cause: int, reason: str) -> None:
        self._fail(status_for_cause(cause), cause, reason)

    def _idle_hangup(self, cause: int, reason: str) -> None:
        """Asterisk's auto_hangup of a TBD call: HANGUP "Timeout" with *cause*."""
        logger.warning("call to %s hung up: %s", self._describe(), reason)
        self._settle(status_for_cause(cause), cause)
        ies = IEList().add_str(IE.CAUSE, TBD_TIMEOUT_TEXT).add_u8(IE.CAUSECODE, cause)
        self._send_iax(IaxSubclass.HANGUP, ies)
        if self.channel is not None:
            self._svc.remove_channel(self.channel)
            self.channel.remote_hangup(cause)

    def _settle(self, status: DialStatus, cause: int) -> None:
        if self.result is None:
            self.result = DialResult(status, cause)
            self.settled.set()

    def hangup(self, cause: int) -> None:
        if self._overlap is not None:
            self._overlap.stop()
        channel = self.channel
        if channel is not None and not channel.is_hungup:
            channel.hangup_now(cause)
            self._svc.remove_channel(channel)

    def _fail(self, status: DialStatus, cause: int, reason: str) -> None:
        logger.warning("call to %s failed: %s", self._describe(), reason)
        self._settle(status, cause)
        self.hangup(cause)

    # -- events ---------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        self._heard = True
        if isinstance(event, VoiceReceived):
            if self.channel is not None:
                self.channel.remote_voice(event.codec, event.payload, event.timestamp)
        elif isinstance(event, FrameReceived):
            self._on_frame(event.frame)
        elif isinstance(event, PeerUnreachable):
            self._end(Cause.DESTINATION_OUT_OF_ORDER)
        elif isinstance(event, (CallTransferred, TransferReleased, TransferFailed)):
            log_transfer_event(self._describe(), event)
        elif isinstance(event, CallDestroyed):
            self._end(0)

    def _end(self, cause: int) -> None:
        """The call is gone on the wire."""
        if self._overlap is not None:
            self._overlap.stop()
        if not self.settled.is_set():
            self._settle(status_for_cause(cause) if cause else DialStatus.CHANUNAVAIL,
                         cause or Cause.NORMAL_CLEARING)
        if self.channel is not None:
            self.channel.remote_hangup(cause)
            self._svc.remove_channel(self.channel)

    def _on_frame(self, frame: FullFrame) -> None:
        if frame.frametype == FrameType.CONTROL:
            self._on_control(frame.subclass)
            return
        if frame.frametype in (FrameType.DTMF_END, FrameType.DTMF_BEGIN, FrameType.TEXT):
            # Before the answer there is no bridge to pass them on to: dropped, as ever.
            if self.settled.is_set() and self.channel is not None:
                deliver_to_channel(self.channel, frame)
            return
        if frame.frametype != FrameType.IAX:
            return
        sub = frame.iax_subclass
        if sub in (IaxSubclass.HANGUP, IaxSubclass.REJECT):
            cause = cause_of(frame)
            if sub is IaxSubclass.REJECT and not self.settled.is_set():
                status = status_for_cause(cause)
                if status is DialStatus.NOANSWER:
                    status = DialStatus.CHANUNAVAIL
                self._settle(status, cause)
            self._end(cause)
            return
        try:
            ies = frame.ies()
        except MalformedFrame:
            return
        if sub is IaxSubclass.AUTHREQ:
            self._on_authreq(ies)
        elif sub is IaxSubclass.ACCEPT:
            self._on_accept(ies)
        elif sub is IaxSubclass.DPREP and self._overlap is not None:
            self._overlap.on_dprep(ies)
        elif sub is IaxSubclass.TRANSFER:
            self._on_blind_transfer(ies.get_str(IE.CALLED_NUMBER) or "")

    def _on_blind_transfer(self, exten: str) -> None:
        """The called side hands the caller on: the Dial ends by sending the caller to
        *exten* in the context it dialled from, and this leg hangs up."""
        if (not exten or self._caller is None or self.result is None
                or self.result.status is not DialStatus.ANSWER):
            return
        context = transfer_context(self._svc, self._caller)
        logger.info("Blind transfer of '%s' to '%s@%s'", self._caller.name, printable(exten),
                    context)
        self.redirect = (context, exten)
        self.hangup(Cause.NORMAL_CLEARING)

    def hand_over(self, context: str, exten: str) -> None:
        self.handover = (context, exten)

    # -- in the Dial's bridge (DialLeg) ---------------------------------------------------

    def bridging(self, caller: Channel) -> None:
        if isinstance(caller, IaxChannel) and self.channel is not None:
            start_native_transfer(self._svc, caller, self.channel)

    def release(self, cause: int) -> bool:
        channel = self.channel
        if channel is None or channel.is_hungup:
            return False
        if self.handover is None:
            self.hangup(cause)
            return False
        # The caller's far end transferred this leg into our dialplan.
        context, exten = self.handover
        self._svc.add_channel(channel, self.callno, call=True)
        self._svc.nursery.start_soon(run_dialplan, self._svc, channel, context, exten)
        return True

    def _on_control(self, subclass: int) -> None:
        channel = self.channel
        if channel is None or (self.settled.is_set() and subclass != ControlSubclass.ANSWER):
            return
        if subclass == ControlSubclass.ANSWER:
            channel.remote_answered()
            self._settle(DialStatus.ANSWER, Cause.NORMAL_CLEARING)
        elif subclass == ControlSubclass.RINGING:
            channel.remote_ringing()
            self._forward(Indication.RINGING)
        elif subclass == ControlSubclass.PROGRESS:
            self._forward(Indication.PROGRESS)
        elif subclass == ControlSubclass.BUSY:
            self._settle(DialStatus.BUSY, Cause.USER_BUSY)
            self.hangup(Cause.USER_BUSY)
        elif subclass == ControlSubclass.CONGESTION:
            self._settle(DialStatus.CONGESTION, Cause.NORMAL_CIRCUIT_CONGESTION)
            self.hangup(Cause.NORMAL_CIRCUIT_CONGESTION)

    def _forward(self, indication: Indication) -> None:
        caller = self._caller
        if caller is not None and caller.state is not ChannelState.UP and not caller.is_hungup:
            self._svc.nursery.start_soon(caller.indicate, indication)

    def _on_authreq(self, ies: IEList) -> None:
        svc = self._svc
        target = self._target
        methods = AuthMethod(ies.get_u16(IE.AUTHMETHODS) or 0)
        challenge = ies.get_str(IE.CHALLENGE)
        offered = ies.get_u16(IE.ENCRYPTION) or 0
        username = ies.get_str(IE.USERNAME) or target.username or ""
        if target.force_encryption and not offered & EncryptionMethod.AES128:
            self._fail(DialStatus.CHANUNAVAIL, Cause.BEARERCAPABILITY_NOTAVAIL,
                       "the peer offers no encryption while forceencryption is enabled")
            return
        if target.secret or target.outkey:
            candidates = [Credentials(target.secret, target.outkey)]
        else:
            candidates = choose_credentials(
                peer_accounts(svc.config), target.peer_name, ies.get_str(IE.USERNAME),
                self._addr[0],
                peer_address=lambda peer: _ip_of(svc.peers.address_of(peer.name)),
                secret_resolver=svc.secret_resolver)
        answer: ChallengeAnswer | AuthFailure = AuthFailure(
            f"no secret or outkey to authenticate '{printable(username)}'")
        for creds in candidates:
            answer = answer_challenge(methods, challenge, username, creds, svc.keys,
                                      our_encryption=target.encryption,
                                      offered_encryption=offered,
                                      force_encryption=target.force_encryption)
            if isinstance(answer, ChallengeAnswer):
                break
        if isinstance(answer, AuthFailure):
            # Asterisk hangs up with cause 0 when it cannot answer a challenge (§15.3).
            self._fail(DialStatus.CHANUNAVAIL, Cause.NOTDEFINED, answer.reason)
            return
        endpoint = svc.iax.endpoint
        try:
            if answer.aes_key is not None:
                # Before the AUTHREP: it is the first frame to travel encrypted (§5.2 item 3).
                endpoint.set_encryption(self.callno, answer.aes_key, [answer.aes_key])
            endpoint.send_iax(self.callno, IaxSubclass.AUTHREP, answer.ies, self._now())
        except UnknownCall:
            return

    def _on_accept(self, ies: IEList) -> None:
        target = self._target
        fmt = ies.get_u64_versioned(IE.FORMAT2) or ies.get_u32(IE.FORMAT) or 0
        endpoint = self._svc.iax.endpoint
        if not accept_format_ok(fmt, target.capability):
            self._settle(DialStatus.CHANUNAVAIL, Cause.BEARERCAPABILITY_NOTAVAIL)
            try:
                endpoint.reject(self.callno, "Unable to negotiate codec",
                                Cause.BEARERCAPABILITY_NOTAVAIL, self._now())
            except UnknownCall:
                return
            if self.channel is not None:
                self.channel.remote_hangup(Cause.BEARERCAPABILITY_NOTAVAIL)
                self._svc.remove_channel(self.channel)
            return
        try:
            encrypted = endpoint.is_encrypted(self.callno)
        except UnknownCall:
            # The HANGUP that came in the same burst has ended the call already; its own
            # event settles the dial.
            return
        if target.force_encryption and not encrypted:
            self._fail(DialStatus.CHANUNAVAIL, Cause.BEARERCAPABILITY_NOTAVAIL,
                       "call accepted unencrypted while forceencryption is enabled")
            return
        if self.channel is not None:
            self.channel.set_codec(fmt)
        if self._overlap is not None:
            self._svc.nursery.start_soon(self._overlap.run)


def _located(addr: Address | None) -> Callable[[str], PeerRuntime]:
    """A realtime peer's runtime: where its row (or this node's registrar) puts it."""
    return lambda _name: PeerRuntime(addr)


def _ip_of(addr: tuple[str, int] | None) -> str | None:
    return addr[0] if addr is not None else None


def _originating_codec(caller: Channel | None, target: DialTarget) -> Codec:
    """The caller's codec goes first, as ``create_addr`` does to avoid transcoding."""
    codec = getattr(caller, "codec", 0)
    if codec and codec & target.capability:
        return Codec(codec)
    for pref in target.prefs:
        if pref & target.capability:
            return pref
    return best_codec(target.capability) or Codec.ULAW


class IaxTechnology:
    """Places the ``IAX2/…`` legs of a Dial or an Originate."""

    def __init__(self, service: CallHost) -> None:
        self._svc = service

    async def place(self, caller: Channel | None, target: str,
                    callerid: CallerId) -> OutboundLeg | DialResult:
        placed = await self._resolve(target)
        if isinstance(placed, DialResult):
            return placed
        leg = OutboundLeg(self._svc, caller, placed, callerid)
        leg.place()
        return leg

    async def _resolve(self, text: str) -> _Placed | DialResult:
        svc = self._svc
        try:
            parsed = parse_dial_string(text)
        except DialStringError as exc:
            logger.warning("Dial: %s", exc)
            return DialResult(DialStatus.CHANUNAVAIL, Cause.SUBSCRIBER_ABSENT)
        peers: Mapping[str, PeerAccount] = peer_accounts(svc.config)
        runtime: Callable[[str], PeerRuntime] = svc.peers.runtime
        if parsed.peer not in svc.config.peers and svc.realtime is not None:
            peer = await svc.realtime.peer(parsed.peer)
            if peer is not None:
                peers = {peer.name: peer_account(peer)}
                if peer.dynamic:
                    route = await realtime_route(svc, peer.name)
                    if route.via is not None:
                        return await self._resolve_via(parsed, route.via, peer.name)
                    runtime = _located(route.addr)
        target = resolve_dial_target(parsed, peers, dial_defaults(svc.config.general),
                                     runtime=runtime, secret_resolver=svc.secret_resolver)
        if isinstance(target, DialUnavailable):
            logger.warning("Dial: unable to call %s: %s", text, target.reason)
            return DialResult(DialStatus.CHANUNAVAIL, int(target.cause))
        if target.lagged:
            logger.warning("Dial: peer '%s' is LAGGED (%d ms > %d ms); calling anyway",
                           target.peer_name, target.lastms, target.qualify_maxms)
        try:
            found = await trio.socket.getaddrinfo(target.host, target.port,
                                                  type=socket.SOCK_DGRAM)
        except OSError as exc:
            logger.warning("Dial: cannot resolve %s: %s", target.host, exc)
            return DialResult(DialStatus.CHANUNAVAIL, Cause.SUBSCRIBER_ABSENT)
        host, port = str(found[0][4][0]), int(found[0][4][1])
        if target.peer_name is not None and not target.username:
            reg = next((r for r in svc.config.registrations
                        if r.port == port and r.host in (host, target.host)), None)
            if reg is not None:
                # The two-way trunk: a friend entry holds the secret the far node proves
                # to us; toward it we are who our register => line says (§10 row 9).
                target = replace(target, username=reg.username, secret=reg.secret,
                                 outkey=reg.key)
        return _Placed(target, (host, port))

    async def _resolve_via(self, parsed: DialString, node: str,
                           peer: str) -> _Placed | DialResult:
        """A realtime peer registered to another node: call that node, which calls it."""
        logger.info("Dial: '%s' is registered at node '%s'; calling through it", peer, node)
        placed = await self._resolve(f"IAX2/{node}/{parsed.exten or 's'}")
        if isinstance(placed, DialResult):
            return placed
        return replace(placed, variables={RELAY_VARIABLE: peer})


class IaxDialer(Dialer):
    """The node's dialer, knowing ``IAX2`` from the start; other technologies (local
    phones) join it through :meth:`Dialer.add_technology`."""

    def __init__(self, service: CallHost) -> None:
        super().__init__(service.media_env.events)
        self.add_technology("IAX2", IaxTechnology(service))
