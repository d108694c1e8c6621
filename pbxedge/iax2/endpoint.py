"""The sans-IO IAX2 endpoint: demultiplexing, call tokens, stateless replies, timers.

Driven aioquic-style (reference ecosystem.md §A.2): feed ``receive_datagram(data, addr, now)``
and ``handle_timer(now)``, issue commands, then drain ``next_event()`` and
``datagrams_to_send(now)`` and wait until ``get_timer()``. Nothing here reads a clock,
touches a socket or sleeps.

Driver contract: handle the events produced by a datagram *before* calling
``datagrams_to_send``. Explicit ACKs are only generated there, so a reply issued in the
meantime (AUTHREQ for a NEW, REGACK for a REGREQ…) carries the acknowledgement instead, as in
Asterisk where the reply is sent while the frame is still being processed.

Defences (reference iax2.md §3, §2.7, §15):
- a frame from an unknown source costs O(1): two dict lookups, then at most one stateless
  reply no larger than the request, and no state;
- nothing is allocated for NEW/REGREQ/REGREL before its call token validates, when the
  policy above says one is required;
- every parse error is caught at this boundary and counted; nothing raises on bad input.
"""

from __future__ import annotations

import heapq
import random
import struct
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mypy_extensions import mypyc_attr

from pbxedge.iax2.call import STATELESS_CALLNO, Call, CallInfo, ReliabilityCounters
from pbxedge.iax2.callnumbers import CallNumberPool, LimitKind
from pbxedge.iax2.callstate import CallState, TransferState
from pbxedge.iax2.calltoken import CallTokenIssuer
from pbxedge.iax2.codecs import frame_ms
from pbxedge.iax2.enums import IE, Cause, FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.events import CallTokenRejected, Event, LimitReached, NewCall
from pbxedge.iax2.frames import FullFrame, parse_datagram, trunk_entry_table
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.timestamps import UNWRAP_THRESHOLD_MS
from pbxedge.iax2.trunk import TrunkPeer, Trunks, TrunkSettings
from pbxedge.media.jitterbuffer import JitterBufferSettings

__all__ = [
    "CallNumbersExhausted",
    "Endpoint",
    "EndpointStats",
    "TokenPolicy",
    "UnknownCall",
]

Address = tuple[str, int]
# (request subclass, USERNAME IE or None, source address) -> is a call token required?
TokenPolicy = Callable[[IaxSubclass, str | None, Address], bool]

TOKEN_REQUIRED_TEXT = "CallToken support required"
LIMIT_TEXT = "Call number limit reached"

_WORDS = struct.Struct("!HH")
# The fields a relayed trunk entry changes, at the entry's offset + 2 (len, callno, ts16)
# or at its offset (callno, len): by "with timestamps".
_REWRITE = {True: struct.Struct("!HH"), False: struct.Struct("!H")}
_NO_ROUTES: dict[int, _Relay] = {}
_NO_COPY = memoryview(b"")
_U32 = 0xFFFFFFFF
_FLAG_FULL = 0x8000
_CALLNO_MASK = 0x7FFF
_TYPE_OFFSET = 10
_SUBCLASS_OFFSET = 11
_CREATING = frozenset({IaxSubclass.NEW, IaxSubclass.REGREQ, IaxSubclass.REGREL})
# Frames for an unknown call that get no INVAL back (chan_iax2 10484-10496, plus ACK so two
# endpoints that both forgot a call cannot ping-pong INVAL/ACK at each other).
_SILENT_WHEN_UNKNOWN = frozenset(
    {
        IaxSubclass.ACK,
        IaxSubclass.INVAL,
        IaxSubclass.TXCNT,
        IaxSubclass.TXACC,
        IaxSubclass.FWDOWNL,
    }
)


@dataclass(slots=True)
class _Transfer:
    """One of the two calls of a native transfer this endpoint started (§7.6)."""

    partner: int  # the other call's number
    media_only: bool


@dataclass(slots=True, eq=False)
class _Relay:
    """Where one call's audio goes while it is bridged to another call of this endpoint."""

    src: Call
    dst: Call
    delta: int | None  # ms added to the source's timestamps; None: no clock to map yet
    codec: int = 0  # the format last forwarded
    block: int = -1  # high 16 bits of the destination's last full voice timestamp
    frames: int = 0  # relayed on the fast path
    # While on the fast path: the source's (host, port, peer call) under which
    # receive_datagram finds this relay before any other work.
    fast_key: tuple[str, int, int] | None = None


@mypyc_attr(native_class=False)
class UnknownCall(KeyError):
    """A command named a call number that does not exist (or no longer exists)."""


@mypyc_attr(native_class=False)
class CallNumbersExhausted(RuntimeError):
    """``start`` could not get a call number."""

    def __init__(self, kind: LimitKind) -> None:
        super().__init__(f"no call number available ({kind.value})")
        self.kind = kind


@dataclass(slots=True)
class EndpointStats:
    """Counters of what was dropped and why, for ``iax2 show stats``-style output."""

    malformed: int = 0
    undecryptable: int = 0
    unknown_call: int = 0
    invalid_tokens: int = 0
    stateless_replies: int = 0
    voice_received: int = 0  # by calls that have ended (see Endpoint.voice_frames)
    voice_sent: int = 0


def _normalize(addr: tuple[object, ...]) -> Address:
    # IPv6 socket addresses carry flowinfo and scope id; calls are keyed by (ip, port) only.
    return (str(addr[0]), int(addr[1]))  # type: ignore[call-overload]


class Endpoint:
    """All IAX2 calls behind one UDP socket."""

    def __init__(
        self,
        *,
        pool: CallNumberPool,
        tokens: CallTokenIssuer,
        token_policy: TokenPolicy,
        rng: random.Random,
        pingtime: float = 21,
        lagrqtime: float = 10,
        trunk: TrunkSettings | None = None,
    ) -> None:
        self._pool = pool
        self._tokens = tokens
        self._token_policy = token_policy
        self._rng = rng
        self._pingtime = pingtime
        self._lagrqtime = lagrqtime
        self._calls: dict[int, Call] = {}
        self._by_peer: dict[tuple[str, int, int], Call] = {}
        self._peer_key: dict[int, tuple[str, int, int]] = {}
        self._ack_owed: set[int] = set()
        self._timers: list[tuple[float, int]] = []
        self._scheduled: dict[int, float] = {}
        self._out: list[tuple[bytes, Address]] = []
        self._events: deque[Event] = deque()
        self._relays: dict[int, _Relay] = {}  # source call number -> where its audio goes
        self._fast: dict[tuple[str, int, int], _Relay] = {}  # the relays on the fast path
        # The same relays by source address, then the source's call number: what a meta
        # trunk frame's entries are looked up in.
        self._fast_trunk: dict[Address, dict[int, _Relay]] = {}
        self.trunks = Trunks(trunk)
        self._transfers: dict[int, _Transfer] = {}  # native transfers we started, both calls
        self._media_keys: dict[int, tuple[str, int, int]] = {}  # TXMEDIA legs, second index
        self.stats = EndpointStats()
        self.reliability = ReliabilityCounters()

    # -- outputs --------------------------------------------------------------------------

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        """Everything to put on the wire now, including ACKs still owed."""
        if self._ack_owed:
            owed, self._ack_owed = self._ack_owed, set()
            for callno in owed:
                call = self._calls.get(callno)
                if call is not None:
                    call.flush_ack()
                    self._collect(call)  # an ACK changes no timer and no index
        out, self._out = self._out, []
        return out

    def get_timer(self) -> float | None:
        """The earliest deadline at which ``handle_timer`` must run, or None."""
        timers = self._timers
        while timers and self._scheduled.get(timers[0][1]) != timers[0][0]:
            heapq.heappop(timers)  # superseded deadline
        tick = self.trunks.due
        if tick is not None and (not timers or tick < timers[0][0]):
            return tick
        return timers[0][0] if timers else None

    def handle_timer(self, now: float) -> None:
        tick = self.trunks.due
        if tick is not None and tick <= now:
            self._out.extend(self.trunks.tick(now))
        timers = self._timers
        while timers and timers[0][0] <= now:
            deadline, callno = heapq.heappop(timers)
            if self._scheduled.get(callno) != deadline:
                continue
            del self._scheduled[callno]
            call = self._calls.get(callno)
            if call is not None:
                call.handle_timer(now)
                self._settle(call, now)

    # -- bookkeeping ----------------------------------------------------------------------

    def _collect(self, call: Call) -> None:
        """Take a call's queued datagrams and events (all that mini voice can produce)."""
        if call.addressed:
            self._out.extend(call.addressed)
            call.addressed.clear()
        if call.outbox:
            self._out.extend((data, call.addr) for data in call.outbox)
            call.outbox.clear()
        if call.events:
            self._events.extend(call.events)
            call.events.clear()

    def _settle(self, call: Call, now: float) -> None:
        """Collect a call's output and refresh the indexes after anything touched it."""
        self._collect(call)
        callno = call.callno
        state = call.state
        if self._relays and (state is CallState.DESTROYED or state is CallState.HANGING_UP):
            self._unrelay(call)
        if state is CallState.DESTROYED:
            self._forget(call, now)
            return
        if call.repathed:
            self._repathed(call, now)
        if call.media_pass or callno in self._media_keys:
            self._index_media(call)
        key = (call.addr[0], call.addr[1], call.peer_callno) if call.peer_callno else None
        old = self._peer_key.get(callno)
        if old != key:
            if old is not None and self._by_peer.get(old) is call:
                del self._by_peer[old]
            if key is None:
                self._peer_key.pop(callno, None)
            else:
                self._peer_key[callno] = key
                self._by_peer[key] = call
        if call.owes_ack:
            self._ack_owed.add(callno)
        deadline = call.next_deadline()
        if deadline is None:
            self._scheduled.pop(callno, None)
        elif self._scheduled.get(callno) != deadline:
            self._scheduled[callno] = deadline
            heapq.heappush(self._timers, (deadline, callno))

    def _forget(self, call: Call, now: float) -> None:
        callno = call.callno
        if self._calls.get(callno) is call:
            del self._calls[callno]
            self._pool.release(callno, now, settled=call.final_acknowledged)
            self.stats.voice_received += call.rx_voice_frames
            self.stats.voice_sent += call.tx_voice_frames
        key = self._peer_key.pop(callno, None)
        if key is not None and self._by_peer.get(key) is call:
            del self._by_peer[key]
        self._scheduled.pop(callno, None)
        self._ack_owed.discard(callno)
        media_key = self._media_keys.pop(callno, None)
        if media_key is not None and self._by_peer.get(media_key) is call:
            del self._by_peer[media_key]
        self._transfers.pop(callno, None)
        if call.trunk is not None:
            self.trunks.leave(call.trunk, now)
            call.trunk = None

    def _new_call(self, callno: int, addr: Address, now: float, *, outbound: bool) -> Call:
        call = Call(
            callno,
            addr,
            now,
            outbound=outbound,
            rng=self._rng,
            pingtime=self._pingtime,
            lagrqtime=self._lagrqtime,
            counters=self.reliability,
        )
        self._calls[callno] = call
        return call

    def _call(self, callno: int) -> Call:
        call = self._calls.get(callno)
        if call is None:
            raise UnknownCall(callno)
        return call

    # -- receiving ------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, addr: tuple[object, ...], now: float) -> None:
        """Process one UDP payload from ``addr``. Never raises on bad input."""
        # (host, port) as the transport gives it; IPv6 4-tuples are trimmed.
        source: Address = addr if len(addr) == 2 else _normalize(addr)  # type: ignore[assignment]
        if type(data) is not bytes:
            data = bytes(data)
        if self._fast and len(data) > _WORDS.size and self._relay_fast(data, source, now):
            return
        try:
            self._receive(data, source, now)
        except MalformedFrame:
            self.stats.malformed += 1

    def _relay_fast(self, data: bytes, addr: Address, now: float) -> bool:
        """The bridge fast path: a mini frame of a relayed call gets a new 4-byte header
        (or joins the destination's trunk) and is queued, with no frame object and no
        event. False: take the ordinary path (not a relayed mini frame, or its timestamp
        starts a new 16-bit block, which goes out as a full frame)."""
        first, ts16 = _WORDS.unpack_from(data)
        relay = self._fast.get((addr[0], addr[1], first))
        if relay is None:
            return False
        last = relay.src.rx_last
        ts = (last & 0xFFFF0000) | ts16  # unwrap_timestamp, inlined for speed
        if last - ts > UNWRAP_THRESHOLD_MS:
            ts += 0x10000
        elif ts - last > UNWRAP_THRESHOLD_MS and ts >= 0x10000:
            ts -= 0x10000
        return self._relay(relay, ts, data[4:], now)

    def _relay(self, relay: _Relay, ts: int, payload: bytes, now: float) -> bool:
        """Send *payload*, stamped *ts* on the source's clock, on toward the relay's
        destination: a mini frame, or an entry of its trunk. False when it must take the
        ordinary path instead (a new 16-bit block needs a full frame)."""
        out = (ts + (relay.delta or 0)) & _U32  # a relay is fast only once it has a delta
        dst = relay.dst
        trunk = dst.trunk
        if trunk is None and out >> 16 != relay.block:
            return False
        src = relay.src
        if ts > src.rx_last:
            src.rx_last = ts
        src.rx_voice_frames += 1
        dst.tx_voice_frames += 1
        if trunk is None:
            to = dst.transfer_addr if dst.media_pass and dst.transfer_addr else dst.addr
            self._out.append((_WORDS.pack(dst.callno, out & 0xFFFF) + payload, to))
        else:
            datagram = trunk.add(dst.callno, out, payload, now)
            if datagram is not None:
                self._out.append((datagram, dst.addr))
        relay.frames += 1
        return True

    def _receive(self, data: bytes, addr: Address, now: float) -> None:
        if len(data) < _WORDS.size:
            raise MalformedFrame("datagram shorter than any IAX2 header")
        first, second = _WORDS.unpack_from(data)
        if first == 0:
            self._receive_meta(data, addr, now)
        elif first & _FLAG_FULL:
            self._receive_full(data, addr, first & _CALLNO_MASK, second & _CALLNO_MASK, now)
        else:
            self._receive_mini(data, addr, first, now)

    def _receive_meta(self, data: bytes, addr: Address, now: float) -> None:
        """A meta trunk frame: each entry goes to the call (address, sender's call number)
        names; entries of unknown calls are skipped, and never create one (§1.4).

        The hot case, a node between two trunks, is an entry of a relayed call bound for
        a trunk of the same layout: its header is rewritten in a copy of the datagram,
        and each run of such entries bound for one trunk joins that trunk's buffer as one
        view of the copy, with no call of :meth:`_relay` and no object per entry."""
        if len(data) >= 4 and data[2] & 0x80:
            return  # meta video: pbxedge carries audio only
        table = trunk_entry_table(data)
        with_timestamps, size, trunk_ts = table.with_timestamps, table.header_size, table.timestamp
        routes = self._fast_trunk.get(addr, _NO_ROUTES)
        route = routes.get
        copy = memoryview(bytearray(data)) if routes else _NO_COPY  # where headers change
        rewrite = _REWRITE[with_timestamps].pack_into
        host, port = addr
        by_peer, out = self._by_peer, self._out
        peer: TrunkPeer | None = None
        epoch = 0
        # Without per-entry timestamps, a second entry of one call in the same frame is
        # placed a frame after the first (Asterisk gives both the same timestamp).
        placed: dict[int, int] = {}
        # The run of entries bound for one trunk, not yet handed to it: run_count entries
        # from run_start to run_end, which may go on while an entry ends below run_limit.
        run: TrunkPeer | None = None
        run_start = run_end = run_limit = run_count = 0
        for callno, ts16, at, length in zip(table.calls, table.stamps, table.starts,
                                            table.lengths, strict=True):
            relay = route(callno)
            call = relay.src if relay is not None else by_peer.get((host, port, callno))
            if call is None:
                self.stats.unknown_call += 1
                if run_count:  # a run is contiguous: it ends before a skipped entry
                    run.extend(copy[run_start:run_end], run_count)  # type: ignore[union-attr]
                run, run_count = None, 0
                continue
            if peer is None:
                peer = self.trunks.peer(addr, now)
                epoch = peer.received(trunk_ts, len(table.calls), len(data), now)
            last = call.rx_last
            if ts16:  # 0 falls back to the trunk's own clock, as in Asterisk
                ts = (last & 0xFFFF0000) | ts16  # unwrap_timestamp, inlined for speed
                if last - ts > UNWRAP_THRESHOLD_MS:
                    ts += 0x10000
                elif ts - last > UNWRAP_THRESHOLD_MS and ts >= 0x10000:
                    ts -= 0x10000
            elif call.rx_origin_ms is None or call.rx_format is None:
                ts = trunk_ts  # no voice yet: the entry only draws a VNAK
            else:
                # fix_peerts: the trunk clock moved onto the call's (both on our clock).
                ts = (trunk_ts + epoch - round(call.rx_origin_ms)) & _U32
                before = placed.get(callno)
                if before is not None:
                    ts = before + frame_ms(call.rx_format, length)
                placed[callno] = ts
            if relay is not None:
                dst = relay.dst
                trunk = dst.trunk
                if trunk is not None and trunk.with_timestamps is with_timestamps:
                    # _relay, inlined: only the call number (and timestamp) change.
                    if ts > last:
                        call.rx_last = ts
                    call.rx_voice_frames += 1
                    dst.tx_voice_frames += 1
                    relay.frames += 1
                    if with_timestamps:
                        rewrite(copy, at + 2, dst.callno, (ts + (relay.delta or 0)) & 0xFFFF)
                    else:
                        rewrite(copy, at, dst.callno)
                    if trunk is not run:
                        if run_count:
                            run.extend(copy[run_start:run_end], run_count)  # type: ignore[union-attr]
                        run, run_start, run_count = trunk, at, 0
                        run_limit = at + trunk.room()
                    pos = at + size + length
                    if pos + length <= run_limit:
                        run_count += 1
                        run_end = pos
                        continue
                    # The trunk's own rules decide: arm its tick, leave early, drop.
                    if run_count:
                        trunk.extend(copy[run_start:run_end], run_count)
                    run, run_count = None, 0
                    datagram = trunk.add_entry(copy[at:pos], length, now)
                    if datagram is not None:
                        out.append((datagram, dst.addr))
                    continue
            if run_count:
                run.extend(copy[run_start:run_end], run_count)  # type: ignore[union-attr]
            run, run_count = None, 0
            payload = data[at + size:at + size + length]
            if relay is not None and self._relay(relay, ts, payload, now):
                continue
            call.receive_trunk(payload, ts, now)
            if call.jitterbuffer:
                self._settle(call, now)
            else:
                self._collect(call)
        if run_count:
            run.extend(copy[run_start:run_end], run_count)  # type: ignore[union-attr]

    def _receive_mini(self, data: bytes, addr: Address, source_call: int, now: float) -> None:
        call = self._by_peer.get((addr[0], addr[1], source_call))
        if call is None:
            self.stats.unknown_call += 1
            return
        frame = call.open_mini(data, now)
        if frame is None:
            self.stats.undecryptable += 1
            return
        call.receive_mini(frame, now)
        if call.jitterbuffer:
            self._settle(call, now)  # the buffer's next deadline may have moved
        else:
            self._collect(call)  # mini voice changes no timer and no index

    def _receive_full(
        self, data: bytes, addr: Address, source_call: int, dest_call: int, now: float
    ) -> None:
        if (
            dest_call == 0
            and len(data) > _SUBCLASS_OFFSET
            and data[_TYPE_OFFSET] == FrameType.IAX
            and data[_SUBCLASS_OFFSET] == IaxSubclass.POKE
        ):
            # Asterisk answers every POKE statelessly, known caller or not (10387-10391).
            self._stateless_reply(parse_full(data), IaxSubclass.PONG, None, addr)
            return
        call: Call | None
        if dest_call:
            call = self._calls.get(dest_call)
            if call is not None:
                if call.addr != addr:
                    if call.transfer_addr == addr:
                        self._receive_from_leg(call, data, now)
                        return
                    call = None
                elif call.peer_callno and source_call != call.peer_callno:
                    # From the peer's address but another of its calls: a late frame of an
                    # earlier dialog on a number since handed out again (chan_iax2 match()).
                    call = None
        else:
            call = self._by_peer.get((addr[0], addr[1], source_call))
        if call is None:
            self._receive_unknown(parse_full(data), addr, now)
            return
        frame = call.open_full(data, now)
        if frame is None:
            self.stats.undecryptable += 1
            return
        call.receive(frame, now)
        relay = self._relays.get(call.callno)
        if relay is not None and relay.codec != call.rx_format:
            self._set_fast(relay, False)  # the peer changed codec: the bridge decides again
        if self._transfers and call.callno in self._transfers:
            self._advance_transfer(call, now)
        self._settle(call, now)

    def _receive_from_leg(self, call: Call, data: bytes, now: float) -> None:
        """A frame from the other leg of a transfer: only TXCNT and TXACC are taken
        (chan_iax2 10711-10719); anything else from there is dropped."""
        frame = parse_full(data)
        if frame.iax_subclass in (IaxSubclass.TXCNT, IaxSubclass.TXACC):
            call.receive_from_leg(frame, now)
            self._settle(call, now)
        else:
            self.stats.unknown_call += 1

    def _receive_unknown(self, frame: FullFrame, addr: Address, now: float) -> None:
        sub = frame.iax_subclass if frame.frametype == FrameType.IAX else None
        if sub in _CREATING and frame.dest_call == 0:
            self._receive_request(frame, sub, addr, now)
            return
        self.stats.unknown_call += 1
        if sub in _SILENT_WHEN_UNKNOWN:
            return
        # raw_hangup: INVAL from the call number the peer named, all-zero sequence numbers.
        inval = FullFrame(
            frame.dest_call, frame.source_call, 0, 0, 0, FrameType.IAX, IaxSubclass.INVAL
        )
        self._out.append((inval.encode(), addr))

    def _receive_request(
        self, frame: FullFrame, sub: IaxSubclass | None, addr: Address, now: float
    ) -> None:
        assert sub is not None
        if frame.oseqno != 0:
            # Only the first frame of a dialog may open a call; anything else is a stray
            # retransmission of a call we already forgot.
            self.stats.unknown_call += 1
            return
        ies = frame.ies()
        token = ies.get(IE.CALLTOKEN)
        validated = False
        if token is not None:
            if not token:
                reply = IEList().add_str(IE.CALLTOKEN, self._tokens.issue(addr, now))
                self._stateless_reply(frame, IaxSubclass.CALLTOKEN, reply, addr)
                return
            if not self._token_valid(token, addr, now):
                # Decision: drop silently, as the Digium call-token document says, rather than
                # REJECT like Asterisk does. A reply would make us a reflector for spoofed
                # sources; a genuine client whose token expired retries with a fresh empty IE.
                self.stats.invalid_tokens += 1
                return
            validated = True
        elif self._token_policy(sub, ies.get_str(IE.USERNAME), addr):
            self._refuse(frame, sub, addr, TOKEN_REQUIRED_TEXT, Cause.FACILITY_REJECTED)
            self._events.append(CallTokenRejected(addr, sub, ies.get_str(IE.USERNAME)))
            return
        callno = self._pool.allocate(addr[0], now, validated=validated)
        if callno is None:
            kind = self._pool.refusal(addr[0], now, validated=validated) or LimitKind.EXHAUSTED
            self._refuse(frame, sub, addr, LIMIT_TEXT, Cause.SWITCH_CONGESTION)
            self._events.append(LimitReached(addr, kind))
            return
        call = self._new_call(callno, addr, now, outbound=False)
        call.accept_request(frame, now)
        self._events.append(NewCall(callno, addr, frame, validated, ies))
        self._settle(call, now)

    def _token_valid(self, token: bytes, addr: Address, now: float) -> bool:
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            return False
        return self._tokens.validate(text, addr, now)

    def _refuse(
        self, frame: FullFrame, sub: IaxSubclass, addr: Address, text: str, cause: Cause
    ) -> None:
        # Unlike Asterisk, always carry CAUSE and CAUSECODE: nmap's iax2-brute crashes on an
        # IE-less REGREJ (§15.2).
        reply_sub = IaxSubclass.REJECT if sub is IaxSubclass.NEW else IaxSubclass.REGREJ
        ies = IEList().add_str(IE.CAUSE, text).add_u8(IE.CAUSECODE, cause)
        self._stateless_reply(frame, reply_sub, ies, addr)

    def _stateless_reply(
        self, request: FullFrame, subclass: IaxSubclass, ies: IEList | None, addr: Address
    ) -> None:
        """Asterisk's send_apathetic_reply: from call 1, request ts echoed, never resent."""
        reply = FullFrame(
            source_call=STATELESS_CALLNO,
            dest_call=request.source_call,
            timestamp=request.timestamp,
            oseqno=0,
            iseqno=(request.iseqno + 1) & 0xFF,
            frametype=FrameType.IAX,
            subclass=int(subclass),
            payload=ies.encode() if ies is not None else b"",
        )
        self.stats.stateless_replies += 1
        self._out.append((reply.encode(), addr))

    # -- commands -------------------------------------------------------------------------

    def start(
        self,
        addr: tuple[object, ...],
        subclass: IaxSubclass,
        ies: IEList,
        now: float,
        *,
        trunk: bool = False,
        counted: bool = True,
    ) -> int:
        """Open an outbound dialog (NEW, REGREQ, REGREL or POKE) and return its call number.

        ``counted=False`` keeps our own POKEs and registrations off the remote IP's
        call-number budget (§10 row 2). Raises CallNumbersExhausted.
        """
        peer = _normalize(addr)
        callno = self._pool.allocate(peer[0], now, validated=True, trunk=trunk, counted=counted)
        if callno is None:
            kind = self._pool.refusal(peer[0], now, validated=True, trunk=trunk, counted=counted)
            raise CallNumbersExhausted(kind or LimitKind.EXHAUSTED)
        call = self._new_call(callno, peer, now, outbound=True)
        if trunk:
            call.trunk = self.trunks.join(peer, now)
        call.send_request(subclass, ies, now)
        self._settle(call, now)
        return callno

    def send_iax(
        self,
        callno: int,
        subclass: IaxSubclass,
        ies: IEList | None,
        now: float,
        *,
        final: bool = False,
    ) -> None:
        call = self._call(callno)
        call.send_iax(subclass, ies, now, final=final)
        self._settle(call, now)

    # -- native transfer (§7.6) ------------------------------------------------------------

    def set_transfer_allowed(self, callno: int, allowed: bool) -> None:
        """Whether *callno*'s peer may re-path it (``transfer=no`` answers TXREQ with TXREJ)."""
        self._call(callno).transfer_allowed = allowed

    def start_transfer(self, a: int, b: int, now: float, *, media_only: bool = False) -> bool:
        """Re-path two calls this node bridges so that their endpoints talk directly
        (TXREQ to each; then TXREL, or TXMEDIA when *media_only*). False when it cannot be
        tried: a call is gone, not answered, encrypted, or already transferring."""
        first, second = self._calls.get(a), self._calls.get(b)
        if first is None or second is None or a == b:
            return False
        for call in (first, second):
            if (call.state is not CallState.UP or not call.peer_callno or call.keys.encrypted
                    or call.transfer_state is not TransferState.NONE):
                return False
        transfer_id = self._rng.getrandbits(32)
        first.start_transfer(second.addr, second.peer_callno, transfer_id, now)
        second.start_transfer(first.addr, first.peer_callno, transfer_id, now)
        self._transfers[a] = _Transfer(b, media_only)
        self._transfers[b] = _Transfer(a, media_only)
        self._settle(first, now)
        self._settle(second, now)
        return True

    def _advance_transfer(self, call: Call, now: float) -> None:
        """After a frame on one of our transfer's calls: release both legs once both are
        ready; tell the other leg to stop when this one refused."""
        record = self._transfers[call.callno]
        partner = self._calls.get(record.partner)
        state = call.transfer_state
        if state is TransferState.NONE or partner is None:
            # TXREJ from this leg (or the other call vanished): the transfer is off.
            self._transfers.pop(call.callno, None)
            self._transfers.pop(record.partner, None)
            if partner is not None:
                partner.abandon_transfer("the other leg refused", now)
                self._settle(partner, now)
            return
        if state is TransferState.BRIDGE_READY and partner.transfer_state is (
                TransferState.BRIDGE_READY):
            call.release_transfer(partner.peer_callno, record.media_only, now)
            partner.release_transfer(call.peer_callno, record.media_only, now)
            self._settle(partner, now)

    def _repathed(self, call: Call, now: float) -> None:
        """TXREL moved *call* to another address and peer: its relays start over (their
        clocks are gone) and its trunk follows the new address."""
        call.repathed = False
        self._unrelay(call)
        if call.trunk is not None and call.trunk.addr != call.addr:
            self.trunks.leave(call.trunk, now)
            call.trunk = self.trunks.join(call.addr, now)

    def _index_media(self, call: Call) -> None:
        key = call.media_key
        old = self._media_keys.get(call.callno)
        if key == old:
            return
        if old is not None:
            del self._media_keys[call.callno]
            if self._by_peer.get(old) is call:
                del self._by_peer[old]
        if key is not None:
            self._media_keys[call.callno] = key
            self._by_peer[key] = call

    def set_trunk(self, callno: int, trunk: bool, now: float) -> None:
        """Send *callno*'s voice in its peer's meta trunk frames (``trunk=yes``) or not."""
        call = self._call(callno)
        if trunk and call.trunk is None:
            call.trunk = self.trunks.join(call.addr, now)
        elif not trunk and call.trunk is not None:
            self.trunks.leave(call.trunk, now)
            call.trunk = None

    def send_control(self, callno: int, subclass: int, now: float, payload: bytes = b"") -> None:
        call = self._call(callno)
        call.send_control(subclass, now, payload)
        self._settle(call, now)

    def send_voice(self, callno: int, codec: int, payload: bytes, now: float, samples: int) -> None:
        """Send audio: a full frame first and on codec change, mini frames otherwise.

        Audio racing the end of a call is normal, so an unknown ``callno`` is ignored here
        rather than raising UnknownCall.
        """
        call = self._calls.get(callno)
        if call is None:
            return
        if call.send_voice(codec, payload, now, samples):
            self._settle(call, now)  # a full frame joined the retransmission queue
        else:
            self._collect(call)

    def forward_voice(self, src: int, dst: int, codec: int, payload: bytes, timestamp: int,
                      samples: int, now: float) -> None:
        """Send audio received on call *src* (stamped *timestamp* there) out on call *dst*.

        The stamp keeps the audio's timing, as Asterisk's delivery time does: the source's
        timestamp moved onto the destination's clock. While the formats agree on both legs
        and neither is encrypted, later mini frames from *src* are relayed by
        :meth:`receive_datagram` itself (the fast path) until :meth:`unbridge`.
        """
        source, target = self._calls.get(src), self._calls.get(dst)
        if source is None or target is None:
            return
        relay = self._relays.get(src)
        if relay is None or relay.dst is not target:
            relay = self._bridge(source, target)
        stamp = None if relay.delta is None else (timestamp + relay.delta) & _U32
        if not target.send_voice(codec, payload, now, samples, stamp):
            self._collect(target)  # a mini frame: nothing else changed
            return
        if relay.delta is not None and target.last_voice_ts is not None:
            relay.block = target.last_voice_ts >> 16
            relay.codec = codec
            self._set_fast(relay, codec == source.rx_format == target.tx_format
                           and not source.keys.encrypted and not target.keys.encrypted)
        self._settle(target, now)

    def _bridge(self, source: Call, target: Call) -> _Relay:
        self.unbridge(source.callno)
        delta = None
        if source.rx_origin_ms is not None and target.tx.origin_ms is not None:
            delta = round(source.rx_origin_ms - target.tx.origin_ms)
        relay = _Relay(source, target, delta)
        self._relays[source.callno] = relay
        return relay

    def _set_fast(self, relay: _Relay, fast: bool) -> None:
        key = relay.fast_key
        if key is not None:
            self._fast.pop(key, None)
            addr = (key[0], key[1])
            routes = self._fast_trunk.get(addr)
            if routes is not None and routes.get(key[2]) is relay:
                del routes[key[2]]
                if not routes:
                    del self._fast_trunk[addr]
            relay.fast_key = None
        if fast:
            src = relay.src
            relay.fast_key = (src.addr[0], src.addr[1], src.peer_callno)
            self._fast[relay.fast_key] = relay
            self._fast_trunk.setdefault(src.addr, {})[src.peer_callno] = relay

    def set_jitterbuffer(self, callno: int, settings: JitterBufferSettings | None,
                         now: float) -> None:
        """Voice of *callno* through a jitter buffer (where its audio ends here) or not."""
        call = self._calls.get(callno)
        if call is not None:
            call.set_jitterbuffer(settings, now)
            self._settle(call, now)

    def unbridge(self, src: int) -> None:
        """Stop relaying *src*'s audio (the bridge ended or the channel took the audio)."""
        relay = self._relays.pop(src, None)
        if relay is not None:
            self._set_fast(relay, False)

    def relayed_frames(self, src: int) -> int:
        """Mini frames of *src* relayed on the fast path since the bridge started."""
        relay = self._relays.get(src)
        return relay.frames if relay is not None else 0

    def _unrelay(self, call: Call) -> None:
        self.unbridge(call.callno)
        for src, relay in list(self._relays.items()):
            if relay.dst is call:
                self.unbridge(src)

    def send_dtmf(self, callno: int, digit: str, now: float, *, begin: bool = False) -> None:
        call = self._call(callno)
        call.send_dtmf(digit, now, begin=begin)
        self._settle(call, now)

    def send_text(self, callno: int, text: str, now: float) -> None:
        call = self._call(callno)
        call.send_text(text, now)
        self._settle(call, now)

    def hangup(self, callno: int, cause: int, now: float) -> None:
        call = self._call(callno)
        call.hangup(cause, now)
        self._settle(call, now)

    def reject(self, callno: int, cause_text: str, cause_code: int, now: float) -> None:
        call = self._call(callno)
        call.reject(cause_text, cause_code, now)
        self._settle(call, now)

    def destroy(self, callno: int, now: float) -> None:
        call = self._calls.get(callno)
        if call is not None:
            call.destroy("destroyed locally")
            self._settle(call, now)

    def set_encryption(self, callno: int, tx_key: bytes, rx_keys: Sequence[bytes]) -> None:
        call = self._call(callno)
        call.set_encryption(tx_key, rx_keys)
        self._unrelay(call)

    def expect_encrypted(self, callno: int, candidate_keys: Sequence[bytes]) -> None:
        call = self._call(callno)
        call.expect_encrypted(candidate_keys)
        self._unrelay(call)

    def rotate_key(self, callno: int, now: float) -> None:
        call = self._call(callno)
        call.rotate_key(now)
        self._settle(call, now)

    def enable_key_rotation(self, callno: int, now: float) -> None:
        """Rotate the call's transmit key every 120-300 s until it ends. Raises NotEncrypted."""
        call = self._call(callno)
        call.enable_key_rotation(now)
        self._settle(call, now)

    def set_call_timers(self, *, pingtime: float, lagrqtime: float) -> None:
        """PING and LAGRQ intervals for calls started from now on (a reload)."""
        self._pingtime = pingtime
        self._lagrqtime = lagrqtime

    # -- inspection -----------------------------------------------------------------------

    def call_info(self, callno: int) -> CallInfo:
        return self._call(callno).info()

    def is_encrypted(self, callno: int) -> bool:
        """``call_info(callno).encrypted`` without building the whole snapshot."""
        return self._call(callno).keys.encrypted

    def calls(self) -> list[int]:
        return sorted(self._calls)

    def ending_calls(self) -> list[int]:
        """Calls whose final frame (HANGUP, REJECT, REGACK, REGREJ) still awaits its ACK."""
        return sorted(no for no, call in self._calls.items() if call.state is CallState.HANGING_UP)

    def voice_frames(self) -> tuple[int, int]:
        """Voice frames received and sent since the endpoint was created, all calls."""
        received, sent = self.stats.voice_received, self.stats.voice_sent
        for call in self._calls.values():
            received += call.rx_voice_frames
            sent += call.tx_voice_frames
        return received, sent

    def pending_retransmits(self) -> int:
        return sum(len(call.queue) for call in self._calls.values())


def parse_full(data: bytes) -> FullFrame:
    """Parse a datagram already classified as a full frame."""
    frame = parse_datagram(data)
    if not isinstance(frame, FullFrame):
        raise MalformedFrame("expected a full frame")
    return frame
