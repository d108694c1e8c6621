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

import logging

import trio

from dialplan.engine import entry_extension
from pbxedge.channelname import channel_name, host_label
from pbxedge.channels.iax import EndpointLink, IaxChannel
from pbxedge.config.iax_models import User
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
    resolve_secrets,
    verify_authrep,
)
from pbxedge.iax2.callstate import CallStateError
from pbxedge.iax2.endpoint import UnknownCall
from pbxedge.iax2.enums import IE, AuthMethod, Cause, ControlSubclass, FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.events import (
    CallDestroyed,
    Event,
    FrameReceived,
    NewCall,
    PeerUnreachable,
    VoiceReceived,
)
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.negotiate import CodecOffer, NoCommonCodec, negotiate_codec, priority_flags
from pbxedge.iax2.newcall import CallRequest, parse_new, shrink_phone_number
from pbxedge.iaxservice.accounts import user_accounts
from pbxedge.iaxservice.call_host import CallHost
from pbxedge.log import printable

__all__ = [
    "DPREP_REFRESH",
    "InboundCall",
    "cause_of",
    "deliver_to_channel",
]

logger = logging.getLogger("pbxedge.iax2")

DPREP_REFRESH = 600  # iaxdefaultdpcache: how long the caller may cache a DPREP
_AUTH_CHALLENGED = AuthMethod.MD5 | AuthMethod.RSA


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


class InboundCall:
    """The life of one call opened by the peer's NEW."""

    def __init__(self, service: CallHost, event: NewCall) -> None:
        self._svc = service
        self.callno = event.callno
        self.addr = event.addr
        self._token_validated = event.token_validated
        self._frame = event.frame
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
        self._finished = False

    # -- small helpers --------------------------------------------------------------------

    def _now(self) -> float:
        return self._svc.iax.now()

    def _send(self, subclass: IaxSubclass, ies: IEList | None) -> None:
        self._svc.iax.endpoint.send_iax(self.callno, subclass, ies, self._now())

    def _reject_now(self, rejection: Rejection | NoCommonCodec) -> None:
        self._finish()
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
            request = parse_new(self._frame.ies(),
                                shrink_callerid=svc.config.general.shrinkcallerid)
        except (MalformedFrame, ValueError) as exc:  # bad IE layout, impossible DATETIME…
            self._reject_now(Rejection.no_authority(f"unreadable NEW: {exc}"))
            return
        self._request = request
        if not request.version_supported:
            self._auth_failed(Rejection.no_authority(f"protocol version {request.version}"))
            return
        match = match_user(user_accounts(svc.config), username=request.username,
                           context=request.called_context, ip=self.addr[0])
        if match.rejected:
            self._auth_failed(Rejection.no_authority(match.reason))
            return
        if match.user is None:
            self._decoy_challenge(request, match.reason)
            return
        account = self._account = match.user
        user = self._user = svc.config.users[account.name]
        self._secrets = resolve_secrets(account.secrets, account.dbsecret, svc.secret_resolver)
        if user.auth & _AUTH_CHALLENGED:
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
        if self._methods & _AUTH_CHALLENGED:
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
        self._challenge = make_challenge(svc.rng) if user.auth & _AUTH_CHALLENGED else ""
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
            encrypted = svc.iax.endpoint.call_info(self.callno).encrypted
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
        svc = self._svc
        request = self._request
        assert request is not None
        general = svc.config.general
        self._context = request.called_context or (user.contexts[0] if user.contexts
                                                    else general.context)
        if self._context == "*":
            self._context = general.context
        callerid = _callerid(user, request)
        entry = entry_extension(request.exten, user.immediate)
        if entry is not None and not svc.engine.plan.exists(self._context, entry, 1, callerid[0]):
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
        channel.variables.update(dict(user.setvars))
        self.channel = channel
        svc.add_channel(channel, self.callno, call=True)
        channel.use_jitterbuffer(True)
        if self._agreement.key_rotation and svc.iax.endpoint.call_info(self.callno).encrypted:
            # Only the side that answers rotates: the AUTHREQ offered no KEYROTATE bit (§5.2).
            svc.iax.endpoint.enable_key_rotation(self.callno, self._now())
        if entry is None:
            self._tbd = True  # wait for DPREQ / DIAL (§7.3)
            return
        self._enter(entry)

    def _enter(self, exten: str) -> None:
        assert self.channel is not None
        self._svc.nursery.start_soon(self._run_dialplan, self.channel, self._context, exten)

    async def _run_dialplan(self, channel: IaxChannel, context: str, exten: str) -> None:
        outcome = None
        try:
            outcome = await self._svc.engine.start(channel, context, exten)
        except Exception:
            logger.exception("dialplan failed on %s", channel.name)
            await channel.hangup(16)
        finally:
            # The record is on disk before the hangup is logged (and the call forgotten).
            if outcome is not None and self._svc.cdr is not None:
                self._svc.cdr.call_ended(channel, outcome)
            self._svc.remove_channel(channel)

    # -- TBD calls: DPREQ and DIAL --------------------------------------------------------

    def _on_dpreq(self, ies: IEList) -> None:
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
        elif sub is IaxSubclass.DPREQ and self._tbd:
            self._on_dpreq(ies)
        elif sub is IaxSubclass.DIAL and self._tbd:
            self._on_dial(ies)


def _callerid(user: User, request: CallRequest) -> tuple[str | None, str | None]:
    """The user's ``callerid=`` replaces what the caller sent (check_access, §4.2 item 4)."""
    if user.callerid_number or user.callerid_name:
        # Asterisk reads callerid= through ast_callerid_split, which always shrinks it.
        number = shrink_phone_number(user.callerid_number) if user.callerid_number else None
        return number, user.callerid_name
    return request.calling_number, request.calling_name

