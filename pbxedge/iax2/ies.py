"""Information elements: an ordered multimap of ``(id, bytes)`` (reference iax2.md §1.8, §1.9).

Raw bytes are the stored form, so unknown IEs and odd encodings survive a parse/encode round
trip unchanged. Typed accessors follow Asterisk's parser: a fixed-size IE with the wrong length
is ignored (reads as None) rather than rejected.
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from collections.abc import Iterable, Iterator
from datetime import datetime

from pbxedge.iax2.enums import IE
from pbxedge.iax2.errors import MalformedFrame

__all__ = ["MAX_IE_DATA", "IEList", "decode_datetime", "decode_sockaddr"]

MAX_IE_DATA = 255  # the length field is one byte

# Address families as they appear in the first bytes of a raw sockaddr image (§1.9).
_AF_INET = 2
_AF_INET6_LINUX = 10
_AF_INET6_BSD = (28, 30)  # FreeBSD, macOS
_SOCKADDR_IN_LEN = 16
_SOCKADDR_IN6_LEN = 28

_U64_VERSIONED = struct.Struct("!BQ")


class IEList:
    """Ordered IEs of one frame; the same id may appear more than once."""

    __slots__ = ("_first", "_items")

    def __init__(self, items: Iterable[tuple[int, bytes]] = ()) -> None:
        self._items: list[tuple[int, bytes]] = []
        # The first value of each id, built at the first lookup: a NEW is read IE by IE.
        self._first: dict[int, bytes] | None = None
        if isinstance(items, IEList):
            self._items = items._items.copy()  # already checked when they were added
            return
        for ie, data in items:
            self.add(ie, data)

    # -- container protocol ------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IEList):
            return NotImplemented
        return self._items == other._items

    __hash__ = None  # type: ignore[assignment]  # mutable, like list

    def __repr__(self) -> str:
        return f"IEList({self._items!r})"

    # -- building ----------------------------------------------------------------------
    def add(self, ie: int, data: bytes) -> IEList:
        """Append one IE; returns self so calls can chain."""
        if not 0 <= ie <= 0xFF:
            raise ValueError(f"IE id {ie} does not fit in one byte")
        if len(data) > MAX_IE_DATA:
            raise ValueError(f"IE {ie} data is {len(data)} bytes; at most {MAX_IE_DATA} fit")
        self._items.append((int(ie), bytes(data)))
        self._first = None
        return self

    def add_str(self, ie: int, s: str) -> IEList:
        return self.add(ie, s.encode("utf-8", "surrogateescape"))

    def add_u8(self, ie: int, value: int) -> IEList:
        return self.add(ie, value.to_bytes(1, "big"))

    def add_u16(self, ie: int, value: int) -> IEList:
        return self.add(ie, value.to_bytes(2, "big"))

    def add_u32(self, ie: int, value: int) -> IEList:
        return self.add(ie, value.to_bytes(4, "big"))

    def add_empty(self, ie: int) -> IEList:
        return self.add(ie, b"")

    def add_u64_versioned(self, ie: int, value: int) -> IEList:
        """FORMAT2 / CAPABILITY2: a version byte (0) followed by a 64-bit mask."""
        return self.add(ie, _U64_VERSIONED.pack(0, value))

    def add_addr(self, ie: int, host: str, port: int) -> IEList:
        """A Linux ``sockaddr_in``/``sockaddr_in6`` image, family in little-endian (§1.9)."""
        port_bytes = port.to_bytes(2, "big")
        version, packed = _packed_ip(host)
        if version == 4:
            data = bytes((_AF_INET, 0)) + port_bytes + packed + bytes(8)
        else:
            data = bytes((_AF_INET6_LINUX, 0)) + port_bytes + bytes(4) + packed + bytes(4)
        return self.add(ie, data)

    def add_datetime(self, ie: int, when: datetime) -> IEList:
        """Asterisk's packed DATETIME; *when* is written as given (Asterisk sends local time)."""
        if not 2000 <= when.year <= 2127:
            raise ValueError(f"DATETIME year {when.year} is outside 2000-2127")
        packed = (
            ((when.year - 2000) << 25)
            | (when.month << 21)
            | (when.day << 16)
            | (when.hour << 11)
            | (when.minute << 5)
            | (when.second >> 1)
        )
        return self.add_u32(ie, packed)

    def add_variable(self, name: str, value: str, ie: int = IE.VARIABLE) -> IEList:
        """``name=value`` VARIABLE IEs, split like Asterisk when the value is long."""
        name_bytes = name.encode("utf-8", "surrogateescape")
        value_bytes = value.encode("utf-8", "surrogateescape")
        chunk = MAX_IE_DATA - len(name_bytes) - 1
        if chunk <= 0:
            raise ValueError(f"variable name {name!r} is too long for one IE")
        pieces = [value_bytes[i : i + chunk] for i in range(0, len(value_bytes), chunk)] or [b""]
        for piece in pieces:
            self.add(ie, name_bytes + b"=" + piece)
        return self

    def without(self, ie: int) -> IEList:
        """A copy without any IE of id *ie* (e.g. to replace an empty CALLTOKEN)."""
        copy = IEList()
        copy._items = [item for item in self._items if item[0] != ie]
        return copy

    # -- reading -----------------------------------------------------------------------
    def _index(self) -> dict[int, bytes]:
        first: dict[int, bytes] = {}
        for item_ie, data in self._items:
            first.setdefault(item_ie, data)
        self._first = first
        return first

    # The getters read the index themselves: a NEW is read two dozen IEs at a time.
    def get(self, ie: int) -> bytes | None:
        first = self._first
        return (self._index() if first is None else first).get(ie)

    def get_all(self, ie: int) -> list[bytes]:
        return [data for item_ie, data in self._items if item_ie == ie]

    def has(self, ie: int) -> bool:
        first = self._first
        return ie in (self._index() if first is None else first)

    def get_str(self, ie: int) -> str | None:
        first = self._first
        data = (self._index() if first is None else first).get(ie)
        return None if data is None else data.decode("utf-8", "surrogateescape")

    def _get_fixed(self, ie: int, size: int) -> int | None:
        first = self._first
        data = (self._index() if first is None else first).get(ie)
        if data is None or len(data) != size:
            return None
        return int.from_bytes(data, "big")

    def get_u8(self, ie: int) -> int | None:
        return self._get_fixed(ie, 1)

    def get_u16(self, ie: int) -> int | None:
        return self._get_fixed(ie, 2)

    def get_u32(self, ie: int) -> int | None:
        return self._get_fixed(ie, 4)

    def get_u64_versioned(self, ie: int) -> int | None:
        data = self.get(ie)
        if data is None or len(data) != _U64_VERSIONED.size:
            return None
        version, value = _U64_VERSIONED.unpack(data)
        # Asterisk only understands version 0 and ignores the IE otherwise.
        return value if version == 0 else None

    def get_addr(self, ie: int) -> tuple[str, int] | None:
        data = self.get(ie)
        return None if data is None else decode_sockaddr(data)

    def get_datetime(self, ie: int) -> datetime | None:
        packed = self.get_u32(ie)
        return None if packed is None else decode_datetime(packed)

    def get_variables(self) -> dict[str, str]:
        """VARIABLE IEs as a dict; repeated names concatenate (parser.c 1126-1162)."""
        out: dict[str, str] = {}
        for data in self.get_all(IE.VARIABLE):
            name, _, value = data.decode("utf-8", "surrogateescape").partition("=")
            out[name] = out.get(name, "") + value
        return out

    # -- wire form ---------------------------------------------------------------------
    def encode(self) -> bytes:
        out = bytearray()
        for ie, data in self._items:
            out.append(ie)
            out.append(len(data))
            out += data
        return bytes(out)

    @classmethod
    def parse(cls, data: bytes) -> IEList:
        """Parse an IE block; an IE whose length runs past the end rejects the whole block."""
        items: list[tuple[int, bytes]] = []
        pos = 0
        end = len(data)
        while pos < end:
            if end - pos < 2:
                raise MalformedFrame(f"IE header truncated at offset {pos}")
            ie = data[pos]
            length = data[pos + 1]
            start = pos + 2
            pos = start + length
            if pos > end:
                raise MalformedFrame(
                    f"IE {ie} at offset {start - 2} claims {length} bytes, "
                    f"only {end - start} remain"
                )
            items.append((ie, bytes(data[start:pos])))
        result = cls()
        result._items = items
        return result


@functools.lru_cache(maxsize=4096)
def _packed_ip(host: str) -> tuple[int, bytes]:
    """(IP version, address bytes): every REGACK carries the peer's address."""
    ip = ipaddress.ip_address(host)
    return ip.version, ip.packed


def decode_sockaddr(data: bytes) -> tuple[str, int] | None:
    """(host, port) from a raw sockaddr image in Linux or BSD layout; None if implausible."""
    if len(data) not in (_SOCKADDR_IN_LEN, _SOCKADDR_IN6_LEN):
        return None
    # Linux puts a 16-bit family in host order (little-endian on x86: "02 00");
    # BSD puts a length byte first and an 8-bit family second ("10 02").
    family = data[0] if data[1] == 0 and data[0] in (_AF_INET, _AF_INET6_LINUX) else data[1]
    port = int.from_bytes(data[2:4], "big")
    if family == _AF_INET:
        return str(ipaddress.IPv4Address(data[4:8])), port
    if family == _AF_INET6_LINUX or family in _AF_INET6_BSD:
        if len(data) != _SOCKADDR_IN6_LEN:
            return None
        ip6 = ipaddress.IPv6Address(data[8:24])
        mapped = ip6.ipv4_mapped
        return (str(mapped) if mapped is not None else str(ip6)), port
    return None


def decode_datetime(packed: int) -> datetime | None:
    """Asterisk's packed DATETIME as a naive datetime; None if a field is out of range."""
    try:
        return datetime(
            2000 + (packed >> 25),
            (packed >> 21) & 0x0F,
            (packed >> 16) & 0x1F,
            (packed >> 11) & 0x1F,
            (packed >> 5) & 0x3F,
            (packed & 0x1F) << 1,
        )
    except ValueError:
        return None
