"""A tiny classic-pcap writer for tests: IPv4/UDP datagrams with LINKTYPE_RAW or Ethernet."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

__all__ = ["LINKTYPE_ETHERNET", "LINKTYPE_RAW", "Datagram", "write_pcap"]

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

Datagram = tuple[tuple[str, int], tuple[str, int], bytes]  # src, dst, UDP payload

_GLOBAL_HEADER = struct.Struct("<IHHiIII")
_RECORD_HEADER = struct.Struct("<IIII")
_PCAP_MAGIC = 0xA1B2C3D4


def _ipv4(host: str) -> bytes:
    return bytes(int(part) for part in host.split("."))


def _checksum(header: bytes) -> int:
    total = int(sum(struct.unpack(f"!{len(header) // 2}H", header)))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_packet(src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> bytes:
    """An IPv4 packet carrying *payload* in UDP (UDP checksum 0 = not computed)."""
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, _ipv4(src[0]), _ipv4(dst[0])
    )
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return header + udp


def write_pcap(path: Path, datagrams: Iterable[Datagram], linktype: int = LINKTYPE_RAW) -> Path:
    """Write *datagrams* one per record, 20 ms apart."""
    records = [_GLOBAL_HEADER.pack(_PCAP_MAGIC, 2, 4, 0, 0, 65535, linktype)]
    for index, (src, dst, payload) in enumerate(datagrams):
        packet = udp_packet(src, dst, payload)
        if linktype == LINKTYPE_ETHERNET:
            packet = bytes(12) + b"\x08\x00" + packet
        usec = 1_700_000_000 * 1_000_000 + index * 20_000
        records.append(
            _RECORD_HEADER.pack(usec // 1_000_000, usec % 1_000_000, len(packet), len(packet))
        )
        records.append(packet)
    path.write_bytes(b"".join(records))
    return path
