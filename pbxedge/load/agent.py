"""An IAX2 calling agent: many outgoing calls with audio over one UDP socket.

It is the engine of ``pbxedge load`` and of the media tests: a sans-IO
:class:`~pbxedge.iax2.endpoint.Endpoint` driven by the trio transport, plus just enough of a
client to place calls as a phone does: the call-token exchange, MD5 / plaintext / RSA
answers to AUTHREQ (AES when asked), ACCEPT, ANSWER, voice both ways, DTMF, TEXT and
HANGUP; to register as a phone does (REGREQ, the answer to REGAUTH, REGACK or REGREJ); and
to POKE. Everything received is kept with its arrival time (or handed to a call's
``on_voice`` as it arrives), so callers can measure setup time, loss, jitter and echo
delay. It uses nothing of the node but ``iax2``, ``media`` and the transport: pointed at
Asterisk it works the same.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import trio
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from pbxedge.iax2.callnumbers import CallNumberPool
from pbxedge.iax2.calltoken import CallTokenIssuer
from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.crypto import aes_key, md5_response, rsa_sign
from pbxedge.iax2.endpoint import Endpoint, UnknownCall
from pbxedge.iax2.enums import (
    IE,
    AuthMethod,
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
    PongReceived,
    VoiceReceived,
)
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.newcall import build_new
from pbxedge.transport import UdpTransport

__all__ = ["Account", "AgentCall", "AgentPoke", "AgentRegistration", "CallAgent",
           "ReceivedVoice", "VoiceSink"]

Address = tuple[str, int]
# (arrival on the trio clock, the sender's timestamp, codec, payload)
VoiceSink = Callable[[float, int, int, bytes], None]
_REUSE_AFTER = 5.0  # seconds before a call number of an ended dialog is used again
_NEW_IES_KEPT = 64
_RECEIVE_BUFFER = 1 << 20


@dataclass(frozen=True)
class Account:
    """Who the calls claim to be; with none of secret/key the call goes as guest."""

    username: str | None = None
    secret: str | None = None
    key_file: Path | None = None  # RSA private key (PEM), Asterisk's outkey
    encryption: bool = False
    calling_number: str = "2001"
    calling_name: str = "pbxedge load"

    def private_key(self) -> RSAPrivateKey | None:
        if self.key_file is None:
            return None
        key = load_pem_private_key(self.key_file.read_bytes(), password=None)
        if not isinstance(key, RSAPrivateKey):
            raise ValueError(f"{self.key_file} is not an RSA private key")
        return key


@dataclass(frozen=True, slots=True)
class ReceivedVoice:
    arrival: float  # trio clock
    timestamp: int  # the sender's, full 32 bits
    codec: int
    payload: bytes


@dataclass
class AgentCall:
    """One outgoing call and everything that happened on it."""

    callno: int
    exten: str
    codec: int
    started: float
    accepted_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    peer_callno: int = 0  # the far end's call number, from its ACCEPT
    cause: int | None = None  # CAUSECODE of the HANGUP/REJECT that ended it
    cause_text: str = ""
    rejected: bool = False
    voice: list[ReceivedVoice] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    controls: list[int] = field(default_factory=list)
    sent_frames: int = 0
    on_voice: VoiceSink | None = None  # set: received voice goes there instead of ``voice``
    accepted: trio.Event = field(default_factory=trio.Event)
    answered: trio.Event = field(default_factory=trio.Event)
    ended: trio.Event = field(default_factory=trio.Event)
    settled: trio.Event = field(default_factory=trio.Event)  # answered or ended

    @property
    def up(self) -> bool:
        return self.answered.is_set() and not self.ended.is_set()


@dataclass
class AgentRegistration:
    """One REGREQ dialog: REGAUTH answered, then REGACK (``granted``) or REGREJ."""

    callno: int
    username: str
    started: float
    requested: int  # the REFRESH asked for
    ended_at: float | None = None
    granted: bool = False
    refresh: int = 0  # what the REGACK granted
    cause: str = ""  # the REGREJ's CAUSE, or why the dialog ended without an answer
    ended: trio.Event = field(default_factory=trio.Event)


@dataclass
class AgentPoke:
    """One POKE: the PONG's round trip, or nothing (``rtt_ms`` None) when it never came."""

    callno: int
    started: float
    rtt_ms: int | None = None
    ended: trio.Event = field(default_factory=trio.Event)


class CallAgent:
    """Places calls from one local UDP socket. Use inside a nursery::

        agent = CallAgent()
        await nursery.start(agent.run)
        call = agent.call(("127.0.0.1", 4569), "600", Account())
    """

    def __init__(self, bind: Address = ("127.0.0.1", 0), *, seed: int | None = None,
                 account: Account | None = None) -> None:
        rng = random.Random(seed)
        self._rng = rng
        self.endpoint = Endpoint(
            # A client may reuse its call numbers soon (the server keys its dialogs by our
            # address and number only while they last); a minute, as a server holds them,
            # would cap a load run at 270 calls or registrations a second.
            pool=CallNumberPool(rng=rng, maxcallnumbers=1 << 15, hold_seconds=_REUSE_AFTER),
            tokens=CallTokenIssuer(rng.randbytes(32)),
            token_policy=lambda *_: False,
            rng=rng,
        )
        # A big receive buffer: the load tool must not lose what the server sent it.
        self.transport = UdpTransport(self.endpoint, [bind], _Events(self),
                                      receive_buffer=_RECEIVE_BUFFER)
        self.account = account or Account()
        self._key: RSAPrivateKey | None = None
        self._calls: dict[int, AgentCall] = {}
        self._accounts: dict[int, Account] = {}
        self._registrations: dict[int, tuple[AgentRegistration, Account]] = {}
        self._pokes: dict[int, AgentPoke] = {}
        self._new_ies: dict[tuple[object, ...], IEList] = {}
        self.local: Address | None = None

    async def run(self, *, task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            [self.local] = await nursery.start(self.transport.run)
            task_status.started(self.local)

    @property
    def calls(self) -> list[AgentCall]:
        return list(self._calls.values())

    # -- commands -------------------------------------------------------------------------

    def call(self, target: Address, exten: str, account: Account | None = None, *,
             codec: int = Codec.ULAW, capability: int | None = None,
             context: str | None = None) -> AgentCall:
        account = account or self.account
        # A load run places thousands of the same NEW: its IEs are built once a minute.
        key = (exten, account, codec, capability, context, int(trio.current_time() // 60))
        ies = self._new_ies.get(key)
        if ies is None:
            if len(self._new_ies) > _NEW_IES_KEPT:
                self._new_ies.clear()
            ies = self._new_ies[key] = build_new(
                exten, prefs=[Codec(codec)], capability=capability or codec, format=codec,
                now_datetime=datetime.now(), username=account.username,
                calling_number=account.calling_number, calling_name=account.calling_name,
                context=context, encryption=EncryptionMethod.AES128 if account.encryption else 0)
        now = trio.current_time()
        callno = self.endpoint.start(target, IaxSubclass.NEW, ies, now)
        call = AgentCall(callno, exten, codec, now)
        self._calls[callno] = call
        self._accounts[callno] = account
        self.transport.kick()
        return call

    def register(self, target: Address, account: Account, refresh: int = 60) -> AgentRegistration:
        """Send a REGREQ for *account* (its username is the peer name)."""
        username = account.username or ""
        ies = IEList().add_str(IE.USERNAME, username).add_u16(IE.REFRESH, refresh)
        now = trio.current_time()
        callno = self.endpoint.start(target, IaxSubclass.REGREQ, ies, now, counted=False)
        registration = AgentRegistration(callno, username, now, refresh)
        self._registrations[callno] = (registration, account)
        self.transport.kick()
        return registration

    def poke(self, target: Address) -> AgentPoke:
        now = trio.current_time()
        callno = self.endpoint.start(target, IaxSubclass.POKE, IEList(), now, counted=False)
        poke = self._pokes[callno] = AgentPoke(callno, now)
        self.transport.kick()
        return poke

    def forget(self, call: AgentCall) -> None:
        """Drop an ended call's record (a long load run keeps only what it reports)."""
        self._calls.pop(call.callno, None)
        self._accounts.pop(call.callno, None)

    def send_voice(self, call: AgentCall, payload: bytes, samples: int,
                   now: float | None = None) -> None:
        """Queue one voice frame (sent at the next :meth:`flush`)."""
        self.endpoint.send_voice(call.callno, call.codec, payload,
                                 trio.current_time() if now is None else now, samples)
        call.sent_frames += 1

    def send_dtmf(self, call: AgentCall, digit: str) -> None:
        self._command(call, "send_dtmf", digit, begin=True)
        self._command(call, "send_dtmf", digit)

    def send_text(self, call: AgentCall, text: str) -> None:
        self._command(call, "send_text", text)

    def hangup(self, call: AgentCall, cause: int = 16) -> None:
        self._command(call, "hangup", cause)

    def flush(self) -> None:
        """Send what the commands queued (voice is not flushed frame by frame)."""
        self.transport.kick()

    def _command(self, call: AgentCall, name: str, *args: object, **kwargs: object) -> None:
        try:
            getattr(self.endpoint, name)(call.callno, *args, trio.current_time(), **kwargs)
        except UnknownCall:
            return
        self.transport.kick()

    # -- events ---------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        callno = getattr(event, "callno", -1)
        call = self._calls.get(callno)
        if call is None:
            if callno in self._registrations:
                self._on_registration_event(event)
            elif callno in self._pokes:
                self._on_poke_event(event)
            return
        now = trio.current_time()
        if isinstance(event, VoiceReceived):
            if event.interpolated:
                return
            if call.on_voice is not None:
                call.on_voice(now, event.timestamp, event.codec, event.payload)
            else:
                call.voice.append(ReceivedVoice(now, event.timestamp, event.codec,
                                                event.payload))
        elif isinstance(event, FrameReceived):
            self._on_frame(call, event.frame, now)
        elif isinstance(event, (CallDestroyed, PeerUnreachable)):
            self._ended(call, now)

    def _ended(self, call: AgentCall, now: float) -> None:
        if not call.ended.is_set():
            call.ended_at = now
            call.ended.set()
            call.settled.set()

    def _on_frame(self, call: AgentCall, frame: FullFrame, now: float) -> None:
        if frame.frametype == FrameType.CONTROL:
            call.controls.append(frame.subclass)
            if frame.subclass == ControlSubclass.ANSWER and not call.answered.is_set():
                call.answered_at = now
                call.answered.set()
                call.settled.set()
            return
        if frame.frametype == FrameType.DTMF_END and 0 < frame.subclass < 128:
            call.digits.append(chr(frame.subclass))
            return
        if frame.frametype == FrameType.TEXT:
            call.texts.append(frame.payload.split(b"\0", 1)[0].decode("utf-8", "replace"))
            return
        sub = frame.iax_subclass
        try:
            ies = frame.ies() if frame.frametype == FrameType.IAX else IEList()
        except MalformedFrame:
            return
        if sub in (IaxSubclass.HANGUP, IaxSubclass.REJECT):
            call.cause = ies.get_u8(IE.CAUSECODE) or 0
            call.cause_text = ies.get_str(IE.CAUSE) or ""
            call.rejected = sub is IaxSubclass.REJECT
            self._ended(call, now)
        elif sub is IaxSubclass.ACCEPT:
            call.accepted_at = now
            call.peer_callno = frame.source_call
            call.codec = ies.get_u32(IE.FORMAT) or call.codec
            call.accepted.set()
        elif sub is IaxSubclass.AUTHREQ:
            self._authenticate(call, ies)

    def _answer(self, account: Account, ies: IEList, reply: IEList) -> bool:
        """Add the answer to an AUTHREQ/REGAUTH challenge to *reply*; False: none fits."""
        methods = AuthMethod(ies.get_u16(IE.AUTHMETHODS) or 0)
        challenge = ies.get_str(IE.CHALLENGE) or ""
        if methods & AuthMethod.RSA and account.key_file is not None:
            if self._key is None:
                self._key = account.private_key()
            assert self._key is not None
            reply.add_str(IE.RSA_RESULT, rsa_sign(self._key, challenge))
        elif methods & AuthMethod.MD5 and account.secret is not None:
            reply.add_str(IE.MD5_RESULT, md5_response(challenge, account.secret))
        elif methods & AuthMethod.PLAINTEXT and account.secret is not None:
            reply.add_str(IE.PASSWORD, account.secret)
        else:
            return False
        return True

    def _authenticate(self, call: AgentCall, ies: IEList) -> None:
        account = self._accounts[call.callno]
        reply = IEList()
        if not self._answer(account, ies, reply):
            self.hangup(call, 0)
            return
        challenge = ies.get_str(IE.CHALLENGE) or ""
        now = trio.current_time()
        offered = ies.get_u16(IE.ENCRYPTION) or 0
        if account.encryption and offered & EncryptionMethod.AES128 and account.secret:
            key = aes_key(challenge, account.secret)
            self.endpoint.set_encryption(call.callno, key, [key])
        self.endpoint.send_iax(call.callno, IaxSubclass.AUTHREP, reply, now)


    def _on_registration_event(self, event: Event) -> None:
        registration, account = self._registrations[event.callno]  # type: ignore[union-attr]
        now = trio.current_time()
        if isinstance(event, (CallDestroyed, PeerUnreachable)):
            del self._registrations[registration.callno]
            if not registration.ended.is_set():
                registration.cause = registration.cause or "no answer"
                registration.ended_at = now
                registration.ended.set()
            return
        if not isinstance(event, FrameReceived) or event.frame.frametype != FrameType.IAX:
            return
        sub = event.frame.iax_subclass
        try:
            ies = event.frame.ies()
        except MalformedFrame:
            return
        if sub is IaxSubclass.REGAUTH:
            reply = IEList().add_str(IE.USERNAME, registration.username)
            if not self._answer(account, ies, reply):
                registration.cause = "no credentials for the challenge"
                self.endpoint.destroy(registration.callno, now)
                return
            reply.add_u16(IE.REFRESH, registration.requested)
            self.endpoint.send_iax(registration.callno, IaxSubclass.REGREQ, reply, now)
        elif sub in (IaxSubclass.REGACK, IaxSubclass.REGREJ):
            registration.granted = sub is IaxSubclass.REGACK
            registration.refresh = ies.get_u16(IE.REFRESH) or 0
            registration.cause = "" if registration.granted else ies.get_str(IE.CAUSE) or "REGREJ"
            registration.ended_at = now
            registration.ended.set()

    def _on_poke_event(self, event: Event) -> None:
        poke = self._pokes[event.callno]  # type: ignore[union-attr]
        if isinstance(event, PongReceived):
            poke.rtt_ms = event.rtt_ms
        elif isinstance(event, (CallDestroyed, PeerUnreachable)):
            del self._pokes[poke.callno]
            poke.ended.set()


class _Events:
    """Each endpoint event is handled the moment the transport drains it."""

    def __init__(self, agent: CallAgent) -> None:
        self._agent = agent

    def send_nowait(self, value: object) -> None:
        self._agent.on_event(value)  # type: ignore[arg-type]
