"""UDP datagrams out of pcap and pcapng captures (used by ``pbxedge decode``).

dpkt reads the container formats; the link, IP and UDP headers are unpacked here so that a
damaged packet is skipped instead of raising from deep inside a protocol decoder.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import dpkt

__all__ = ["CaptureError", "UdpDatagram", "read_udp"]

_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

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


class CaptureError(ValueError):
    """The file is not a readable pcap/pcapng capture."""


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

    Raises CaptureError when the file cannot be opened as a capture or is cut short.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the generator's finally
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror or exc}") from exc
    try:
        yield from _read(handle, str(path))
    finally:
        handle.close()


def _read(handle: BinaryIO, name: str) -> Iterator[UdpDatagram]:
    magic = handle.read(4)
    handle.seek(0)
    try:
        reader = dpkt.pcapng.Reader(handle) if magic == _PCAPNG_MAGIC else dpkt.pcap.Reader(handle)
        linktype = int(reader.datalink())
    except Exception as exc:  # dpkt raises assorted types for a bad header
        raise CaptureError(f"{name}: not a pcap or pcapng capture ({exc})") from exc
    packets = iter(reader)
    number = 0
    while True:
        try:
            timestamp, frame = next(packets)
        except StopIteration:
            return
        except Exception as exc:  # a truncated record at the end of a capture
            raise CaptureError(f"{name}: capture damaged after frame {number} ({exc})") from exc
        number += 1
        datagram = _udp_from_link(linktype, bytes(frame))
        if datagram is not None:
            src, dst, payload = datagram
            yield UdpDatagram(number, float(timestamp), src, dst, payload)


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
