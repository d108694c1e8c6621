"""Codec speed: µ-law <-> A-law transcoded frames per second (goal ≥ 50 000), slin -> µ-law."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from pbxedge.media import g711
from pbxedge.media.formats import Format
from pbxedge.media.translate import Translator

_FRAMES = 200_000


def _rate(label: str, count: int, work: Callable[[], None]) -> str:
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    return f"media: {label}: {count / elapsed:,.0f}/s ({count} in {elapsed:.2f} s)"


def run() -> list[str]:
    rng = np.random.default_rng(1)
    ulaw = bytes(rng.integers(0, 256, 160, dtype=np.uint8))
    pcm = (rng.normal(0, 3000, 160)).astype(np.int16)
    slin_wire = pcm.astype(">i2").tobytes()
    to_alaw, to_ulaw = Translator(Format.ULAW, Format.ALAW), Translator(Format.ALAW, Format.ULAW)
    slin_to_ulaw = Translator(Format.SLIN, Format.ULAW)
    ulaw_to_g722 = Translator(Format.ULAW, Format.G722)
    slow = _FRAMES // 20

    def transcode() -> None:
        for _ in range(_FRAMES // 2):
            to_ulaw.convert(to_alaw.convert(ulaw))

    def encode() -> None:
        for _ in range(_FRAMES):
            g711.ulaw_encode(pcm)

    def translate_slin() -> None:
        for _ in range(_FRAMES):
            slin_to_ulaw.convert(slin_wire)

    def translate_g722() -> None:
        for _ in range(slow):
            ulaw_to_g722.convert(ulaw)

    return [
        _rate("µ-law<->A-law Translator, 160-byte frames", _FRAMES, transcode),
        _rate("slin->µ-law encode (numpy int16[160])", _FRAMES, encode),
        _rate("slin->µ-law Translator (320-byte big-endian payload)", _FRAMES, translate_slin),
        _rate("µ-law->G.722 Translator (via slin, G.722 narrowband encoder)", slow, translate_g722),
    ]


if __name__ == "__main__":
    print("\n".join(run()))
