"""IAX2 trunking: many calls' voice toward one address in one meta trunk frame per tick
(reference iax2.md §1.4, §7.7, §15.11).

Sending: a trunk call's voice after its first full frame is appended to the buffer of its
peer's address (:meth:`TrunkPeer.add`) instead of going out as a mini frame. Every
``trunkfreq`` ms, on a grid fixed when trunking first had something to send, each non-empty
buffer leaves as one datagram (:meth:`Trunks.tick`); a buffer that reaches ``trunkmtu`` leaves
at once, and one that would pass ``trunkmaxsize`` drops the entry and counts it. The grid is
a deadline the endpoint reports through ``get_timer``, so the tick costs the transport
nothing special, never drifts, and needs no kernel timer (Asterisk turns trunking off
without one).

Receiving: :meth:`Trunks.receive_epoch` keeps, per sending address, the moment its trunk
clock read 0, so entries without their own timestamps can be placed on each call's clock
(Asterisk's ``fix_peerts``).

Sans-IO like the rest of the core: ``now`` is given in seconds, nothing here sends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pbxedge.iax2.frames import (
    META_TRUNK_HEADER_LEN,
    TRUNK_ENTRY_HEADER,
    ByteSource,
    meta_trunk_header,
)

__all__ = [
    "DEFAULT_TRUNKMTU",
    "TrunkPeer",
    "TrunkSettings",
    "TrunkStats",
    "Trunks",
]

Address = tuple[str, int]

DEFAULT_TRUNKMTU = 1240  # MAX_TRUNK_MTU, also what "iax2 set mtu default" restores
EPOCH_RESET_MS = 5000  # calc_txpeerstamp: after 5 s without sending the trunk clock restarts
MAX_SKEW_MS = 160  # MAX_TIMESTAMP_SKEW: within this of the prediction, the prediction is sent
# Entries one datagram can carry: the largest UDP payload over IPv4, less the meta header.
MAX_TRUNK_DATA = 65507 - META_TRUNK_HEADER_LEN
IDLE_FORGET_S = 5.0  # a trunk peer with no calls and no traffic for this long is forgotten
_RATE_WINDOW_S = 1.0
_U32 = 0xFFFFFFFF


@dataclass(slots=True)
class TrunkSettings:
    """``[general]`` trunk options; shared by every trunk peer, so ``iax2 set mtu`` acts at once."""

    freq_ms: int = 20
    mtu: int = DEFAULT_TRUNKMTU  # 0: no early flush
    maxsize: int = 128000  # bytes one peer's buffer may hold
    timestamps: bool = False  # trunktimestamps: per-entry 16-bit timestamps


@dataclass(frozen=True, slots=True)
class TrunkStats:
    """One peer's trunk traffic, for ``iax2 show trunks``."""

    addr: Address
    calls: int  # our trunk calls toward it
    tx_datagrams_per_s: float
    tx_bytes_per_s: float
    rx_datagrams_per_s: float
    rx_bytes_per_s: float
    tx_datagrams: int
    tx_entries: int
    early_flushes: int  # sent before the tick because trunkmtu was reached
    dropped: int  # entries refused because trunkmaxsize was reached
    rx_datagrams: int
    rx_entries: int


class _Rate:
    """Datagrams and bytes per second over the last whole window."""

    __slots__ = ("bytes", "count", "per_s_bytes", "per_s_count", "since")

    def __init__(self) -> None:
        self.since: float | None = None
        self.count = self.bytes = 0
        self.per_s_count = self.per_s_bytes = 0.0

    def add(self, size: int, now: float) -> None:
        since = self.since
        if since is None or now - since >= 2 * _RATE_WINDOW_S:
            # The first datagram, or the first after a quiet spell: a fresh window.
            self.since, self.count, self.bytes = now, 0, 0
            self.per_s_count = self.per_s_bytes = 0.0
        elif now - since >= _RATE_WINDOW_S:
            elapsed = now - since
            self.per_s_count, self.per_s_bytes = self.count / elapsed, self.bytes / elapsed
            self.since, self.count, self.bytes = now, 0, 0
        self.count += 1
        self.bytes += size

    def current(self, now: float) -> tuple[float, float]:
        since = self.since
        if since is None or now - since >= 2 * _RATE_WINDOW_S:
            return 0.0, 0.0  # nothing lately
        if self.per_s_count or now - since < _RATE_WINDOW_S / 10:
            return self.per_s_count, self.per_s_bytes
        return self.count / (now - since), self.bytes / (now - since)  # the first window


class TrunkPeer:
    """The trunk state of one remote address: our send buffer and its clock, and the
    receive epoch of its trunk clock."""

    __slots__ = (
        "_header",
        "_lastsent",
        "_lasttx_ms",
        "_limit",
        "_parts",
        "_room_limit",
        "_rx_rate",
        "_settings",
        "_trunks",
        "_tx_rate",
        "_txtrunk_ms",
        "_waiting",
        "addr",
        "calls",
        "datalen",
        "dropped",
        "early_flushes",
        "last_active",
        "rx_datagrams",
        "rx_entries",
        "rx_epoch_ms",
        "tx_datagrams",
        "tx_entries",
        "with_timestamps",
    )

    def __init__(self, trunks: Trunks, addr: Address, now: float) -> None:
        self._trunks = trunks
        self.addr = addr
        self.calls = 0
        self._parts: list[ByteSource] = []  # the encoded entries waiting
        self._waiting = 0  # entries in _parts
        self._room_limit = 0
        self.datalen = 0  # bytes of entries waiting, without the 8-byte meta header
        # Fixed for the peer's life (no command changes it): the entry layout.
        self._settings = settings = trunks.settings
        self.with_timestamps = settings.timestamps
        self._header = TRUNK_ENTRY_HEADER[self.with_timestamps]
        # Past this the slow path decides: leave early (UDP limit) or drop (trunkmaxsize).
        self._limit = min(MAX_TRUNK_DATA, settings.maxsize)
        self._txtrunk_ms: int | None = None
        self._lasttx_ms = 0
        self._lastsent: int | None = None
        self.rx_epoch_ms: int | None = None
        self.last_active = now
        self.tx_datagrams = self.tx_entries = self.early_flushes = self.dropped = 0
        self.rx_datagrams = self.rx_entries = 0
        self._tx_rate = _Rate()
        self._rx_rate = _Rate()

    def add(self, callno: int, timestamp: int, payload: bytes, now: float) -> bytes | None:
        """Queue one call's voice; returns a datagram when it had to leave before the tick:
        ``trunkmtu`` was reached, or this entry would not fit in one UDP datagram."""
        if self.with_timestamps:
            entry = self._header.pack(len(payload), callno, timestamp & 0xFFFF) + payload
        else:
            entry = self._header.pack(callno, len(payload)) + payload
        return self.add_entry(entry, len(payload), now)

    def add_entry(self, entry: ByteSource, length: int, now: float) -> bytes | None:
        """:meth:`add` for an entry already encoded in this peer's layout (its header, then
        *length* bytes of audio), such as one relayed from another trunk with its header
        rewritten in place. The bytes must stay unchanged until the buffer leaves."""
        size = len(entry)
        early = None
        if self.datalen + size > self._limit:
            early = self._make_room(size, now)
            if early is None and self.datalen + size > self._settings.maxsize:
                self.dropped += 1
                return None
        mtu = self._settings.mtu
        if not self.datalen:
            self._trunks.arm(self, now)
            # Until the buffer leaves, neither the MTU rule nor a limit can apply below
            # this (so a new trunkmtu counts from the next datagram on): see room().
            self._room_limit = min(self._limit, mtu - 5) if mtu else self._limit
        self._parts.append(entry)
        self._waiting += 1
        self.datalen = datalen = self.datalen + size
        # iax2_trunk_queue: leave early when another entry of this size would reach the MTU
        # (so a datagram may pass trunkmtu by a few bytes, as Asterisk's do, §15.11).
        if mtu and datalen + length + 4 >= mtu:
            self.early_flushes += 1
            return self.flush(now)
        return early

    def room(self) -> int:
        """Bytes of entries :meth:`extend` may append as they are: entries fit while their
        size plus the audio length of the last of them stays within it (the MTU rule of
        :meth:`add_entry` looks one entry ahead). 0 while the buffer is empty, whose first
        entry arms the tick through :meth:`add_entry`."""
        return self._room_limit - self.datalen if self.datalen else 0

    def extend(self, entries: ByteSource, count: int) -> None:
        """Append *count* encoded entries that fit in :meth:`room`."""
        self._parts.append(entries)
        self._waiting += count
        self.datalen += len(entries)

    def _make_room(self, size: int, now: float) -> bytes | None:
        """The buffer is nearly full: past what one UDP datagram carries it leaves now
        (Asterisk would build a datagram the kernel refuses and lose all of it; with
        trunkmtu=0 ~400 calls of µ-law fill one tick). None when trunkmaxsize is the limit."""
        if self.datalen + size <= MAX_TRUNK_DATA:
            return None
        self.early_flushes += 1
        return self.flush(now)

    def flush(self, now: float) -> bytes | None:
        """The waiting entries as one meta trunk frame (None when nothing waits)."""
        if not self.datalen:
            return None
        header = meta_trunk_header(self._stamp(now), self.with_timestamps)
        data = header + b"".join(self._parts)
        self.tx_entries += self._waiting
        self._parts = []
        self._waiting = 0
        self.datalen = 0
        self.tx_datagrams += 1
        self.last_active = now
        self._tx_rate.add(len(data), now)
        return data

    def _stamp(self, now: float) -> int:
        """``calc_txpeerstamp``: ms since the trunk epoch, predicted as last + trunkfreq
        while within 160 ms of that, never the same twice; 5 s of silence restarts it."""
        now_ms = int(now * 1000.0 + 1e-6)
        if self._txtrunk_ms is None or now_ms - self._lasttx_ms > EPOCH_RESET_MS:
            self._txtrunk_ms = now_ms
            self._lastsent = None
        self._lasttx_ms = now_ms
        ms = now_ms - self._txtrunk_ms
        last = self._lastsent
        if last is not None:
            predicted = last + self._trunks.settings.freq_ms
            if abs(ms - predicted) < MAX_SKEW_MS:
                ms = predicted
            if ms == last:
                ms = last + 1
        self._lastsent = ms
        return ms & _U32

    def received(self, timestamp: int, entries: int, size: int, now: float) -> int:
        """Count a meta trunk frame from this address; returns its receive epoch (ms on our
        clock at which its trunk clock read 0): reset by a timestamp of 0, as Asterisk does."""
        now_ms = int(now * 1000.0 + 1e-6)
        if self.rx_epoch_ms is None or timestamp == 0:
            self.rx_epoch_ms = now_ms - timestamp
        self.rx_datagrams += 1
        self.rx_entries += entries
        self.last_active = now
        self._rx_rate.add(size, now)
        return self.rx_epoch_ms

    def stats(self, now: float) -> TrunkStats:
        tx_count, tx_bytes = self._tx_rate.current(now)
        rx_count, rx_bytes = self._rx_rate.current(now)
        return TrunkStats(self.addr, self.calls, tx_count, tx_bytes, rx_count, rx_bytes,
                          self.tx_datagrams, self.tx_entries, self.early_flushes, self.dropped,
                          self.rx_datagrams, self.rx_entries)


class Trunks:
    """Every trunk peer of one endpoint, and the tick grid they share."""

    def __init__(self, settings: TrunkSettings | None = None) -> None:
        self.settings = settings or TrunkSettings()
        self._peers: dict[Address, TrunkPeer] = {}
        self._waiting: list[TrunkPeer] = []
        self._origin: float | None = None
        self.due: float | None = None  # the next tick, while something waits for one

    def peer(self, addr: Address, now: float) -> TrunkPeer:
        peer = self._peers.get(addr)
        if peer is None:
            peer = self._peers[addr] = TrunkPeer(self, addr, now)
        return peer

    def find(self, addr: Address) -> TrunkPeer | None:
        return self._peers.get(addr)

    def join(self, addr: Address, now: float) -> TrunkPeer:
        """A call toward *addr* becomes a trunk call."""
        peer = self.peer(addr, now)
        peer.calls += 1
        return peer

    def leave(self, peer: TrunkPeer, now: float) -> None:
        peer.calls -= 1
        self.prune(now)

    def arm(self, peer: TrunkPeer, now: float) -> None:
        """*peer*'s buffer got its first entry: it leaves at the next tick of the grid."""
        self._waiting.append(peer)
        if self.due is None:
            period = self.settings.freq_ms / 1000.0
            if self._origin is None:
                self._origin = now
            ticks = math.floor((now - self._origin) / period + 1e-9) + 1
            self.due = self._origin + ticks * period

    def tick(self, now: float) -> list[tuple[bytes, Address]]:
        """Send every waiting buffer (call when ``now >= due``)."""
        waiting, self._waiting = self._waiting, []
        self.due = None
        out = []
        for peer in waiting:
            data = peer.flush(now)  # None if an early flush emptied it meanwhile
            if data is not None:
                out.append((data, peer.addr))
        return out

    def prune(self, now: float) -> None:
        """Forget peers without calls that have been quiet for a while (Asterisk: 5 s)."""
        stale = [addr for addr, peer in self._peers.items()
                 if not peer.calls and not peer.datalen and now - peer.last_active > IDLE_FORGET_S]
        for addr in stale:
            del self._peers[addr]

    def stats(self, now: float) -> list[TrunkStats]:
        return [peer.stats(now) for peer in self._peers.values()]
