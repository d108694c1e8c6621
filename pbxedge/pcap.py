"""UDP datagrams out of pcap and pcapng captures (used by ``pbxedge decode``).

Both container formats are read here rather than through a library because a damaged or cut
capture must be reported as such: a short final record is an error, not a smaller packet.
Link, IP and UDP headers are unpacked by hand so a malformed packet is skipped, never raised.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["CaptureError", "UdpDatagram", "read_udp"]

# Link types (tcpdump.org/linktypes.html) this reader understands.
_LINK_NULL = 0
_LINK_ETHERNET = 1
_LINK_RAW = 101
_LINK_RAW_OPENBSD = 12
_LINK_RAW_BSD = 14
_LINK_LINUX_SLL = 113
_LINK_IPV4 = 228
_LINK_IPV6 = 229
_LINK_LINUX_SLL2 = 276

_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
_ETHERTYPE_VLAN = (0x8100, 0x88A8)
_IPPROTO_UDP = 17
_UDP = struct.Struct("!HHHH")

# Classic pcap: magic -> (byte order, ticks per second).
_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
_PCAP_HEADER_LEN = 24
_PCAP_RECORD_LEN = 16

# pcapng block types.
_BLOCK_SECTION = 0x0A0D0D0A
_BLOCK_INTERFACE = 1
_BLOCK_OBSOLETE_PACKET = 2
_BLOCK_SIMPLE_PACKET = 3
_BLOCK_ENHANCED_PACKET = 6
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_OPTION_TSRESOL = 9
_MAX_BLOCK = 64 * 1024 * 1024  # refuse absurd lengths instead of allocating them


class CaptureError(ValueError):
    """The file is not a readable pcap/pcapng capture, or it is cut short."""


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    """One UDP datagram; ``number`` is the 1-based frame number tshark shows."""

    number: int
    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    payload: bytes


def read_udp(path: str | Path) -> Iterator[UdpDatagram]:
    """Every UDP datagram of the capture, in file order; other packets are skipped.

    Raises CaptureError when the file cannot be opened as a capture or is damaged; the
    datagrams before the damage have been yielded by then.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the generator's finally
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror or exc}") from exc
    try:
        magic = handle.read(4)
        handle.seek(0)
        if magic == struct.pack("<I", _BLOCK_SECTION):
            packets = _read_pcapng(handle, str(path))
        elif magic in _PCAP_MAGICS:
            packets = _read_pcap(handle, str(path))
        else:
            raise CaptureError(f"{path}: not a pcap or pcapng capture")
        for number, (linktype, timestamp, frame) in enumerate(packets, start=1):
            datagram = _udp_from_link(linktype, frame)
            if datagram is not None:
                src, dst, payload = datagram
                yield UdpDatagram(number, timestamp, src, dst, payload)
    finally:
        handle.close()


_Packet = tuple[int, float, bytes]  # link type, time, link-layer frame


def _read_exact(handle: BinaryIO, size: int, name: str, what: str) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise CaptureError(f"{name}: capture cut short in {what}")
    return data


def _read_pcap(handle: BinaryIO, name: str) -> Iterator[_Packet]:
    header = _read_exact(handle, _PCAP_HEADER_LEN, name, "the file header")
    order, ticks = _PCAP_MAGICS[header[:4]]
    linktype = struct.unpack(order + "I", header[20:24])[0] & 0xFFFF
    record = struct.Struct(order + "IIII")
    count = 0
    while True:
        head = handle.read(_PCAP_RECORD_LEN)
        if not head:
            return
        if len(head) != _PCAP_RECORD_LEN:
            raise CaptureError(f"{name}: capture damaged after frame {count} (cut record header)")
        seconds, fraction, caplen, _ = record.unpack(head)
        if caplen > _MAX_BLOCK:
            raise CaptureError(f"{name}: capture damaged after frame {count} (length {caplen})")
        data = handle.read(caplen)
        if len(data) != caplen:
            raise CaptureError(f"{name}: capture damaged after frame {count} (cut packet)")
        count += 1
        yield linktype, seconds + fraction / ticks, data


@dataclass(slots=True)
class _Interface:
    linktype: int
    ticks_per_second: int


def _read_pcapng(handle: BinaryIO, name: str) -> Iterator[_Packet]:
    order = "<"
    interfaces: list[_Interface] = []
    count = 0
    while True:
        head = handle.read(8)
        if not head:
            return
        if len(head) != 8:
            raise CaptureError(f"{name}: capture damaged after frame {count} (cut block header)")
        block_type = struct.unpack(order + "I", head[:4])[0]
        if block_type == _BLOCK_SECTION:
            # A new section may switch byte order; its magic says which.
            magic = _read_exact(handle, 4, name, "a section header")
            order = "<" if struct.unpack("<I", magic)[0] == _BYTE_ORDER_MAGIC else ">"
            if struct.unpack(order + "I", magic)[0] != _BYTE_ORDER_MAGIC:
                raise CaptureError(f"{name}: bad pcapng byte-order magic")
            interfaces = []
            total = struct.unpack(order + "I", head[4:8])[0]
            body = magic + _block_body(handle, total, 12, name, count)
        else:
            total = struct.unpack(order + "I", head[4:8])[0]
            body = _block_body(handle, total, 8, name, count)
        trailer = _read_exact(handle, 4, name, "a block trailer")
        if struct.unpack(order + "I", trailer)[0] != total:
            raise CaptureError(f"{name}: capture damaged after frame {count} (block length)")
        packet = _pcapng_packet(block_type, body, order, interfaces, name, count)
        if packet is not None:
            count += 1
            yield packet


def _block_body(handle: BinaryIO, total: int, already: int, name: str, count: int) -> bytes:
    if total < 12 or total % 4 or total > _MAX_BLOCK:
        raise CaptureError(f"{name}: capture damaged after frame {count} (block length {total})")
    return _read_exact(handle, total - already - 4, name, f"the block after frame {count}")


def _pcapng_packet(
    block_type: int, body: bytes, order: str, interfaces: list[_Interface], name: str, count: int
) -> _Packet | None:
    try:
        if block_type == _BLOCK_INTERFACE:
            linktype = struct.unpack_from(order + "H", body, 0)[0]
            interfaces.append(_Interface(linktype, _tsresol(body[8:], order)))
            return None
        if block_type == _BLOCK_ENHANCED_PACKET:
            iface, high, low, caplen, _ = struct.unpack_from(order + "IIIII", body, 0)
            data = body[20 : 20 + caplen]
        elif block_type == _BLOCK_OBSOLETE_PACKET:
            iface, _, high, low, caplen, _ = struct.unpack_from(order + "HHIIII", body, 0)
            data = body[20 : 20 + caplen]
        elif block_type == _BLOCK_SIMPLE_PACKET:
            iface, high, low = 0, 0, 0
            data = body[4:]
            caplen = len(data)
        else:
            return None
    except struct.error as exc:
        raise CaptureError(f"{name}: capture damaged after frame {count} ({exc})") from exc
    if iface >= len(interfaces) or len(data) < caplen:
        raise CaptureError(f"{name}: capture damaged after frame {count} (bad packet block)")
    interface = interfaces[iface]
    return interface.linktype, ((high << 32) | low) / interface.ticks_per_second, data


def _tsresol(options: bytes, order: str) -> int:
    """Ticks per second from the if_tsresol option (default microseconds)."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(order + "HH", options, pos)
        if code == 0:
            break
        if code == _OPTION_TSRESOL and length >= 1 and pos + 5 <= len(options):
            value = options[pos + 4]
            return int(2 ** (value & 0x7F) if value & 0x80 else 10**value)
        pos += 4 + length + (-length % 4)
    return 1_000_000


_Addresses = tuple[tuple[str, int], tuple[str, int], bytes]


def _udp_from_link(linktype: int, frame: bytes) -> _Addresses | None:
    if linktype == _LINK_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype = int.from_bytes(frame[12:14], "big")
        offset = 14
        while ethertype in _ETHERTYPE_VLAN and len(frame) >= offset + 4:
            ethertype = int.from_bytes(frame[offset + 2 : offset + 4], "big")
            offset += 4
        return _udp_from_ethertype(ethertype, frame[offset:])
    if linktype in (_LINK_RAW, _LINK_RAW_OPENBSD, _LINK_RAW_BSD, _LINK_IPV4, _LINK_IPV6):
        return _udp_from_ip(frame)
    if linktype == _LINK_LINUX_SLL:
        if len(frame) < 16:
            return None
        return _udp_from_ethertype(int.from_bytes(frame[14:16], "big"), frame[16:])
    if linktype == _LINK_LINUX_SLL2:
        if len(frame) < 20:
            return None
        return _udp_from_ethertype(int.from_bytes(frame[0:2], "big"), frame[20:])
    if linktype == _LINK_NULL:
        # BSD loopback: a 4-byte address family in the capturing host's byte order.
        return _udp_from_ip(frame[4:]) if len(frame) > 4 else None
    return None


def _udp_from_ethertype(ethertype: int, packet: bytes) -> _Addresses | None:
    if ethertype in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6):
        return _udp_from_ip(packet)
    return None


def _udp_from_ip(packet: bytes) -> _Addresses | None:
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        header_len = (packet[0] & 0x0F) * 4
        if header_len < 20 or len(packet) < header_len or packet[9] != _IPPROTO_UDP:
            return None
        flags_fragment = int.from_bytes(packet[6:8], "big")
        if flags_fragment & 0x3FFF:  # a fragment: the datagram is not whole here
            return None
        total_len = int.from_bytes(packet[2:4], "big")
        body = packet[header_len : max(total_len, header_len)]
        src_ip: str = str(ipaddress.IPv4Address(packet[12:16]))
        dst_ip: str = str(ipaddress.IPv4Address(packet[16:20]))
    elif version == 6:
        if len(packet) < 40 or packet[6] != _IPPROTO_UDP:
            return None
        payload_len = int.from_bytes(packet[4:6], "big")
        body = packet[40 : 40 + payload_len]
        src_ip = str(ipaddress.IPv6Address(packet[8:24]))
        dst_ip = str(ipaddress.IPv6Address(packet[24:40]))
    else:
        return None
    if len(body) < _UDP.size:
        return None
    sport, dport, udp_len, _ = _UDP.unpack_from(body)
    if udp_len < _UDP.size or udp_len > len(body):
        return None
    return (src_ip, sport), (dst_ip, dport), bytes(body[_UDP.size : udp_len])
