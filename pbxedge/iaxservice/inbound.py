"""Calls the peer opens: user matching, authentication, encryption, codec, dialplan entry.

One :class:`InboundCall` owns the call number from the NEW to the end of the call
(reference iax2.md §4.2-§4.3, §5.2, §5.5, §7.3-§7.5):

NEW ──► match user ──► (no credentials) ─────────────────────────────► ACCEPT ──► dialplan
             │                                                          ▲
             └──► AUTHREQ (decoy when the name is unknown) ──► AUTHREP ─┘   or REJECT

A failed authentication is answered with REJECT "No authority found" (cause 50), one
second later when ``delayreject=yes`` (the endpoint has ACKed the AUTHREP meanwhile).
An unknown USERNAME gets a challenge that looks exactly like a real one and can never
succeed, so probing cannot tell unknown names from wrong passwords.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import trio

from dialplan.engine import entry_extension
from dialplan.patterns import MatchMode
from pbxedge.channelname import channel_name, host_label
from pbxedge.channels.iax import EndpointLink, IaxChannel
from pbxedge.config.iax_models import User
from pbxedge.events import Newchannel
from pbxedge.iax2.accounts import UserAccount
from pbxedge.iax2.auth import (
    DELAYREJECT_SECONDS,
    AuthOutcome,
    EncryptionAgreement,
    Rejection,
    build_authreq,
    encryption_keys,
    force_encryption_rejection,
    make_challenge,
    match_user,
    merge_encryption,
    needs_authentication,
    offered_encryption,
    offers_challenge,
    resolve_secrets,
    verify_authrep,
)
from pbxedge.iax2.callstate import CallStateError
from pbxedge.iax2.endpoint import UnknownCall
from pbxedge.iax2.enums import IE, AuthMethod, Cause, ControlSubclass, FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.events import (
    CallDestroyed,
    CallTransferred,
    Event,
    FrameReceived,
    NewCall,
    PeerUnreachable,
    TransferFailed,
    TransferReleased,
    VoiceReceived,
)
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.negotiate import CodecOffer, NoCommonCodec, negotiate_codec, priority_flags
from pbxedge.iax2.newcall import CallRequest, parse_new, shrink_phone_number
from pbxedge.iaxservice.accounts import user_account, user_accounts
from pbxedge.iaxservice.call_host import CallHost
from pbxedge.iaxservice.overlap import TBD_IDLE_SECONDS, TBD_TIMEOUT_TEXT
from pbxedge.iaxservice.realtime_route import RELAY_VARIABLE
from pbxedge.iaxservice.transfers import HandOver, log_transfer_event, transfer_context
from pbxedge.log import printable

__all__ = [
    "DPREP_REFRESH",
    "InboundCall",
    "cause_of",
    "deliver_to_channel",
    "run_dialplan",
]

logger = logging.getLogger("pbxedge.iax2")

DPREP_REFRESH = 600  # iaxdefaultdpcache: how long the caller may cache a DPREP


def cause_of(frame: FullFrame) -> int:
    """CAUSECODE of a HANGUP/REJECT, 0 when absent or unreadable."""
    try:
        return frame.ies().get_u8(IE.CAUSECODE) or 0
    except MalformedFrame:
        return 0


def deliver_to_channel(channel: IaxChannel, frame: FullFrame) -> bool:
    """DTMF, TEXT, HOLD/UNHOLD and FLASH go to the channel (which relays them when
    bridged); False for any other frame."""
    if frame.frametype == FrameType.CONTROL and frame.subclass in (ControlSubclass.HOLD,
                                                                   ControlSubclass.UNHOLD):
        channel.remote_hold(frame.subclass == ControlSubclass.HOLD)
        return True
    if frame.frametype == FrameType.CONTROL and frame.subclass == ControlSubclass.FLASH:
        channel.receive_flash()
        return True
    if frame.frametype in (FrameType.DTMF_END, FrameType.DTMF_BEGIN):
        if 0 < frame.subclass < 128:
            channel.remote_digit(chr(frame.subclass),
                                 begin=frame.frametype == FrameType.DTMF_BEGIN)
        return True
    if frame.frametype == FrameType.TEXT:
        # Asterisk sends the terminating NUL and reads up to it (iax2.md §1.5).
        text = frame.payload.split(b"\0", 1)[0]
        channel.remote_text(text.decode("utf-8", errors="replace"))
        return True
    return False


async def run_dialplan(svc: CallHost, channel: IaxChannel, context: str, exten: str) -> None:
    """Run *channel* through the dialplan from ``exten@context`` to its end: the CDR is on
    disk before the hangup is logged and the channel forgotten."""
    outcome = None
    try:
        outcome = await svc.engine.start(channel, context, exten)
    except Exception:
        logger.exception("dialplan failed on %s", channel.name)
        await channel.hangup(16)
    finally:
        if outcome is not None and svc.cdr is not None:
            svc.cdr.call_ended(channel, outcome)
        svc.remove_channel(channel)


class InboundCall:
    """The life of one call opened by the peer's NEW."""

    def __init__(self, service: CallHost, event: NewCall) -> None:
        self._svc = service
        self.callno = event.callno
        self.addr = event.addr
        self._token_validated = event.token_validated
        self._ies = event.ies
        self._request: CallRequest | None = None
        self._user: User | None = None
        self._account: UserAccount | None = None  # what authentication knows of _user
        self._secrets: tuple[str, ...] | None = None
        self._methods = AuthMethod(0)
        self._challenge = ""
        self._agreement = EncryptionAgreement(0, False)
        self._authreq_held: str | None = None  # user name counted against maxauthreq
        self._context = ""
        self.channel: IaxChannel | None = None
        self._tbd = False
        self._tbd_active = 0.0  # last DPREQ (or the ACCEPT) of a call waiting for DIAL
        self._finished = False

    # -- small helpers --------------------------------------------------------------------

    def _now(self) -> float:
        return self._svc.iax.now()

    def _send(self, subclass: IaxSubclass, ies: IEList | None) -> None:
        self._svc.iax.endpoint.send_iax(self.callno, subclass, ies, self._now())

    def _reject_now(self, rejection: Rejection | NoCommonCodec) -> None:
        self._finish()
        self._svc.iax.rejects[rejection.text] += 1
        try:
            self._svc.iax.endpoint.reject(
                self.callno, rejection.text, int(rejection.cause), self._now()
            )
        except (UnknownCall, CallStateError):
            return
        self._svc.iax.kick()

    def _admit_log(self, what: str) -> bool:
        """Whether to log this event now: a caller repeating it is summarised instead."""
        return self._svc.iax.log_limiter.admit(what, self.addr[0])

    def _auth_failed(self, rejection: Rejection) -> None:
        """``auth_fail``: REJECT, a second later with ``delayreject=yes``."""
        general = self._svc.config.general
        if self._admit_log("Failed authentication"):
            who = self._request.username if self._request and self._request.username else "guest"
            logger.warning("Host %s failed to authenticate as %s", self.addr[0], printable(who))
            if general.authdebug:
                logger.warning("authdebug: call %d from %s:%d refused: %s",
                               self.callno, self.addr[0], self.addr[1], rejection.reason)
        if general.delayreject:
            self._finish()
            self._svc.nursery.start_soon(self._reject_later, rejection)
        else:
            self._reject_now(rejection)

    async def _reject_later(self, rejection: Rejection) -> None:
        await trio.sleep(DELAYREJECT_SECONDS)
        if self._svc.iax.owner(self.callno) is self:  # the caller may have gone meanwhile
            self._reject_now(rejection)

    def _finish(self) -> None:
        self._finished = True
        self._release_authreq()

    def _release_authreq(self) -> None:
        if self._authreq_held is not None:
            self._svc.authreqs.release(self._authreq_held)
            self._authreq_held = None

    # -- the NEW --------------------------------------------------------------------------

    def start(self) -> None:
        """Process the NEW; every outcome sends something (AUTHREQ, ACCEPT or REJECT)."""
        svc = self._svc
        try:
            request = parse_new(self._ies,
                                shrink_callerid=svc.config.general.shrinkcallerid)
        except (MalformedFrame, ValueError) as exc:  # bad IE layout, impossible DATETIME…
            self._reject_now(Rejection.no_authority(f"unreadable NEW: {exc}"))
            return
        self._request = request
        if not request.version_supported:
            self._auth_failed(Rejection.no_authority(f"protocol version {request.version}"))
            return
        name = request.username
        if name and name not in svc.config.users and svc.realtime is not None:
            cached = svc.realtime.cached_user(name)
            if cached is None:
                svc.nursery.start_soon(self._realtime_user, request, name)
                return
            self._match(request, cached)
            return
        self._match(request, None)

    async def _realtime_user(self, request: CallRequest, name: str) -> None:
        """A USERNAME iax.conf does not know: ask the realtime table, then go on."""
        assert self._svc.realtime is not None
        user = await self._svc.realtime.user(name, self.addr[0])
        if not self._finished and self._svc.iax.owner(self.callno) is self:
            self._match(request, user)

    def _match(self, request: CallRequest, realtime_user: User | None) -> None:
        svc = self._svc
        users = ({realtime_user.name: user_account(realtime_user)} if realtime_user is not None
                 else user_accounts(svc.config))
        match = match_user(users, username=request.username,
                           context=request.called_context, ip=self.addr[0])
        if match.rejected:
            self._auth_failed(Rejection.no_authority(match.reason))
            return
        if match.user is None:
            self._decoy_challenge(request, match.reason)
            return
        account = self._account = match.user
        user = self._user = realtime_user or svc.config.users[account.name]
        self._secrets = resolve_secrets(account.secrets, account.dbsecret, svc.secret_resolver)
        if offers_challenge(user.auth):
            self._agreement = merge_encryption(offered_encryption(user.encryption),
                                               request.encryption)
        if user.forceencryption and not self._secrets:
            # Refused at once (10957-10962); a NEW without ENCRYPTION is only refused after
            # the AUTHREP, as Asterisk does, so the exchange looks like any other failure.
            self._auth_failed(Rejection.no_authority(
                "encryption is forced but the user has no secret"))
            return
        if not needs_authentication(account):
            logger.info("Accepting UNAUTHENTICATED call from %s:%d (user '%s')",
                        self.addr[0], self.addr[1], user.name)
            self._accept(user, authenticated=False)
            return
        self._challenge_user(user)

    def _decoy_challenge(self, request: CallRequest, reason: str) -> None:
        """Challenge like a real user would be challenged; every answer is refused."""
        general = self._svc.config.general
        if general.authdebug and self._admit_log("Decoy challenge"):
            logger.warning("authdebug: call %d: decoy challenge (%s)", self.callno, reason)
        self._methods = self._svc.memory.last
        self._challenge = make_challenge(self._svc.rng)
        # A real user inherits the general encryption settings and then carries ENCRYPTION
        # in its AUTHREQ; a decoy without it would tell known names from unknown ones.
        encryption = 0
        if offers_challenge(self._methods):
            ours = offered_encryption(general.encryption or general.forceencryption)
            encryption = merge_encryption(ours, request.encryption).methods
        self._send(IaxSubclass.AUTHREQ,
                   build_authreq(self._methods, self._challenge, request.username or "",
                                 encryption))

    def _challenge_user(self, user: User) -> None:
        svc = self._svc
        refused = svc.authreqs.acquire(user.name, user.maxauthreq)
        if refused is not None:
            if svc.config.general.authdebug and self._admit_log("maxauthreq refusal"):
                logger.warning("authdebug: call %d: %s", self.callno, refused.reason)
            self._reject_now(refused)
            return
        self._authreq_held = user.name
        self._methods = user.auth
        self._challenge = make_challenge(svc.rng) if offers_challenge(user.auth) else ""
        svc.memory.remember(user.auth)
        self._send(IaxSubclass.AUTHREQ,
                   build_authreq(user.auth, self._challenge or None, user.name,
                                 self._agreement.methods))
        if self._agreement.encrypted and self._secrets:
            # The AUTHREQ went out in clear; the AUTHREP comes back encrypted under the key
            # of whichever secret the caller holds (§5.2 item 4).
            svc.iax.endpoint.expect_encrypted(self.callno,
                                              encryption_keys(self._challenge, self._secrets))

    # -- the AUTHREP ----------------------------------------------------------------------

    def _on_authrep(self, ies: IEList) -> None:
        self._release_authreq()
        svc = self._svc
        outcome: AuthOutcome = verify_authrep(self._account, self._methods, self._challenge, ies,
                                              svc.keys, svc.secret_resolver)
        if not outcome.ok:
            self._auth_failed(Rejection.no_authority(outcome.reason))
            return
        user = self._user
        assert user is not None  # a decoy never verifies
        forced = force_encryption_rejection(force=user.forceencryption, secrets=self._secrets,
                                            agreement=self._agreement)
        if forced is not None:
            self._auth_failed(forced)
            return
        try:
            encrypted = svc.iax.endpoint.is_encrypted(self.callno)
        except UnknownCall:
            return  # a HANGUP in the same burst has ended the call already
        if self._agreement.encrypted and not encrypted:
            if user.forceencryption:
                self._auth_failed(Rejection.no_authority(
                    "AUTHREP arrived unencrypted while forceencryption is enabled"))
                return
            self._agreement = EncryptionAgreement(0, False)
        logger.info("Call %d from %s:%d authenticated as '%s' (%s%s)", self.callno,
                    self.addr[0], self.addr[1], user.name,
                    outcome.method.name if outcome.method else "?",
                    ", encrypted" if encrypted else "")
        self._accept(user, authenticated=True)

    # -- accepting ------------------------------------------------------------------------

    def _accept(self, user: User, *, authenticated: bool) -> None:
        request = self._request
        assert request is not None
        general = self._svc.config.general
        self._context = request.called_context or (user.contexts[0] if user.contexts
                                                    else general.context)
        if self._context == "*":
            self._context = general.context
        entry = entry_extension(request.exten, user.immediate)
        if entry is not None and self._svc.engine.plan.runtime.switches is not None:
            self._svc.nursery.start_soon(self._accept_prepared, user, authenticated, entry)
            return
        self._accept_now(user, authenticated, entry)

    async def _accept_prepared(self, user: User, authenticated: bool, entry: str) -> None:
        """The extension may be a Realtime switch's: fetch its rows before checking it."""
        await self._svc.engine.plan.prepare(self._context, entry)
        if not self._finished and self._svc.iax.owner(self.callno) is self:
            self._accept_now(user, authenticated, entry)

    def _accept_now(self, user: User, authenticated: bool, entry: str | None) -> None:
        svc = self._svc
        request = self._request
        assert request is not None
        general = svc.config.general
        callerid = _callerid(user, request)
        relay = self._relay_target(request, user, authenticated)
        if relay is not None and svc.peers.address_of(relay) is None:
            self._reject_now(Rejection("Peer not registered here", Cause.SUBSCRIBER_ABSENT,
                                       f"relay to '{relay}', which is not registered here"))
            return
        if relay is None and entry is not None \
                and not svc.engine.plan.exists(self._context, entry, 1, callerid[0]):
            self._reject_now(Rejection.no_such_extension(
                f"'{entry}@{self._context}' does not exist"))
            return
        offer = CodecOffer(request.format, request.capability, request.prefs)
        codec = negotiate_codec(offer, prefs=user.prefs or general.prefs,
                                capability=user.capability,
                                flags=priority_flags(general.codecpriority, user.codecpriority))
        if isinstance(codec, NoCommonCodec):
            if self._admit_log("Codec negotiation failure"):
                logger.warning("call %d: unable to negotiate codec: %s", self.callno,
                               codec.reason)
            self._reject_now(codec)
            return
        ies = IEList().add_u32(IE.FORMAT, int(codec) & 0xFFFFFFFF)
        ies.add_u64_versioned(IE.FORMAT2, int(codec))
        self._send(IaxSubclass.ACCEPT, ies)
        if self._token_validated:
            svc.iax.token_policy.mark_validated(IaxSubclass.NEW, request.username)
        peer = svc.peers.peer_at(self.addr)
        peer_entry = svc.config.peers.get(peer) if peer is not None else None
        if user.trunk or (peer_entry is not None and peer_entry.trunk):
            # Asterisk lets only a trunk=yes peer at the caller's address decide (its
            # check_access overwrites the user's flag); here either one does.
            svc.iax.endpoint.set_trunk(self.callno, True, self._now())
        label = host_label(self.addr, peer_name=peer,
                           user_name=user.name if authenticated else None)
        channel = IaxChannel(
            channel_name(label, self.callno),
            EndpointLink(svc.iax, self.callno),
            env=svc.media_env,
            nursery=svc.nursery,
            codec=int(codec),
            caller_num=callerid[0],
            caller_name=callerid[1],
            language=user.language or request.language or general.language or "en",
            accountcode=user.accountcode or general.accountcode or "",
        )
        channel.mohinterpret = user.mohinterpret or "default"
        channel.mohsuggest = user.mohsuggest or ""
        channel.jitterbuffer = svc.jitter_settings(user.jitterbuffer)
        channel.caller_ani = request.ani or callerid[0]
        channel.dnid = request.dnid
        channel.rdnis = request.rdnis
        channel.amaflags = user.amaflags
        channel.username = user.name
        channel.transfer_policy = user.transfer
        svc.iax.endpoint.set_transfer_allowed(self.callno, user.transfer != "no")
        channel.variables.update(dict(user.setvars))
        self.channel = channel
        svc.add_channel(channel, self.callno, call=True)
        if channel.env.events.active:
            channel.env.events.publish(Newchannel(channel, self._context, entry or "s"))
        channel.use_jitterbuffer(True)
        if self._agreement.key_rotation and svc.iax.endpoint.is_encrypted(self.callno):
            # Only the side that answers rotates: the AUTHREQ offered no KEYROTATE bit (§5.2).
            svc.iax.endpoint.enable_key_rotation(self.callno, self._now())
        if relay is not None:
            svc.nursery.start_soon(self._relay, channel, relay, entry or "s")
            return
        if entry is None:
            self._tbd = True  # wait for DPREQ / DIAL (§7.3)
            self._tbd_active = self._now()
            svc.nursery.start_soon(self._tbd_watchdog)
            return
        self._enter(entry)

    def _relay_target(self, request: CallRequest, user: User, authenticated: bool) -> str | None:
        """The peer another node asks this one to call (see realtime_route), if the caller
        may ask: an authenticated friend of iax.conf, as nodes are to each other."""
        target = request.variables.get(RELAY_VARIABLE)
        if target is None:
            return None
        if authenticated and user.name in self._svc.config.peers:
            return target
        if self._admit_log("Relay refused"):
            logger.warning("call %d: '%s' asks to be relayed to '%s' but is no authenticated "
                           "node friend; the dialplan takes the call", self.callno,
                           printable(user.name), printable(target))
        return None

    async def _relay(self, channel: IaxChannel, target: str, exten: str) -> None:
        """Call *target* (registered here) for the node that sent the call; no dialplan."""
        dialer = self._svc.engine.services.dialer
        assert dialer is not None
        try:
            result = await dialer.dial(channel, [f"IAX2/{target}/{exten}"], None, "")
            if not channel.is_hungup:
                await channel.hangup(result.hangup_cause or Cause.NORMAL_CLEARING)
        finally:
            self._svc.remove_channel(channel)

    def _enter(self, exten: str) -> None:
        assert self.channel is not None
        self._svc.nursery.start_soon(run_dialplan, self._svc, self.channel, self._context,
                                     exten)

    # -- TBD calls: DPREQ and DIAL --------------------------------------------------------

    async def _prepared(self, ies: IEList, handler: Callable[[IEList], None],
                        modes: tuple[MatchMode, ...]) -> None:
        """Run *handler* once Realtime switches have the rows for the CALLED_NUMBER."""
        number = ies.get_str(IE.CALLED_NUMBER) or "s"
        for mode in modes:
            await self._svc.engine.plan.prepare(self._context, number, mode)
        if not self._finished and self._tbd:
            handler(ies)

    async def _tbd_watchdog(self) -> None:
        """A call left waiting for DIAL ends after 30 s without a DPREQ, with HANGUP
        "Timeout" and cause 18, as Asterisk's auto_hangup ends the caller's side."""
        while self._tbd and not self._finished:
            due = self._tbd_active + TBD_IDLE_SECONDS
            if self._now() < due:
                await trio.sleep_until(due)
                continue
            if self._admit_log("TBD call timeout"):
                logger.warning("call %d from %s:%d: no DIAL within %g s; hanging up",
                               self.callno, self.addr[0], self.addr[1], TBD_IDLE_SECONDS)
            self._tbd = False
            self._finish()
            ies = IEList().add_str(IE.CAUSE, TBD_TIMEOUT_TEXT)
            ies.add_u8(IE.CAUSECODE, Cause.NO_USER_RESPONSE)
            with contextlib.suppress(UnknownCall, CallStateError):
                self._svc.iax.endpoint.send_iax(self.callno, IaxSubclass.HANGUP, ies,
                                                self._now(), final=True)
            self._svc.iax.kick()
            if self.channel is not None:
                self._svc.remove_channel(self.channel)
                self.channel.remote_hangup(Cause.NO_USER_RESPONSE)

    def _on_dpreq(self, ies: IEList) -> None:
        self._tbd_active = self._now()
        number = ies.get_str(IE.CALLED_NUMBER) or ""
        callerid = self.channel.caller_num if self.channel else None
        status = self._svc.engine.plan.dp_status(self._context, number, callerid)
        reply = IEList().add_str(IE.CALLED_NUMBER, number)
        reply.add_u16(IE.DPSTATUS, int(status)).add_u16(IE.REFRESH, DPREP_REFRESH)
        self._send(IaxSubclass.DPREP, reply)

    def _on_dial(self, ies: IEList) -> None:
        assert self.channel is not None
        exten = ies.get_str(IE.CALLED_NUMBER) or "s"
        self._tbd = False
        if not self._svc.engine.plan.exists(self._context, exten, 1, self.channel.caller_num):
            self._svc.remove_channel(self.channel)
            self.channel.remote_hangup(3)
            self._reject_now(Rejection.no_such_extension(
                f"'{exten}@{self._context}' does not exist"))
            return
        self._svc.iax.endpoint.send_control(self.callno, ControlSubclass.PROGRESS, self._now())
        self._enter(exten)

    # -- events ---------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if isinstance(event, VoiceReceived):
            if self.channel is not None and not self._tbd:
                self.channel.remote_voice(event.codec, event.payload, event.timestamp)
        elif isinstance(event, FrameReceived):
            self._on_frame(event.frame)
        elif isinstance(event, PeerUnreachable):
            if self.channel is not None:
                self.channel.remote_hangup(Cause.DESTINATION_OUT_OF_ORDER)
        elif isinstance(event, (CallTransferred, TransferReleased, TransferFailed)):
            if self.channel is not None:
                log_transfer_event(self.channel.name, event)
        elif isinstance(event, CallDestroyed):
            self._finish()
            if self.channel is not None:
                if self._tbd:
                    self._svc.remove_channel(self.channel)
                self.channel.remote_hangup(0)

    def _on_frame(self, frame: FullFrame) -> None:
        if self.channel is not None and deliver_to_channel(self.channel, frame):
            return
        if frame.frametype != FrameType.IAX:
            return
        sub = frame.iax_subclass
        if sub in (IaxSubclass.HANGUP, IaxSubclass.REJECT):
            self._finish()
            if self.channel is not None:
                if self._tbd:
                    self._svc.remove_channel(self.channel)
                self.channel.remote_hangup(cause_of(frame))
            return
        if self._finished:
            return
        try:
            ies = frame.ies()
        except MalformedFrame:
            return
        if sub is IaxSubclass.AUTHREP and self.channel is None:
            self._on_authrep(ies)
        elif sub in (IaxSubclass.DPREQ, IaxSubclass.DIAL) and self._tbd:
            handler = self._on_dpreq if sub is IaxSubclass.DPREQ else self._on_dial
            if self._svc.engine.plan.runtime.switches is None:
                handler(ies)
            else:
                modes = tuple(MatchMode) if sub is IaxSubclass.DPREQ else (MatchMode.MATCH,)
                self._svc.nursery.start_soon(self._prepared, ies, handler, modes)
        elif sub is IaxSubclass.TRANSFER and self.channel is not None:
            self._on_blind_transfer(self.channel, ies.get_str(IE.CALLED_NUMBER) or "")

    def _on_blind_transfer(self, channel: IaxChannel, exten: str) -> None:
        """The peer hands its call on: the leg our Dial bridged to it goes to *exten* in
        our context and enters the dialplan there; this side of the call ends."""
        svc = self._svc
        transferee = channel.bridged
        owner = (svc.iax.owner(transferee.link.callno)
                 if isinstance(transferee, IaxChannel) else None)
        context = transfer_context(svc, channel)
        if not exten or transferee is None or not isinstance(owner, HandOver):
            logger.warning("Blind transfer of '%s' to '%s@%s' failed: nothing to transfer",
                           channel.name, printable(exten), context)
            return
        logger.info("Blind transfer of '%s' to '%s@%s'", transferee.name, printable(exten),
                    context)
        owner.hand_over(context, exten)
        svc.nursery.start_soon(channel.hangup, int(Cause.NORMAL_CLEARING))


def _callerid(user: User, request: CallRequest) -> tuple[str | None, str | None]:
    """The user's ``callerid=`` replaces what the caller sent (check_access, §4.2 item 4)."""
    if user.callerid_number or user.callerid_name:
        # Asterisk reads callerid= through ast_callerid_split, which always shrinks it.
        number = shrink_phone_number(user.callerid_number) if user.callerid_number else None
        return number, user.callerid_name
    return request.calling_number, request.calling_name

