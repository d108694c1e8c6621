"""IAX2 datagrams ⇄ typed frames (reference iax2.md §1.1–§1.4).

Four shapes share one UDP port: full frames (12-byte header, reliable), mini voice frames
(4-byte header), meta trunk frames (many calls' audio in one datagram) and meta video frames.
:func:`parse_datagram` tells them apart the way Asterisk's ``socket_process`` does.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pbxedge.iax2.enums import FrameType, IaxSubclass, MetaCommand
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.ies import IEList

__all__ = [
    "FULL_HEADER_LEN",
    "MAX_CALL_NUMBER",
    "TRUNK_ENTRY_HEADER",
    "ByteSource",
    "Frame",
    "FullFrame",
    "MetaTrunkFrame",
    "MetaVideoFrame",
    "MiniFrame",
    "TrunkEntry",
    "TrunkEntryTable",
    "compress_subclass",
    "iax_frame",
    "meta_trunk_header",
    "parse_datagram",
    "trunk_entry",
    "trunk_entry_table",
    "uncompress_subclass",
]

FULL_HEADER_LEN = 12
MINI_HEADER_LEN = 4
META_VIDEO_HEADER_LEN = 6
META_TRUNK_HEADER_LEN = 8
MAX_CALL_NUMBER = 0x7FFF

_FLAG_FULL = 0x8000  # on the source call number: this is a full frame
_FLAG_RETRANS = 0x8000  # on the destination call number: this is a retransmission
_FLAG_VIDEO = 0x8000  # on the second word of a meta frame: this is meta video
_SUBCLASS_COMPRESSED = 0x80
_SUBCLASS_MINUS_ONE = 0xFF  # Asterisk's -1 ("stop sounds" control)
_TRUNK_WITH_TIMESTAMPS = 0x01  # cmddata bit: IAX_META_TRUNK_MINI

_FULL = struct.Struct("!HHIBBBB")
# A dict lookup instead of the enum's constructor, which raises for unknown values.
_IAX_SUBCLASSES: dict[int, IaxSubclass] = {int(sub): sub for sub in IaxSubclass}
_MINI = struct.Struct("!HH")
_META_VIDEO = struct.Struct("!HHH")
_META_TRUNK = struct.Struct("!HBBI")
_TRUNK_SUPERMINI = struct.Struct("!HH")  # callno, len
_TRUNK_MINI = struct.Struct("!HHH")  # len, callno, ts16
TRUNK_ENTRY_HEADER = {False: _TRUNK_SUPERMINI, True: _TRUNK_MINI}  # by "with timestamps"
# Past this many entries a frame is read entry by entry rather than by one struct made for it.
_UNIFORM_MAX_ENTRIES = 512


def compress_subclass(value: int) -> int:
    """Asterisk's ``compress_subclass``: the subclass byte for a decoded value."""
    if value == -1:
        return _SUBCLASS_MINUS_ONE
    if 0 <= value < _SUBCLASS_COMPRESSED:
        return value
    if value > 0 and value & (value - 1) == 0 and value.bit_length() - 1 <= 0x3F:
        return _SUBCLASS_COMPRESSED | (value.bit_length() - 1)
    raise ValueError(f"subclass {value:#x} has no one-byte encoding")


def uncompress_subclass(csub: int) -> int:
    """Asterisk's ``uncompress_subclass``; accepts both encodings of small powers of two."""
    if csub & _SUBCLASS_COMPRESSED:
        if csub == _SUBCLASS_MINUS_ONE:
            return -1
        return 1 << (csub & 0x3F)
    return csub


class FullFrame(NamedTuple):
    """A 12-byte-header frame; ``subclass`` is the decoded value (G.729 = 0x100, -1 = stop sounds).

    Immutable like the other frames, but a named tuple rather than a frozen dataclass: every
    signalling datagram makes one or two, and a tuple is built in a sixth of the time a
    frozen dataclass takes to set its nine fields one by one. Change one with ``_replace``.
    """

    source_call: int
    dest_call: int
    timestamp: int
    oseqno: int
    iseqno: int
    frametype: int
    subclass: int
    payload: bytes = b""
    retransmitted: bool = False

    def encode(self) -> bytes:
        if not 0 <= self.source_call <= MAX_CALL_NUMBER:
            raise ValueError(f"source call {self.source_call} is not 15-bit")
        if not 0 <= self.dest_call <= MAX_CALL_NUMBER:
            raise ValueError(f"destination call {self.dest_call} is not 15-bit")
        try:
            header = _FULL.pack(
                self.source_call | _FLAG_FULL,
                self.dest_call | (_FLAG_RETRANS if self.retransmitted else 0),
                self.timestamp,
                self.oseqno,
                self.iseqno,
                self.frametype,
                compress_subclass(self.subclass),
            )
        except struct.error as exc:
            raise ValueError(f"full frame field out of range: {exc}") from exc
        return header + self.payload

    def ies(self) -> IEList:
        """The payload parsed as IEs (meaningful for IAX frames); raises MalformedFrame."""
        return IEList.parse(self.payload)

    @property
    def iax_subclass(self) -> IaxSubclass | None:
        """The IAX command, or None for other frame types and unknown subclasses."""
        if self.frametype != FrameType.IAX:
            return None
        return _IAX_SUBCLASSES.get(self.subclass)


@dataclass(frozen=True, slots=True)
class MiniFrame:
    """Voice with a 4-byte header; the codec is the last full voice frame's."""

    source_call: int
    timestamp: int  # low 16 bits of the sender's timestamp
    payload: bytes

    def encode(self) -> bytes:
        if not 1 <= self.source_call <= MAX_CALL_NUMBER:
            raise ValueError(f"mini frame source call {self.source_call} must be 1..32767")
        return _MINI.pack(self.source_call, self.timestamp & 0xFFFF) + self.payload


@dataclass(frozen=True, slots=True)
class TrunkEntry:
    """One call's audio inside a meta trunk frame; ``timestamp`` only with trunk timestamps."""

    call: int
    payload: bytes
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class MetaTrunkFrame:
    """Several calls' audio to one peer (``trunk=yes``), §1.4."""

    timestamp: int
    entries: tuple[TrunkEntry, ...]
    with_timestamps: bool

    def encode(self) -> bytes:
        try:
            return self._pack()
        except struct.error as exc:
            raise ValueError(f"meta trunk field out of range: {exc}") from exc

    def _pack(self) -> bytes:
        parts = [meta_trunk_header(self.timestamp, self.with_timestamps)]
        for entry in self.entries:
            if self.with_timestamps and entry.timestamp is None:
                raise ValueError("trunk entry needs a timestamp when with_timestamps is set")
            parts.append(trunk_entry(entry.call, entry.payload,
                                     entry.timestamp if self.with_timestamps else None))
        return b"".join(parts)


def meta_trunk_header(timestamp: int, with_timestamps: bool) -> bytes:
    """The 8 bytes that open a meta trunk frame (zeros, metacmd, cmddata, trunk timestamp)."""
    cmddata = _TRUNK_WITH_TIMESTAMPS if with_timestamps else 0
    return _META_TRUNK.pack(0, MetaCommand.TRUNK, cmddata, timestamp)


def trunk_entry(call: int, payload: bytes, timestamp: int | None) -> bytes:
    """One call's audio in a meta trunk frame: ``len, callno, ts16`` when *timestamp* is
    given (trunktimestamps=yes), else ``callno, len`` (the field order differs, §1.4)."""
    if timestamp is None:
        return _TRUNK_SUPERMINI.pack(call, len(payload)) + payload
    return _TRUNK_MINI.pack(len(payload), call, timestamp & 0xFFFF) + payload


@dataclass(frozen=True, slots=True)
class MetaVideoFrame:
    """Video with a 6-byte header: 15 bits of timestamp plus a marker bit."""

    source_call: int
    timestamp: int
    marker: bool
    payload: bytes

    def encode(self) -> bytes:
        if not 0 <= self.source_call <= MAX_CALL_NUMBER:
            raise ValueError(f"source call {self.source_call} is not 15-bit")
        # Only the low 15 bits travel; the receiver rebuilds the rest from its last timestamp.
        ts_field = (self.timestamp & 0x7FFF) | (0x8000 if self.marker else 0)
        return _META_VIDEO.pack(0, self.source_call | _FLAG_VIDEO, ts_field) + self.payload


Frame = FullFrame | MiniFrame | MetaTrunkFrame | MetaVideoFrame
ByteSource = bytes | bytearray | memoryview  # what a receive buffer may hand us


def parse_datagram(data: ByteSource) -> Frame:
    """Classify and decode one UDP payload; raises MalformedFrame (and nothing else)."""
    if len(data) < MINI_HEADER_LEN:
        raise MalformedFrame(f"datagram of {len(data)} bytes is shorter than any IAX2 header")
    first, second = _MINI.unpack_from(data)
    if first == 0:
        if second & _FLAG_VIDEO:
            return _parse_meta_video(data)
        return _parse_meta_trunk(data)
    if first & _FLAG_FULL:
        return _parse_full(data)
    return MiniFrame(first, second, bytes(data[MINI_HEADER_LEN:]))


def _parse_full(data: ByteSource) -> FullFrame:
    if len(data) < FULL_HEADER_LEN:
        raise MalformedFrame(f"full frame of {len(data)} bytes is shorter than its 12-byte header")
    scall, dcall, ts, oseq, iseq, ftype, csub = _FULL.unpack_from(data)
    return FullFrame(
        scall & MAX_CALL_NUMBER,
        dcall & MAX_CALL_NUMBER,
        ts,
        oseq,
        iseq,
        ftype,
        csub if csub < _SUBCLASS_COMPRESSED else uncompress_subclass(csub),
        bytes(data[FULL_HEADER_LEN:]),
        dcall >= _FLAG_RETRANS,
    )


def _parse_meta_video(data: ByteSource) -> MetaVideoFrame:
    if len(data) < META_VIDEO_HEADER_LEN:
        raise MalformedFrame(f"meta video frame of {len(data)} bytes is shorter than 6")
    _, call, ts_field = _META_VIDEO.unpack_from(data)
    return MetaVideoFrame(
        source_call=call & MAX_CALL_NUMBER,
        timestamp=ts_field & 0x7FFF,
        marker=bool(ts_field & 0x8000),
        payload=bytes(data[META_VIDEO_HEADER_LEN:]),
    )


def _parse_meta_trunk(data: ByteSource) -> MetaTrunkFrame:
    table = trunk_entry_table(data)
    data = bytes(data)
    size = table.header_size
    return MetaTrunkFrame(
        table.timestamp,
        tuple(TrunkEntry(call, data[at + size : at + size + length],
                         ts16 if table.with_timestamps else None)
              for call, ts16, at, length in zip(table.calls, table.stamps, table.starts,
                                                table.lengths, strict=True)),
        table.with_timestamps,
    )


@dataclass(frozen=True, slots=True)
class TrunkEntryTable:
    """The entries of a meta trunk frame as columns, what the receive path walks without an
    object per entry: entry *i* is for call ``calls[i]``, stamped ``stamps[i]`` (0 without
    timestamps), its header at offset ``starts[i]`` and then ``lengths[i]`` bytes of audio."""

    timestamp: int
    with_timestamps: bool
    header_size: int
    calls: Sequence[int]
    stamps: Sequence[int]
    starts: Sequence[int]
    lengths: Sequence[int]


def trunk_entry_table(data: ByteSource) -> TrunkEntryTable:
    """Read a meta trunk frame's header and the header of every entry. Raises
    MalformedFrame, so nothing of a frame with a truncated entry is used."""
    if len(data) < META_TRUNK_HEADER_LEN:
        raise MalformedFrame(f"meta frame of {len(data)} bytes is shorter than 8")
    _, metacmd, cmddata, ts = _META_TRUNK.unpack_from(data)
    if metacmd != MetaCommand.TRUNK:
        raise MalformedFrame(f"unknown meta command {metacmd}")
    if cmddata & ~_TRUNK_WITH_TIMESTAMPS:
        raise MalformedFrame(f"unknown meta trunk flags {cmddata:#04x}")
    with_timestamps = bool(cmddata & _TRUNK_WITH_TIMESTAMPS)
    return (_uniform_entries(data, ts, with_timestamps)
            or _walk_entries(data, ts, with_timestamps))


def _uniform_entries(data: ByteSource, ts: int, with_timestamps: bool) -> TrunkEntryTable | None:
    """Entries all of the first one's length (one codec and frame size on every call, the
    usual case), read by one unpack of a struct made for that length and count; None
    when they are not."""
    header = TRUNK_ENTRY_HEADER[with_timestamps]
    size, end = header.size, len(data)
    if end - META_TRUNK_HEADER_LEN < size:
        return None
    first = header.unpack_from(data, META_TRUNK_HEADER_LEN)
    length = first[0] if with_timestamps else first[1]
    count, rest = divmod(end - META_TRUNK_HEADER_LEN, size + length)
    if rest or count > _UNIFORM_MAX_ENTRIES:
        return None
    fields = _entries_struct(with_timestamps, length, count).unpack_from(
        data, META_TRUNK_HEADER_LEN)
    if with_timestamps:  # len, callno, ts16 each
        lengths, calls, stamps = fields[0::3], fields[1::3], fields[2::3]
    else:  # callno, len each
        calls, lengths, stamps = fields[0::2], fields[1::2], (0,) * count
    if lengths.count(length) != count:
        return None
    starts = range(META_TRUNK_HEADER_LEN, end, size + length)
    return TrunkEntryTable(ts, with_timestamps, size, calls, stamps, starts, lengths)


@functools.lru_cache(maxsize=64)
def _entries_struct(with_timestamps: bool, length: int, count: int) -> struct.Struct:
    entry = f"HHH{length}x" if with_timestamps else f"HH{length}x"
    return struct.Struct("!" + entry * count)


def _walk_entries(data: ByteSource, ts: int, with_timestamps: bool) -> TrunkEntryTable:
    header = TRUNK_ENTRY_HEADER[with_timestamps]
    size, unpack = header.size, header.unpack_from
    calls: list[int] = []
    stamps: list[int] = []
    starts: list[int] = []
    lengths: list[int] = []
    pos, end = META_TRUNK_HEADER_LEN, len(data)
    while pos < end:
        if end - pos < size:
            raise MalformedFrame(f"trunk entry header truncated at offset {pos}")
        if with_timestamps:
            length, call, entry_ts = unpack(data, pos)
        else:
            call, length = unpack(data, pos)
            entry_ts = 0
        if pos + size + length > end:
            raise MalformedFrame(f"trunk entry for call {call} claims {length} bytes, "
                                 f"only {end - pos - size} remain")
        calls.append(call)
        stamps.append(entry_ts)
        starts.append(pos)
        lengths.append(length)
        pos += size + length
    return TrunkEntryTable(ts, with_timestamps, size, calls, stamps, starts, lengths)


def iax_frame(
    source_call: int,
    dest_call: int,
    timestamp: int,
    oseqno: int,
    iseqno: int,
    subclass: IaxSubclass,
    ies: IEList | None = None,
    *,
    retransmitted: bool = False,
) -> FullFrame:
    """A full IAX (type 6) frame carrying *ies*."""
    return FullFrame(
        source_call=source_call,
        dest_call=dest_call,
        timestamp=timestamp,
        oseqno=oseqno,
        iseqno=iseqno,
        frametype=FrameType.IAX,
        subclass=int(subclass),
        payload=ies.encode() if ies is not None else b"",
        retransmitted=retransmitted,
    )
