"""An IAX2 calling agent: many outgoing calls with audio over one UDP socket.

It is the engine of ``pbxedge load`` and of the media tests: a sans-IO
:class:`~pbxedge.iax2.endpoint.Endpoint` driven by the trio transport, plus just enough of a
client to place calls as a phone does: the call-token exchange, MD5 / plaintext / RSA
answers to AUTHREQ (AES when asked), ACCEPT, ANSWER, voice both ways, DTMF, TEXT and
HANGUP. Everything received is kept with its arrival time, so callers can measure setup
time, loss, jitter and echo delay. It uses nothing of the node but ``iax2``, ``media`` and
the transport: pointed at Asterisk it works the same.
"""

from __future__ import annotations

import random
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
from pbxedge.iax2.events import CallDestroyed, Event, FrameReceived, PeerUnreachable, VoiceReceived
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.newcall import build_new
from pbxedge.transport import UdpTransport

__all__ = ["Account", "AgentCall", "CallAgent", "ReceivedVoice"]

Address = tuple[str, int]


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
    accepted: trio.Event = field(default_factory=trio.Event)
    answered: trio.Event = field(default_factory=trio.Event)
    ended: trio.Event = field(default_factory=trio.Event)

    @property
    def up(self) -> bool:
        return self.answered.is_set() and not self.ended.is_set()


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
            pool=CallNumberPool(rng=rng),
            tokens=CallTokenIssuer(rng.randbytes(32)),
            token_policy=lambda *_: False,
            rng=rng,
        )
        self.transport = UdpTransport(self.endpoint, [bind], _Events(self))
        self.account = account or Account()
        self._key: RSAPrivateKey | None = None
        self._calls: dict[int, AgentCall] = {}
        self._accounts: dict[int, Account] = {}
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
        ies = build_new(exten, prefs=[Codec(codec)], capability=capability or codec,
                        format=codec, now_datetime=datetime.now(), username=account.username,
                        calling_number=account.calling_number,
                        calling_name=account.calling_name, context=context,
                        encryption=EncryptionMethod.AES128 if account.encryption else 0)
        now = trio.current_time()
        callno = self.endpoint.start(target, IaxSubclass.NEW, ies, now)
        call = AgentCall(callno, exten, codec, now)
        self._calls[callno] = call
        self._accounts[callno] = account
        self.transport.kick()
        return call

    def send_voice(self, call: AgentCall, payload: bytes, samples: int) -> None:
        self.endpoint.send_voice(call.callno, call.codec, payload, trio.current_time(), samples)
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
        call = self._calls.get(getattr(event, "callno", -1))
        if call is None:
            return
        now = trio.current_time()
        if isinstance(event, VoiceReceived):
            if not event.interpolated:
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

    def _on_frame(self, call: AgentCall, frame: FullFrame, now: float) -> None:
        if frame.frametype == FrameType.CONTROL:
            call.controls.append(frame.subclass)
            if frame.subclass == ControlSubclass.ANSWER and not call.answered.is_set():
                call.answered_at = now
                call.answered.set()
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

    def _authenticate(self, call: AgentCall, ies: IEList) -> None:
        account = self._accounts[call.callno]
        methods = AuthMethod(ies.get_u16(IE.AUTHMETHODS) or 0)
        challenge = ies.get_str(IE.CHALLENGE) or ""
        reply = IEList()
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
            self.hangup(call, 0)
            return
        now = trio.current_time()
        offered = ies.get_u16(IE.ENCRYPTION) or 0
        if account.encryption and offered & EncryptionMethod.AES128 and account.secret:
            key = aes_key(challenge, account.secret)
            self.endpoint.set_encryption(call.callno, key, [key])
        self.endpoint.send_iax(call.callno, IaxSubclass.AUTHREP, reply, now)


class _Events:
    """Each endpoint event is handled the moment the transport drains it."""

    def __init__(self, agent: CallAgent) -> None:
        self._agent = agent

    def send_nowait(self, value: object) -> None:
        self._agent.on_event(value)  # type: ignore[arg-type]
