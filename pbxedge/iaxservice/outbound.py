"""Outgoing IAX2 calls: the ``IAX2`` technology of the node's dialer.

:class:`IaxDialer` is the node's :class:`~pbxedge.channels.dial.Dialer` (the race of the
legs and the bridge live there) with :class:`IaxTechnology` placing the ``IAX2/…`` legs.

``Dial(IAX2/[user[:secret|:[key]]@]peer[:port][/exten[@context]][/options])`` resolves the
target (peer defaults, §8.1), sends a NEW built like Asterisk's (§7.2), answers the
AUTHREQ (RSA, MD5 or plaintext; with encryption the key is set *before* the AUTHREP so
that it already travels encrypted, §5.2), then maps what comes back to ``DIALSTATUS``:

=====================  ===========================================
ANSWER                 ANSWER; the legs stay bridged until one hangs up
BUSY / HANGUP 17       BUSY
CONGESTION / cause 34  CONGESTION (also ``autokill`` without any reply, §2.8)
REJECT, unreachable    CHANUNAVAIL (cause 20 when the peer cannot be dialled)
timeout                NOANSWER
=====================  ===========================================

After ANSWER the legs are bridged (:mod:`pbxedge.channels.bridge`): voice, DTMF, TEXT,
hold and hook flashes cross, and a hangup on either leg hangs up the other with the same
cause.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import datetime

import trio

from dialplan.channel import Channel, ChannelState, Indication
from dialplan.dialer import DialResult, DialStatus
from pbxedge.channelname import channel_name, host_label
from pbxedge.channels.dial import Dialer
from pbxedge.channels.iax import EndpointLink, IaxChannel
from pbxedge.iax2.auth import (
    AuthFailure,
    ChallengeAnswer,
    Credentials,
    answer_challenge,
    choose_credentials,
)
from pbxedge.iax2.callstate import CallState
from pbxedge.iax2.codecs import Codec, best_codec
from pbxedge.iax2.dialstring import (
    DialStringError,
    DialTarget,
    DialUnavailable,
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
    Event,
    FrameReceived,
    PeerUnreachable,
    VoiceReceived,
)
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.negotiate import accept_format_ok
from pbxedge.iax2.newcall import build_new
from pbxedge.iaxservice.accounts import dial_defaults, peer_accounts
from pbxedge.iaxservice.call_host import CallHost
from pbxedge.iaxservice.inbound import cause_of, deliver_to_channel
from pbxedge.log import printable

__all__ = ["IaxDialer", "IaxTechnology", "OutboundLeg", "status_for_cause"]

logger = logging.getLogger("pbxedge.iax2")


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


class OutboundLeg:
    """One outgoing call: owns its call number from NEW to the end of the call."""

    def __init__(self, service: CallHost, caller: Channel, placed: _Placed) -> None:
        self._svc = service
        self._caller = caller
        self._target = placed.target
        self._addr = placed.addr
        self.callno = 0
        self.channel: IaxChannel | None = None
        self.result: DialResult | None = None
        self.settled = trio.Event()
        self._heard = False

    def _now(self) -> float:
        return self._svc.iax.now()

    # -- placing the call -----------------------------------------------------------------

    def place(self) -> None:
        svc = self._svc
        target = self._target
        codec = _originating_codec(self._caller, target)
        prefs = [codec, *(c for c in target.prefs if c != codec)]
        ies = build_new(
            target.exten,
            prefs=prefs,
            capability=target.capability,
            format=int(codec),
            now_datetime=datetime.now(),
            username=target.username,
            calling_number=self._caller.caller_num,
            calling_name=self._caller.caller_name,
            ani=self._caller.caller_ani if target.sendani else None,
            language=self._caller.language or None,
            context=target.context,
            encryption=target.encryption,
            autoanswer=target.autoanswer,
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
                                  caller_num=self._caller.caller_num,
                                  caller_name=self._caller.caller_name)
        general = svc.config.general
        peer = svc.config.peers.get(target.peer_name) if target.peer_name else None
        self.channel.mohinterpret = ((peer.mohinterpret if peer else general.mohinterpret)
                                     or "default")
        self.channel.mohsuggest = (peer.mohsuggest if peer else general.mohsuggest) or ""
        self.channel.jitterbuffer = svc.jitter_settings(
            peer.jitterbuffer if peer else general.jitterbuffer)
        self.channel.use_jitterbuffer(True)
        svc.add_channel(self.channel, self.callno)
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

    def _settle(self, status: DialStatus, cause: int) -> None:
        if self.result is None:
            self.result = DialResult(status, cause)
            self.settled.set()

    def hangup(self, cause: int) -> None:
        channel = self.channel
        if channel is not None and not channel.is_hungup:
            channel.hangup_cause = cause
            self._svc.remove_channel(channel)
            self._svc.nursery.start_soon(channel.hangup, cause)

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
        elif isinstance(event, CallDestroyed):
            self._end(0)

    def _end(self, cause: int) -> None:
        """The call is gone on the wire."""
        if not self.settled.is_set():
            self._settle(status_for_cause(cause) if cause else DialStatus.CHANUNAVAIL,
                         cause or Cause.NORMAL_CLEARING)
        if self.channel is not None:
            self._svc.remove_channel(self.channel)
            self.channel.remote_hangup(cause)

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
        if self._caller.state is not ChannelState.UP and not self._caller.is_hungup:
            self._svc.nursery.start_soon(self._caller.indicate, indication)

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
                self._svc.remove_channel(self.channel)
                self.channel.remote_hangup(Cause.BEARERCAPABILITY_NOTAVAIL)
            return
        try:
            encrypted = endpoint.call_info(self.callno).encrypted
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


def _ip_of(addr: tuple[str, int] | None) -> str | None:
    return addr[0] if addr is not None else None


def _originating_codec(caller: Channel, target: DialTarget) -> Codec:
    """The caller's codec goes first, as ``create_addr`` does to avoid transcoding."""
    codec = getattr(caller, "codec", 0)
    if codec and codec & target.capability:
        return Codec(codec)
    for pref in target.prefs:
        if pref & target.capability:
            return pref
    return best_codec(target.capability) or Codec.ULAW


class IaxTechnology:
    """Places the ``IAX2/…`` legs of a Dial."""

    def __init__(self, service: CallHost) -> None:
        self._svc = service

    async def place(self, caller: Channel, target: str) -> OutboundLeg | DialResult:
        placed = await self._resolve(target)
        if isinstance(placed, DialResult):
            return placed
        leg = OutboundLeg(self._svc, caller, placed)
        leg.place()
        return leg

    async def _resolve(self, text: str) -> _Placed | DialResult:
        svc = self._svc
        try:
            parsed = parse_dial_string(text)
        except DialStringError as exc:
            logger.warning("Dial: %s", exc)
            return DialResult(DialStatus.CHANUNAVAIL, Cause.SUBSCRIBER_ABSENT)
        target = resolve_dial_target(parsed, peer_accounts(svc.config),
                                     dial_defaults(svc.config.general),
                                     runtime=svc.peers.runtime,
                                     secret_resolver=svc.secret_resolver)
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
        return _Placed(target, (host, port))


class IaxDialer(Dialer):
    """The node's dialer, knowing ``IAX2`` from the start; other technologies (local
    phones) join it through :meth:`Dialer.add_technology`."""

    def __init__(self, service: CallHost) -> None:
        super().__init__()
        self.add_technology("IAX2", IaxTechnology(service))
