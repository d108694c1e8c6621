"""Wire-layer speed: datagrams decoded and encoded per second, AES transform rate."""

from __future__ import annotations

import time
from collections.abc import Callable

from pbxedge.iax2.crypto import AesTransform
from pbxedge.iax2.enums import FrameType
from pbxedge.iax2.frames import Frame, FullFrame, MiniFrame, parse_datagram

# A realistic mix: one signalling frame with IEs for every nine 20 ms µ-law mini frames.
_NEW = bytes.fromhex(
    "ae88000000000002000006010b02000201033630302d0448444543260143270100280200003904000000"
    "000a02656e06076d643570656572090400000040380900000000000000004008040000004e3709000000"
    "00000000004e0c0200021f04357b2b0c3600"
)
_REGACK = bytes.fromhex(
    "b4022188000000110102060f0607656e63706565721f04357b2aeb1302003c1210020011db7f000001"
    "00000000000000000204313030340408456e632050656572"
)
_MINIS = [MiniFrame(0x15C1, 40 + 20 * i, bytes([i]) * 160).encode() for i in range(9)]
_MIX = [_NEW, *_MINIS[:4], _REGACK, *_MINIS[4:]]
_ROUNDS = 20_000


def _rate(label: str, count: int, work: Callable[[], None]) -> str:
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    return f"wire: {label}: {count / elapsed:,.0f}/s ({count} in {elapsed:.2f} s)"


def _decode_all() -> None:
    for _ in range(_ROUNDS):
        for data in _MIX:
            frame = parse_datagram(data)
            if isinstance(frame, FullFrame) and frame.frametype == FrameType.IAX:
                frame.ies()


def run() -> list[str]:
    frames: list[Frame] = [parse_datagram(d) for d in _MIX]
    count = _ROUNDS * len(_MIX)

    def encode_all() -> None:
        for _ in range(_ROUNDS):
            for frame in frames:
                frame.encode()

    aes = AesTransform(bytes(range(16)))
    encrypted = aes.encrypt_mini(_MINIS[0])
    aes_rounds = _ROUNDS * 2

    def aes_roundtrips() -> None:
        for _ in range(aes_rounds):
            aes.decrypt_mini(aes.encrypt_mini(_MINIS[0]))

    assert aes.decrypt_mini(encrypted) == _MINIS[0]
    return [
        _rate("decode (1 NEW/REGACK with IEs per 4.5 mini frames)", count, _decode_all),
        _rate("encode (same mix)", count, encode_all),
        _rate("AES mini frame encrypt+decrypt", aes_rounds, aes_roundtrips),
    ]


if __name__ == "__main__":
    print("\n".join(run()))
