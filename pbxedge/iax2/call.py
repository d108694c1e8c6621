"""One IAX2 call number's protocol state (reference iax2.md §2, §3.1, §5.3–§5.4).

Rules of this module:
1. No I/O and no clock: every entry point takes ``now`` (seconds); output goes to
   ``outbox`` (encoded datagrams for ``addr``) and ``events``, which the endpoint drains.
2. The call's life cycle lives in one table, :data:`~pbxedge.iax2.callstate.TRANSITIONS`,
   keyed by ``(CallState, CallInput)``. A pair missing from the table is refused: a local
   command raises :class:`CallStateError`; a frame from the peer is acknowledged (it did
   arrive) but otherwise dropped and counted.
3. Sequence numbers, ACK/VNAK and the retransmission schedule follow Asterisk
   (chan_iax2.c ``iax2_send``, ``socket_process_helper``) except where pbxedge deliberately
   does better: ×2 backoff, VNAK resends carry the R bit and a fresh ISeqno (§10 row 8).
4. Which AES key reads or writes a frame is :mod:`pbxedge.iax2.callkeys`' business; this
   module decides when keys change (AUTHREP, RTKEY sent or received, the rotation timer).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

from mypy_extensions import mypyc_attr

from pbxedge.iax2.callkeys import CallKeys
from pbxedge.iax2.callstate import (
    TRANSFER_TRANSITIONS,
    TRANSITIONS,
    CallInput,
    CallState,
    CallStateError,
    TransferInput,
    TransferState,
    transition,
)
from pbxedge.iax2.codecs import Codec, frame_ms
from pbxedge.iax2.crypto import AesTransform
from pbxedge.iax2.enums import IE, ControlSubclass, FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.events import (
    CallDestroyed,
    CallTransferred,
    Event,
    FrameReceived,
    PeerUnreachable,
    PongReceived,
    TransferFailed,
    TransferReleased,
    VoiceReceived,
)
from pbxedge.iax2.frames import FullFrame, MiniFrame
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.reliable import Pending, RetransmitQueue, seq_distance
from pbxedge.iax2.rr import ReceptionReport
from pbxedge.iax2.timestamps import TxTimestamps, unwrap_timestamp
from pbxedge.iax2.trunk import TrunkPeer
from pbxedge.media.jitterbuffer import JbResult, JitterBuffer, JitterBufferSettings

__all__ = [
    "TRANSITIONS",
    "Call",
    "CallInfo",
    "CallInput",
    "CallState",
    "CallStateError",
    "NotEncrypted",
    "ReliabilityCounters",
    "frame_name",
    "transition",
]

Address = tuple[str, int]

S, In = CallState, CallInput
T, TIn = TransferState, TransferInput

DEFAULT_RTT = 1.0  # Asterisk DEFAULT_RETRY_TIME: 1000 ms until a measurement exists
HANGUP_SAFETY = 10.0  # destroy a hung-up call even if its HANGUP is never ACKed (chan_iax2 5458)
KEY_ROTATION_RANGE = (120.0, 300.0)  # seconds between our RTKEYs, drawn at random (§5.4)
VNAK_MIN_INTERVAL = 1.0  # at most one VNAK per second for voice without a format (§10 row 13)
STATELESS_CALLNO = 1  # source of Asterisk's stateless replies; never a real call
JB_RESET_GAP_MS = 5000  # chan_iax2 TS_GAP_FOR_JB_RESYNC: a jump this large starts the buffer over
TRANSFER_RETRY = 1.0  # TXCNT goes again at most once a second (§7.6 item 2)
TRANSFER_TRIES = 4  # TXCNTs without a TXACC before the leg gives up and sends TXREJ


@mypyc_attr(native_class=False)
class NotEncrypted(RuntimeError):
    """Key rotation was asked for on a call that has no transmit key."""


# Frames that neither consume a sequence number nor get ordered or ACKed (§2.2, §2.4).
_UNSEQUENCED = frozenset(
    {IaxSubclass.ACK, IaxSubclass.INVAL, IaxSubclass.TXCNT, IaxSubclass.TXACC, IaxSubclass.VNAK}
)
# Frames ending the call: always sent final, and the receiver ACKs then destroys.
_FINAL_SUBCLASSES = frozenset(
    {IaxSubclass.HANGUP, IaxSubclass.REJECT, IaxSubclass.REGACK, IaxSubclass.REGREJ}
)
# Native transfer commands from the peer; TXCNT/TXACC come from the other leg instead.
_TRANSFER_COMMANDS = frozenset(
    {IaxSubclass.TXREQ, IaxSubclass.TXREADY, IaxSubclass.TXREL, IaxSubclass.TXREJ,
     IaxSubclass.TXMEDIA}
)

_SENT_INPUTS: dict[IaxSubclass, CallInput] = {
    IaxSubclass.AUTHREQ: In.SEND_CHALLENGE,
    IaxSubclass.REGAUTH: In.SEND_CHALLENGE,
    IaxSubclass.AUTHREP: In.SEND_AUTH_REPLY,
    IaxSubclass.REGREQ: In.SEND_AUTH_REPLY,  # on a live call, only the authenticated resend
    IaxSubclass.REGREL: In.SEND_AUTH_REPLY,
    IaxSubclass.ACCEPT: In.SEND_ACCEPT,
}
_RECEIVED_INPUTS: dict[IaxSubclass, CallInput] = {
    IaxSubclass.NEW: In.RECV_REQUEST,
    IaxSubclass.AUTHREQ: In.RECV_CHALLENGE,
    IaxSubclass.REGAUTH: In.RECV_CHALLENGE,
    IaxSubclass.AUTHREP: In.RECV_AUTH_REPLY,
    IaxSubclass.REGREQ: In.RECV_AUTH_REPLY,
    IaxSubclass.REGREL: In.RECV_AUTH_REPLY,
    IaxSubclass.ACCEPT: In.RECV_ACCEPT,
}

# Sample clocks that are not 8 kHz, for voice timestamp prediction.
_SAMPLE_RATES: dict[int, int] = {
    Codec.SLIN16: 16000,
    Codec.G722: 16000,
    Codec.SIREN7: 16000,
    Codec.SPEEX16: 16000,
    Codec.SIREN14: 32000,
    Codec.G719: 48000,
    Codec.OPUS: 48000,
}


def _ms(now: float) -> int:
    """Whole milliseconds of *now*; the epsilon keeps a deadline of 1.04 s (stored as
    1039.999… ms) from reading as 1039 and never falling due."""
    return int(now * 1000.0 + 1e-6)


def frame_name(frame: FullFrame) -> str:
    """Short label like ``NEW`` or ``CONTROL`` for ``iax2 show channels``-style output."""
    if frame.frametype == FrameType.IAX:
        sub = frame.iax_subclass
        return sub.name if sub is not None else f"IAX{frame.subclass}"
    try:
        return FrameType(frame.frametype).name
    except ValueError:
        return f"TYPE{frame.frametype}"


def _label(note: tuple[str, FullFrame] | None) -> str:
    return "" if note is None else f"{note[0]}:{frame_name(note[1])}"


@dataclass(frozen=True, slots=True)
class CallInfo:
    callno: int
    addr: Address
    peer_callno: int
    state: CallState
    oseqno: int
    iseqno: int
    first_message: str
    last_message: str
    rtt_ms: int
    lag_ms: int
    tx_format: int | None
    rx_format: int | None
    encrypted: bool
    unacked: int
    local_rr: ReceptionReport  # what our PONGs report about the audio we receive
    remote_rr: ReceptionReport  # what the peer's last PONG reported (zeros until one)
    jitterbuffer: bool = False  # local_rr's jitter, delay and loss come from a jitter buffer
    transfer: TransferState = TransferState.NONE


@dataclass(frozen=True, slots=True)
class _Voice:
    codec: int
    timestamp: int
    payload: bytes
    full: bool


@dataclass(slots=True)
class _Held:
    """A non-IAX frame waiting for the peer's call number (Asterisk queue_signalling)."""

    frametype: int
    subclass: int
    payload: bytes
    timestamp: int


@dataclass(slots=True)
class ReliabilityCounters:
    """What the calls of one endpoint had to resend or ask again, for the node's metrics."""

    retransmitted: int = 0  # full frames sent again (timer or VNAK)
    vnaks_sent: int = 0
    vnaks_received: int = 0


class Call:
    """Protocol state of one call number."""

    # Slotted: a bridging node touches several calls per relayed frame, and a slotted
    # call's fields share its cache lines (a third less CPU per trunk entry when the node
    # wakes once a tick with cold caches) and take less memory.
    __slots__ = (
        "_counters",
        "_destroy_at",
        "_first_note",
        "_held",
        "_jb",
        "_jb_last",
        "_lagrq_at",
        "_lagrqtime",
        "_last_note",
        "_last_vnak",
        "_pending_ack",
        "_ping_at",
        "_pingtime",
        "_request_ies",
        "_rng",
        "_rotate_at",
        "_rx_voice_last",
        "_rx_voice_ooo",
        "_transfer_id",
        "_txcnt_at",
        "_txcnt_sent",
        "addr",
        "addressed",
        "aseqno",
        "callno",
        "events",
        "final_acknowledged",
        "iseqno",
        "keys",
        "lag_ms",
        "last_voice_ts",
        "media_pass",
        "oseqno",
        "outbound",
        "outbox",
        "peer_callno",
        "protocol_violations",
        "queue",
        "remote_rr",
        "repathed",
        "request",
        "rtt",
        "rx_format",
        "rx_full_voice",
        "rx_last",
        "rx_origin_ms",
        "rx_voice_frames",
        "state",
        "transfer_addr",
        "transfer_allowed",
        "transfer_callno",
        "transfer_state",
        "trunk",
        "tx",
        "tx_format",
        "tx_voice_frames",
    )

    def __init__(
        self,
        callno: int,
        addr: Address,
        now: float,
        *,
        outbound: bool,
        rng: random.Random,
        pingtime: float,
        lagrqtime: float,
        counters: ReliabilityCounters | None = None,
    ) -> None:
        self.callno = callno
        self._counters = counters or ReliabilityCounters()
        self.addr = addr
        self.outbound = outbound
        self.peer_callno = 0
        # Ended by the peer's ACK of our final frame: the peer has nothing of this call left
        # to retransmit, so the number may come back sooner (see CallNumberPool.release).
        self.final_acknowledged = False
        self.state = CallState.IDLE
        self.request: IaxSubclass | None = None
        self._request_ies: IEList | None = None
        self._rng = rng
        self._pingtime = pingtime
        self._lagrqtime = lagrqtime

        self.oseqno = 0
        self.iseqno = 0
        self.aseqno = 0  # last ISeqno we put on the wire: an explicit ACK is only needed if stale
        self.queue = RetransmitQueue()
        self.tx = TxTimestamps()
        self.rx_last = 0
        self.rtt = DEFAULT_RTT
        self.lag_ms = 0
        self._pending_ack: FullFrame | None = None
        self._held: list[_Held] = []

        self.tx_format: int | None = None
        self.rx_format: int | None = None
        self.last_voice_ts: int | None = None
        self._last_vnak: float | None = None
        self.rx_voice_frames = 0  # for RR_PKTS; the endpoint's relay fast path counts too
        self.tx_voice_frames = 0  # voice frames sent (relayed ones too), for the statistics
        self._rx_voice_ooo = 0
        self._rx_voice_last: int | None = None  # highest voice timestamp received
        self.rx_origin_ms: float | None = None  # set by the first voice frame
        self.rx_full_voice = False  # a full voice frame arrived: trunk entries are welcome
        self.trunk: TrunkPeer | None = None  # where our voice goes when trunked (the endpoint's)
        self._jb: JitterBuffer[_Voice] | None = None
        self._jb_last: _Voice | None = None
        self.remote_rr = ReceptionReport()

        self.keys = CallKeys(rng.randbytes)

        # Native transfer (§7.6). As a leg: where the bridge sends us, and whether we let it.
        self.transfer_state = TransferState.NONE
        self.transfer_allowed = True
        self.transfer_addr: Address | None = None
        self.transfer_callno = 0
        self._transfer_id: int | None = None
        self._txcnt_at: float | None = None
        self._txcnt_sent = 0
        self.media_pass = False  # TXMEDIA: mini voice goes to transfer_addr
        self.repathed = False  # TXREL moved the call: the endpoint re-indexes it
        # Datagrams for an address other than ``addr`` (the other leg of a transfer, or
        # the bridge's last ACK after the call moved away from it).
        self.addressed: list[tuple[bytes, Address]] = []

        self._ping_at: float | None = now + pingtime
        self._lagrq_at: float | None = now + lagrqtime
        self._destroy_at: float | None = None
        self._rotate_at: float | None = None

        # (direction, frame) of the first and the last frame, labelled only when shown:
        # a label per frame would cost every frame a string.
        self._first_note: tuple[str, FullFrame] | None = None
        self._last_note: tuple[str, FullFrame] | None = None
        self.protocol_violations = 0
        self.outbox: list[bytes] = []
        self.events: list[Event] = []

    # -- life cycle -----------------------------------------------------------------------

    @property
    def destroyed(self) -> bool:
        return self.state is CallState.DESTROYED

    def _apply(self, call_input: CallInput) -> None:
        self.state = transition(self.state, call_input)

    def _destroy(self, call_input: CallInput, reason: str) -> None:
        if self.destroyed:
            return
        self._apply(call_input)
        self.final_acknowledged = call_input is In.FINAL_ACKED
        self.queue.clear(self.queue.rseqno)
        self._held.clear()
        self._pending_ack = None
        self._ping_at = self._lagrq_at = self._destroy_at = self._rotate_at = None
        self.events.append(CallDestroyed(self.callno, reason))

    def destroy(self, reason: str = "destroyed") -> None:
        self._destroy(In.DESTROY, reason)

    def info(self) -> CallInfo:
        return CallInfo(
            callno=self.callno,
            addr=self.addr,
            peer_callno=self.peer_callno,
            state=self.state,
            oseqno=self.oseqno,
            iseqno=self.iseqno,
            first_message=self.first_message,
            last_message=self.last_message,
            rtt_ms=round(self.rtt * 1000),
            lag_ms=self.lag_ms,
            tx_format=self.tx_format,
            rx_format=self.rx_format,
            encrypted=self.keys.encrypted,
            unacked=len(self.queue),
            local_rr=self.reception_report(),
            remote_rr=self.remote_rr,
            jitterbuffer=self._jb is not None,
            transfer=self.transfer_state,
        )

    def reception_report(self) -> ReceptionReport:
        """``construct_rr``: the jitter buffer's figures, or only packets and out-of-order
        counts without one; the packet count is always the call's own."""
        if self._jb is None:
            return ReceptionReport(packets=self.rx_voice_frames, ooo=self._rx_voice_ooo)
        fields = self._jb.stats().reception_report_fields()
        fields["packets"] = self.rx_voice_frames
        return ReceptionReport(**fields)

    # -- jitter buffer --------------------------------------------------------------------

    @property
    def jitterbuffer(self) -> bool:
        return self._jb is not None

    def set_jitterbuffer(self, settings: JitterBufferSettings | None, now: float) -> None:
        """Voice through an adaptive jitter buffer (*settings*), or delivered at once (None).

        Frames still buffered when it is switched off are delivered at once, in order.
        """
        if settings is None:
            if self._jb is not None:
                for voice in self._jb.reset():
                    self._report(voice)
            self._jb = None
            return
        if self._jb is None:
            self._jb = JitterBuffer(settings)

    def _play_out(self, now: float) -> None:
        jb = self._jb
        assert jb is not None
        now_ms = _ms(now)
        while True:
            out = jb.get(now_ms)
            if out.kind is JbResult.EMPTY:
                return
            if out.kind is JbResult.OK and out.item is not None:
                self._jb_last = out.item
                self._report(out.item)
            elif out.kind is JbResult.INTERP and self._jb_last is not None:
                last = self._jb_last
                self.events.append(VoiceReceived(self.callno, last.codec, last.timestamp,
                                                 last.payload, False, True))

    # -- timers ---------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        # Runs after every frame of a call: plain comparisons, no list or generator.
        best = self.queue.next_deadline()
        for due in (self._ping_at, self._lagrq_at, self._destroy_at, self._rotate_at,
                    self._txcnt_at):
            if due is not None and (best is None or due < best):
                best = due
        if self._jb is not None:
            ms = self._jb.next_deadline_ms()
            if ms is not None and (best is None or ms / 1000.0 < best):
                best = ms / 1000.0
        return best

    def handle_timer(self, now: float) -> None:
        if self._jb is not None:
            self._play_out(now)
        if self._destroy_at is not None and now >= self._destroy_at:
            self._destroy(In.DESTROY, "hangup not acknowledged")
            return
        if self._txcnt_at is not None and now >= self._txcnt_at:
            if self._txcnt_sent >= TRANSFER_TRIES:
                self._leg_gives_up("the other leg never answered TXCNT", now)
            else:
                self._send_txcnt(now)
        resend, expired = self.queue.due(now)
        for pending in resend:
            self._retransmit(pending)
        if expired:
            if any(p.final for p in expired):
                self._destroy(In.GIVE_UP, "final frame not acknowledged")
            else:
                self.events.append(PeerUnreachable(self.callno, self.addr))
                self._destroy(In.GIVE_UP, "retries exhausted")
            return
        # Keepalives run as soon as the peer's call number is known, like Asterisk (§2.6,
        # §15.7): on a half-set-up call whose peer silently vanished, the LAGRQ is what
        # draws the INVAL (or exhausts its retries) and so frees the call.
        established = self.peer_callno and self.state is not S.HANGING_UP
        if self._ping_at is not None and now >= self._ping_at:
            self._ping_at = now + self._pingtime
            if established:
                self._send_iax(IaxSubclass.PING, None, now)
        if self._lagrq_at is not None and now >= self._lagrq_at:
            self._lagrq_at = now + self._lagrqtime
            if established:
                self._send_iax(IaxSubclass.LAGRQ, None, now)
        if self._rotate_at is not None and now >= self._rotate_at:
            if self.state is S.HANGING_UP:
                self._rotate_at = None  # a key for a call that is ending protects nothing
            else:
                self.rotate_key(now)
                self._rotate_at = now + self._rng.uniform(*KEY_ROTATION_RANGE)

    # -- encryption -----------------------------------------------------------------------

    @property
    def tx_cipher(self) -> AesTransform | None:
        return self.keys.tx

    def set_encryption(self, tx_key: bytes, rx_keys: Sequence[bytes]) -> None:
        self.keys.set(tx_key, rx_keys)

    def expect_encrypted(self, candidate_keys: Sequence[bytes]) -> None:
        self.keys.expect(candidate_keys)

    def enable_key_rotation(self, now: float) -> None:
        """Send an RTKEY every 120-300 s from now on, as Asterisk's ``iax2_key_rotate``."""
        if self.tx_cipher is None:
            raise NotEncrypted(f"call {self.callno} has no transmit key to rotate")
        self._rotate_at = now + self._rng.uniform(*KEY_ROTATION_RANGE)

    def rotate_key(self, now: float) -> None:
        """Send RTKEY carrying a new key under the old one, then transmit with the new key."""
        if self.tx_cipher is None:
            raise NotEncrypted(f"call {self.callno} has no transmit key to rotate")
        new_key = self._rng.randbytes(16)
        self._send_iax(IaxSubclass.RTKEY, IEList().add(IE.CHALLENGE, new_key), now)
        self.keys.switch_tx(new_key)

    def open_full(self, data: bytes, now: float) -> FullFrame | None:
        """Decrypt (when keys are set) and parse a full frame; None if it cannot be read."""
        return self.keys.open_full(data, now, self.rx_last)

    def open_mini(self, data: bytes, now: float) -> MiniFrame | None:
        return self.keys.open_mini(data, now, self.rx_last)

    # -- sending --------------------------------------------------------------------------

    def _note(self, direction: str, frame: FullFrame) -> None:
        if self._first_note is None:
            self._first_note = (direction, frame)
        self._last_note = (direction, frame)

    @property
    def first_message(self) -> str:
        """``Rx:NEW``-style label of the first frame, as ``iax2 show channels`` prints it."""
        return _label(self._first_note)

    @property
    def last_message(self) -> str:
        return _label(self._last_note)

    def _emit(self, frame: FullFrame, cipher: AesTransform | None) -> None:
        data = frame.encode()
        self.outbox.append(cipher.encrypt_full(data) if cipher is not None else data)

    def _send_full(
        self,
        frametype: int,
        subclass: int,
        payload: bytes,
        timestamp: int,
        now: float,
        *,
        reliable: bool = True,
        final: bool = False,
    ) -> None:
        if self.state is S.DESTROYED:
            return
        if self.outbound and self.peer_callno == 0 and frametype != FrameType.IAX:
            self._held.append(_Held(frametype, subclass, payload, timestamp))
            return
        frame = FullFrame(
            source_call=self.callno,
            dest_call=self.peer_callno,
            timestamp=timestamp,
            oseqno=self.oseqno,
            iseqno=self.iseqno,
            frametype=frametype,
            subclass=subclass,
            payload=payload,
        )
        self.oseqno = (self.oseqno + 1) & 0xFF
        self.aseqno = self.iseqno
        cipher = self.keys.tx
        self._emit(frame, cipher)
        self._note("Tx", frame)
        if reliable:
            self.queue.add(frame, now, self.rtt, final=final, cipher=cipher)

    def _send_iax(
        self,
        subclass: IaxSubclass,
        ies: IEList | None,
        now: float,
        *,
        timestamp: int | None = None,
        final: bool = False,
    ) -> None:
        ts = self.tx.genuine(now) if timestamp is None else timestamp
        payload = ies.encode() if ies is not None else b""
        self._send_full(FrameType.IAX, int(subclass), payload, ts, now, final=final)

    def _send_unsequenced(self, subclass: IaxSubclass, dest: int, ts: int, oseqno: int) -> None:
        """ACK or VNAK: sent once, consumes no sequence number (§2.2)."""
        frame = FullFrame(self.callno, dest, ts, oseqno, self.iseqno, FrameType.IAX, int(subclass))
        self.aseqno = self.iseqno
        self._emit(frame, self.tx_cipher)

    def _ack(self, frame: FullFrame) -> None:
        # ACK echoes the acknowledged frame's timestamp; its OSeqno is that frame's ISeqno.
        self._send_unsequenced(IaxSubclass.ACK, frame.source_call, frame.timestamp, frame.iseqno)

    def _vnak(self, frame: FullFrame) -> None:
        self._counters.vnaks_sent += 1
        self._send_unsequenced(IaxSubclass.VNAK, frame.source_call, frame.timestamp, self.iseqno)

    def _retransmit(self, pending: Pending) -> None:
        frame = pending.frame._replace(
            iseqno=self.iseqno,
            dest_call=pending.frame.dest_call or self.peer_callno,
            retransmitted=True,
        )
        self._counters.retransmitted += 1
        self.aseqno = self.iseqno
        self._emit(frame, pending.cipher)

    @property
    def owes_ack(self) -> bool:
        return self._pending_ack is not None

    def flush_ack(self) -> None:
        """Send the explicit ACK still owed, unless an outgoing frame already carried it.

        Deferred to the moment datagrams leave so that a reply produced by the layer above
        in the meantime (AUTHREQ after NEW, PONG after PING…) doubles as the ACK (§2.4 item 4).
        """
        frame, self._pending_ack = self._pending_ack, None
        if frame is not None and not self.destroyed and self.aseqno != self.iseqno:
            self._ack(frame)

    def _release_held(self, now: float) -> None:
        held, self._held = self._held, []
        for h in held:
            self._send_full(h.frametype, h.subclass, h.payload, h.timestamp, now)

    # -- commands from above --------------------------------------------------------------

    def send_request(self, subclass: IaxSubclass, ies: IEList, now: float) -> None:
        """First frame of an outbound call: the request with an empty CALLTOKEN IE last."""
        self._apply(In.SEND_REQUEST)
        self.request = subclass
        self._request_ies = ies.without(IE.CALLTOKEN)
        self._send_iax(subclass, IEList(self._request_ies).add_empty(IE.CALLTOKEN), now)

    def accept_request(self, frame: FullFrame, now: float) -> None:
        """First frame of an inbound call (already past the call-token rules)."""
        self._apply(In.RECV_REQUEST)
        self.request = frame.iax_subclass
        self.peer_callno = frame.source_call
        self.iseqno = (frame.oseqno + 1) & 0xFF
        self._note("Rx", frame)
        self._track_rx_timestamp(frame)
        self._pending_ack = frame

    def send_iax(
        self, subclass: IaxSubclass, ies: IEList | None, now: float, *, final: bool
    ) -> None:
        final = final or subclass in _FINAL_SUBCLASSES
        call_input = In.SEND_FINAL if final else _SENT_INPUTS.get(subclass)
        if call_input is not None:
            self._apply(call_input)
        if subclass is IaxSubclass.ACCEPT and ies is not None and self.rx_format is None:
            self.rx_format = ies.get_u32(IE.FORMAT)
        self._send_iax(subclass, ies, now, final=final)
        if final:
            self._destroy_at = now + HANGUP_SAFETY

    def send_control(self, subclass: int, now: float, payload: bytes = b"") -> None:
        if subclass == ControlSubclass.ANSWER:
            self._apply(In.SEND_ANSWER)
        self._send_full(FrameType.CONTROL, subclass, payload, self.tx.control(now), now)

    def send_voice(self, codec: int, payload: bytes, now: float, samples: int,
                   timestamp: int | None = None) -> bool:
        """Send audio: full and reliable for the first frame, a format change and each
        time the low 16 bits of the timestamp wrap; mini frames otherwise. True when a full
        frame went out (the retransmission queue changed).

        *timestamp* is given for audio relayed from another leg (its delivery time on our
        clock); without it the stamp follows Asterisk's voice prediction.

        On the wrap pbxedge follows RFC 5456 §8.1.2 rather than Asterisk (which keeps
        sending mini frames across it): a receiver that does not unwrap mini timestamps
        then still never sees time run backwards, and Asterisk takes the full frame as any
        other.
        """
        if self.destroyed or self.state is S.HANGING_UP or self.peer_callno == 0:
            # Audio cannot wait for the peer's call number the way signalling does: by the
            # time it could be sent it would be stale, so it is dropped instead of held.
            return False
        self.tx_voice_frames += 1
        rate = _SAMPLE_RATES.get(codec, 8000)
        if timestamp is None:
            ts = self.tx.voice(now, samples, rate)
        else:
            ts = self.tx.delivered(timestamp, samples, rate)
        last = self.last_voice_ts
        self.last_voice_ts = ts
        if codec == self.tx_format and last is not None:
            trunk = self.trunk
            if trunk is not None and self.keys.tx is None and not self.media_pass:
                # Trunked whatever the timestamp, as Asterisk does; never encrypted audio,
                # so an encrypted trunk call keeps its (encrypted) mini frames.
                datagram = trunk.add(self.callno, ts, payload, now)
                if datagram is not None:
                    self.outbox.append(datagram)
                return False
            if ts >> 16 == last >> 16:
                mini = MiniFrame(self.callno, ts & 0xFFFF, payload).encode()
                cipher = self.tx_cipher
                if self.media_pass and self.transfer_addr is not None:
                    self.addressed.append((mini, self.transfer_addr))  # never encrypted
                else:
                    self.outbox.append(cipher.encrypt_mini(mini) if cipher is not None
                                       else mini)
                return False
        self.tx_format = codec
        self._send_full(FrameType.VOICE, codec, payload, ts, now)
        return True

    def send_dtmf(self, digit: str, now: float, *, begin: bool = False) -> None:
        """DTMF_BEGIN or DTMF_END (no payload, no duration: §5 of the media reference)."""
        if len(digit) != 1 or not digit.isascii():
            raise ValueError(f"DTMF digit must be one ASCII character, got {digit!r}")
        frametype = FrameType.DTMF_BEGIN if begin else FrameType.DTMF_END
        self._send_full(frametype, ord(digit), b"", self.tx.control(now), now)

    def send_text(self, text: str, now: float) -> None:
        # Asterisk sends the terminating NUL too (chan_iax2 4437-4442).
        payload = text.encode("utf-8") + b"\0"
        self._send_full(FrameType.TEXT, 0, payload, self.tx.control(now), now)

    def hangup(self, cause: int, now: float) -> None:
        if self.destroyed or self.state is S.HANGING_UP:
            return
        if self.peer_callno == 0 or self.state in (S.IDLE, S.TOKEN_WAIT):
            # The peer has no call to hang up yet: nothing to tell it.
            self._destroy(In.DESTROY, "hung up before the peer answered")
            return
        self.send_iax(IaxSubclass.HANGUP, IEList().add_u8(IE.CAUSECODE, cause), now, final=True)

    def reject(self, cause_text: str, cause_code: int, now: float) -> None:
        ies = IEList().add_str(IE.CAUSE, cause_text).add_u8(IE.CAUSECODE, cause_code)
        self.send_iax(IaxSubclass.REJECT, ies, now, final=True)

    # -- receiving ------------------------------------------------------------------------

    def _track_rx_timestamp(self, frame: FullFrame) -> None:
        self.rx_last = max(self.rx_last, frame.timestamp)

    def receive(self, frame: FullFrame, now: float) -> None:
        """Process one full frame from the peer (already decrypted and routed here)."""
        if self.state is S.DESTROYED:
            return
        self._receive(frame, now)
        if self._held and self.peer_callno and not self.destroyed:
            # Released only now so the held frames carry the ISeqno this frame advanced.
            self._release_held(now)

    def _receive(self, frame: FullFrame, now: float) -> None:
        iax = frame.iax_subclass if frame.frametype == FrameType.IAX else None
        if iax is IaxSubclass.CALLTOKEN:
            self._on_calltoken(frame, now)
            return
        self._note("Rx", frame)
        if self.peer_callno == 0 and frame.source_call > STATELESS_CALLNO:
            self.peer_callno = frame.source_call

        if iax not in _UNSEQUENCED:
            if frame.oseqno != self.iseqno:
                if seq_distance(frame.oseqno, self.iseqno) < 128:
                    self._ack(frame)  # an old duplicate: our ACK was probably lost
                else:
                    self._vnak(frame)  # from the future: ask for what we missed
                return
            self.iseqno = (self.iseqno + 1) & 0xFF

        if iax is not IaxSubclass.INVAL:
            acked = self.queue.implicit_ack(frame.iseqno, self.oseqno)
            if acked:
                final = False
                for pending in acked:
                    if pending.sends == 1:  # Karn: a retransmitted frame's ACK is ambiguous
                        self.rtt = now - pending.first_sent
                    final = final or pending.final
                if final:
                    released = self.transfer_state is T.RELEASED
                    self._destroy(In.FINAL_ACKED,
                                  "released by transfer" if released else "hangup acknowledged")
                    return

        if iax in (IaxSubclass.ACK, IaxSubclass.TXCNT, IaxSubclass.TXACC):
            return
        if iax is IaxSubclass.VNAK:
            self._counters.vnaks_received += 1
            for pending in self.queue.from_seq(frame.iseqno):
                self._retransmit(pending)
            return
        if iax is IaxSubclass.INVAL:
            self._destroy(In.RECV_END, "INVAL")
            return

        if iax not in (IaxSubclass.PONG, IaxSubclass.LAGRP):
            self._track_rx_timestamp(frame)  # those carry our own timestamps back
        self._pending_ack = frame
        if iax is not None:
            self._on_iax(iax, frame, now)
        else:
            self._on_media(frame, now)

    def _on_calltoken(self, frame: FullFrame, now: float) -> None:
        """Resend the original request carrying the token (§3.1); the reply is not ACKed."""
        if self.state is not S.TOKEN_WAIT or self.request is None or self._request_ies is None:
            return
        try:
            token = frame.ies().get(IE.CALLTOKEN)
        except MalformedFrame:
            return
        if not token:
            return
        self._apply(In.RECV_CALLTOKEN)
        # Start over exactly as Asterisk's resend_with_token: same source call number,
        # sequence numbers back to zero, peer unknown, fresh timestamp.
        self.queue.clear(0)
        self.oseqno = self.iseqno = self.aseqno = 0
        self.peer_callno = 0
        self._send_iax(self.request, IEList(self._request_ies).add(IE.CALLTOKEN, token), now)

    def _ack_and_end(self, frame: FullFrame, reason: str) -> None:
        self._pending_ack = None
        self._ack(frame)
        self._destroy(In.RECV_END, reason)

    def _on_iax(self, iax: IaxSubclass, frame: FullFrame, now: float) -> None:
        if iax is IaxSubclass.PING:
            # Only this PONG carries RR IEs: the stateless one answering a POKE stays a bare
            # 12-byte header, which is what scanners such as nmap's iax2-version expect.
            rr = self.reception_report().ies()
            self._send_iax(IaxSubclass.PONG, rr, now, timestamp=frame.timestamp)
            return
        if iax is IaxSubclass.LAGRQ:
            self._send_iax(IaxSubclass.LAGRP, None, now, timestamp=frame.timestamp)
            return
        if iax is IaxSubclass.LAGRP:
            self.lag_ms = max(0, self.tx.elapsed_ms(now) - frame.timestamp)
            return
        if iax is IaxSubclass.PONG:
            rtt_ms = max(0, self.tx.elapsed_ms(now) - frame.timestamp)
            self.rtt = rtt_ms / 1000.0
            with contextlib.suppress(MalformedFrame):
                self.remote_rr = ReceptionReport.from_ies(frame.ies())
            self.events.append(PongReceived(self.callno, self.addr, rtt_ms))
            if self.request is IaxSubclass.POKE and self.outbound:
                self._ack_and_end(frame, "pong")
            return
        if iax is IaxSubclass.RTKEY:
            self._on_rtkey(frame, now)
            return
        if iax in _TRANSFER_COMMANDS:
            self._on_transfer_command(iax, frame, now)
            return
        if iax in _FINAL_SUBCLASSES:
            self.events.append(FrameReceived(self.callno, frame))
            self._ack_and_end(frame, iax.name.lower())
            return
        call_input = _RECEIVED_INPUTS.get(iax)
        if call_input is not None:
            if (self.state, call_input) not in TRANSITIONS:
                self.protocol_violations += 1
                return
            self._apply(call_input)
        if iax is IaxSubclass.ACCEPT and self.rx_format is None:
            with contextlib.suppress(MalformedFrame):
                self.rx_format = frame.ies().get_u32(IE.FORMAT)
        self.events.append(FrameReceived(self.callno, frame))

    # -- native transfer --------------------------------------------------------------------

    def _transfer_input(self, transfer_input: TransferInput) -> bool:
        """Apply a transfer step; False (nothing changes) when the table does not allow it."""
        new = TRANSFER_TRANSITIONS.get((self.transfer_state, transfer_input))
        if new is None:
            return False
        self.transfer_state = new
        return True

    @property
    def media_key(self) -> tuple[str, int, int] | None:
        """While media passes straight between the legs, the other leg's mini voice comes
        from its own address and call number: the endpoint finds this call under that too."""
        if self.media_pass and self.transfer_addr is not None:
            return (self.transfer_addr[0], self.transfer_addr[1], self.transfer_callno)
        return None

    def _on_transfer_command(self, iax: IaxSubclass, frame: FullFrame, now: float) -> None:
        try:
            ies = frame.ies()
        except MalformedFrame:
            ies = IEList()
        if iax is IaxSubclass.TXREQ:
            self._on_txreq(ies, now)
        elif iax is IaxSubclass.TXREADY:
            self._transfer_input(TIn.RECV_TXREADY)  # the endpoint pairs the two legs
        elif iax is IaxSubclass.TXREL:
            callno = ies.get_u16(IE.CALLNO) or 0
            if self.transfer_state is T.READY and 0 < callno <= 0x7FFF:
                self._complete_transfer(frame, callno)
        elif iax is IaxSubclass.TXMEDIA:
            if self._transfer_input(TIn.RECV_TXMEDIA):
                self._txcnt_at = None
                self.media_pass = True
                assert self.transfer_addr is not None
                self.events.append(CallTransferred(self.callno, self.transfer_addr, True))
        elif iax is IaxSubclass.TXREJ:
            self._cancel_transfer("refused by the " + ("leg" if self.transfer_state in (
                T.BRIDGE_BEGIN, T.BRIDGE_READY) else "bridge"))

    def _on_txreq(self, ies: IEList, now: float) -> None:
        """The bridge asks us to reach the other leg directly (§7.6 items 1-2)."""
        target = ies.get_addr(IE.APPARENT_ADDR)
        callno = ies.get_u16(IE.CALLNO) or 0
        reason = None
        if not self.transfer_allowed:
            reason = "transfer=no"
        elif self.keys.encrypted:
            reason = "the call is encrypted"  # the other leg could not read us
        elif target is None or not 0 < callno <= 0x7FFF:
            reason = "TXREQ without a usable address and call number"
        elif not self._transfer_input(TIn.RECV_TXREQ):
            reason = f"a transfer is already {self.transfer_state.value}"
        if reason is not None:
            self._send_iax(IaxSubclass.TXREJ, None, now)
            self.events.append(TransferFailed(self.callno, reason))
            return
        assert target is not None
        self.transfer_addr = (str(target[0]), int(target[1]))
        self.transfer_callno = callno
        self._transfer_id = ies.get_u32(IE.TRANSFERID)
        self._txcnt_sent = 0
        self._send_txcnt(now)

    def _send_to_leg(self, subclass: IaxSubclass, dest: int, ies: IEList | None,
                     now: float) -> None:
        """TXCNT/TXACC: to the other leg's address, outside the call's sequence numbers
        (oseqno and iseqno 0, as Asterisk's send_command_transfer)."""
        assert self.transfer_addr is not None
        frame = FullFrame(self.callno, dest, self.tx.genuine(now), 0, 0, FrameType.IAX,
                          int(subclass), ies.encode() if ies is not None else b"")
        self.addressed.append((frame.encode(), self.transfer_addr))

    def _send_txcnt(self, now: float) -> None:
        ies = IEList()
        if self._transfer_id is not None:
            ies.add_u32(IE.TRANSFERID, self._transfer_id)
        self._send_to_leg(IaxSubclass.TXCNT, self.transfer_callno, ies, now)
        self._txcnt_sent += 1
        self._txcnt_at = now + TRANSFER_RETRY

    def receive_from_leg(self, frame: FullFrame, now: float) -> None:
        """A TXCNT or TXACC from the other leg of a transfer (from ``transfer_addr``)."""
        if self.destroyed or frame.source_call != self.transfer_callno:
            return
        sub = frame.iax_subclass
        if sub is IaxSubclass.TXCNT and self.transfer_state in (T.BEGIN, T.READY):
            self._send_to_leg(IaxSubclass.TXACC, frame.source_call, None, now)
        elif sub is IaxSubclass.TXACC and self._transfer_input(TIn.RECV_TXACC):
            # The path works both ways: tell the bridge (§7.6 item 4).
            self._txcnt_at = None
            self._send_iax(IaxSubclass.TXREADY, IEList().add_u16(IE.CALLNO, self.callno), now)

    def _leg_gives_up(self, reason: str, now: float) -> None:
        self._send_iax(IaxSubclass.TXREJ, None, now)
        self._cancel_transfer(reason)

    def _cancel_transfer(self, reason: str) -> None:
        if not self._transfer_input(TIn.CANCEL):
            return
        self._txcnt_at = None
        self.media_pass = False
        self.transfer_addr = None
        self.transfer_callno = 0
        self.events.append(TransferFailed(self.callno, reason))

    def _complete_transfer(self, frame: FullFrame, peer_callno: int) -> None:
        """TXREL (§7.6 item 6): ACK the bridge, then talk to the other leg from scratch:
        its address and call number, sequence numbers and clocks at zero, nothing pending."""
        old = self.addr
        target = self.transfer_addr
        assert target is not None
        # Whatever was queued for the bridge still goes to the bridge, the ACK last.
        self.addressed.extend((data, old) for data in self.outbox)
        self.outbox.clear()
        ack = FullFrame(self.callno, frame.source_call, frame.timestamp, frame.iseqno,
                        self.iseqno, FrameType.IAX, int(IaxSubclass.ACK))
        self.addressed.append((ack.encode(), old))
        self._pending_ack = None
        self._transfer_input(TIn.RECV_TXREL)
        self.addr = target
        self.peer_callno = peer_callno
        self.transfer_addr = None
        self.transfer_callno = 0
        self._txcnt_at = None
        self.oseqno = self.iseqno = self.aseqno = 0
        self.queue.clear(0)
        self._held.clear()
        self.tx = TxTimestamps()
        self.rx_last = 0
        self.rtt = DEFAULT_RTT
        self.tx_format = self.rx_format = None
        self.last_voice_ts = None
        self.rx_full_voice = False
        self.rx_origin_ms = None
        self._rx_voice_last = None
        if self._jb is not None:
            self._jb.reset()
            self._jb_last = None
        self.repathed = True
        self.events.append(CallTransferred(self.callno, target, False))

    def start_transfer(self, other_addr: Address, other_callno: int, transfer_id: int,
                       now: float) -> None:
        """As the bridge: ask this leg to reach the other one (TXREQ, §7.6 item 1)."""
        if not self._transfer_input(TIn.SEND_TXREQ):
            raise CallStateError(self.state, In.SEND_REQUEST)
        ies = IEList().add_addr(IE.APPARENT_ADDR, *other_addr)
        ies.add_u16(IE.CALLNO, other_callno).add_u32(IE.TRANSFERID, transfer_id)
        self._send_iax(IaxSubclass.TXREQ, ies, now)

    def release_transfer(self, other_callno: int, media_only: bool, now: float) -> None:
        """As the bridge, both legs ready: TXREL (the call ends here once it is ACKed,
        without a HANGUP) or TXMEDIA (media goes direct, signalling stays)."""
        ies = IEList().add_u16(IE.CALLNO, other_callno)
        if media_only:
            self._transfer_input(TIn.SEND_TXMEDIA)
            self._send_iax(IaxSubclass.TXMEDIA, ies, now)
        else:
            self._transfer_input(TIn.SEND_TXREL)
            self.send_iax(IaxSubclass.TXREL, ies, now, final=True)
        self.events.append(TransferReleased(self.callno, media_only))

    def abandon_transfer(self, reason: str, now: float) -> None:
        """As the bridge: the other leg failed, so this one is told to stop (TXREJ)."""
        if self.transfer_state in (T.BRIDGE_BEGIN, T.BRIDGE_READY):
            self._send_iax(IaxSubclass.TXREJ, None, now)
            self._cancel_transfer(reason)

    def _on_rtkey(self, frame: FullFrame, now: float) -> None:
        try:
            key = frame.ies().get(IE.CHALLENGE)
        except MalformedFrame:
            return
        if key is None or len(key) != 16:
            return
        self.keys.peer_rotated(key, now)

    def _on_media(self, frame: FullFrame, now: float) -> None:
        if frame.frametype == FrameType.CONTROL and frame.subclass == ControlSubclass.ANSWER:
            if (self.state, In.RECV_ANSWER) not in TRANSITIONS:
                self.protocol_violations += 1
                return
            self._apply(In.RECV_ANSWER)
        if frame.frametype == FrameType.VOICE:
            self.rx_format = frame.subclass
            self.rx_full_voice = True
            self._voice(frame.subclass, frame.timestamp, frame.payload, now, full=True)
            return
        self.events.append(FrameReceived(self.callno, frame))

    def receive_mini(self, frame: MiniFrame, now: float) -> None:
        if self.destroyed:
            return
        if self.rx_format is None:
            # Audio without a known codec: ask for the full frame again.
            self._vnak_voice(now)
            return
        ts = unwrap_timestamp(self.rx_last, frame.timestamp)
        self.rx_last = max(self.rx_last, ts)
        self._voice(self.rx_format, ts, frame.payload, now, full=False)

    def _vnak_voice(self, now: float) -> None:
        """VNAK for voice that came before its full frame, at most once a second."""
        if self._last_vnak is None or now - self._last_vnak >= VNAK_MIN_INTERVAL:
            self._last_vnak = now
            self._counters.vnaks_sent += 1
            self._send_unsequenced(IaxSubclass.VNAK, self.peer_callno, 0, self.iseqno)

    def receive_trunk(self, payload: bytes, timestamp: int, now: float) -> None:
        """Audio for this call carried in a meta trunk frame (never creates state).

        Before the first full voice frame the entry gets a VNAK, as in Asterisk: the codec
        the peer sends is only certain once that frame has arrived.
        """
        if self.destroyed:
            return
        if not self.rx_full_voice or self.rx_format is None:
            self._vnak_voice(now)
            return
        self.rx_last = max(self.rx_last, timestamp)
        self._voice(self.rx_format, timestamp, payload, now, full=False)

    def _voice(self, codec: int, timestamp: int, payload: bytes, now: float, *,
               full: bool) -> None:
        """Count one received voice frame for the RR statistics, then report it upward
        (through the jitter buffer when the call has one)."""
        if self.rx_origin_ms is None:
            # Asterisk's rxcore: the peer's timestamp 0 on our clock, on a 20 ms grid.
            self.rx_origin_ms = (now * 1000.0 // 20) * 20 - timestamp
        self.rx_voice_frames += 1
        previous = self._rx_voice_last
        if previous is not None and timestamp < previous:
            # Older than audio already received: a jitter buffer would count it as OOO.
            self._rx_voice_ooo += 1
        else:
            self._rx_voice_last = timestamp
        voice = _Voice(codec, timestamp, payload, full)
        jb = self._jb
        if jb is None:
            self._report(voice)
            return
        if previous is not None and abs(timestamp - previous) > JB_RESET_GAP_MS:
            jb.reset()  # the peer's clock jumped: start over rather than wait it out
        jb.put(voice, timestamp, _ms(now), frame_ms(codec, len(payload)))
        self._play_out(now)

    def _report(self, voice: _Voice) -> None:
        self.events.append(VoiceReceived(self.callno, voice.codec, voice.timestamp,
                                         voice.payload, voice.full))
