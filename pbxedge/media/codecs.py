"""Per-stream encoders and decoders between numpy int16 PCM and wire payloads of a Format.

PCM is at the format's sample rate, except that G.722 can also work on 8 kHz PCM (its
narrowband mode, which Asterisk's direct g722<->slin translators use). Encoders keep what
does not fill a codec unit (a GSM frame, a G.722 sample pair) for the next call; decoders take
any whole number of units and raise `PayloadError` for anything else, before touching state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import G722
import numpy as np
import numpy.typing as npt

from pbxedge.media import g711, gsm
from pbxedge.media.formats import Format, PayloadError

Pcm = npt.NDArray[np.int16]

_G722_BIT_RATE = 64000
_EMPTY: Pcm = np.zeros(0, dtype=np.int16)
_EMPTY.flags.writeable = False


class Decoder(ABC):
    """Payload bytes of ``format`` -> PCM at ``rate``."""

    def __init__(self, fmt: Format, rate: int) -> None:
        self.format = fmt
        self.rate = rate

    @abstractmethod
    def decode(self, payload: bytes) -> Pcm: ...


class Encoder(ABC):
    """PCM at ``rate`` -> payload bytes of ``format``."""

    def __init__(self, fmt: Format, rate: int) -> None:
        self.format = fmt
        self.rate = rate

    @abstractmethod
    def encode(self, pcm: Pcm) -> bytes: ...


def make_decoder(fmt: Format, rate: int | None = None) -> Decoder:
    rate = _check_rate(fmt, rate)
    match fmt:
        case Format.ULAW:
            return _TableDecoder(fmt, g711.ULAW_DECODE)
        case Format.ALAW:
            return _TableDecoder(fmt, g711.ALAW_DECODE)
        case Format.SLIN | Format.SLIN16:
            return _LinearDecoder(fmt)
        case Format.G722:
            return _G722Decoder(rate)
        case Format.GSM:
            return _GsmDecoder()


def make_encoder(fmt: Format, rate: int | None = None) -> Encoder:
    rate = _check_rate(fmt, rate)
    match fmt:
        case Format.ULAW:
            return _TableEncoder(fmt, g711.ULAW_ENCODE)
        case Format.ALAW:
            return _TableEncoder(fmt, g711.ALAW_ENCODE)
        case Format.SLIN | Format.SLIN16:
            return _LinearEncoder(fmt)
        case Format.G722:
            return _G722Encoder(rate)
        case Format.GSM:
            return _GsmEncoder()


def _check_rate(fmt: Format, rate: int | None) -> int:
    if rate is None or rate == fmt.sample_rate:
        return fmt.sample_rate
    if fmt is Format.G722 and rate == 8000:
        return rate
    raise ValueError(f"{fmt} cannot work on PCM at {rate} Hz")


def _check_pcm(pcm: Pcm) -> Pcm:
    if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
        raise TypeError("PCM must be a one-dimensional numpy int16 array")
    return pcm


# slin travels big-endian on the IAX2 wire; slin16 in x86 Asterisk's host order.
_WIRE_DTYPE = {Format.SLIN: np.dtype(">i2"), Format.SLIN16: np.dtype("<i2")}


class _TableDecoder(Decoder):
    def __init__(self, fmt: Format, table: Pcm) -> None:
        super().__init__(fmt, fmt.sample_rate)
        self._table = table

    def decode(self, payload: bytes) -> Pcm:
        return self._table[np.frombuffer(payload, dtype=np.uint8)]


class _TableEncoder(Encoder):
    def __init__(self, fmt: Format, table: npt.NDArray[np.uint8]) -> None:
        super().__init__(fmt, fmt.sample_rate)
        self._table = table

    def encode(self, pcm: Pcm) -> bytes:
        return bytes(self._table[_check_pcm(pcm).view(np.uint16)])


class _LinearDecoder(Decoder):
    def __init__(self, fmt: Format) -> None:
        super().__init__(fmt, fmt.sample_rate)
        self._dtype = _WIRE_DTYPE[fmt]

    def decode(self, payload: bytes) -> Pcm:
        self.format.check_payload(payload)
        return np.frombuffer(payload, dtype=self._dtype).astype(np.int16)


class _LinearEncoder(Encoder):
    def __init__(self, fmt: Format) -> None:
        super().__init__(fmt, fmt.sample_rate)
        self._dtype = _WIRE_DTYPE[fmt]

    def encode(self, pcm: Pcm) -> bytes:
        return _check_pcm(pcm).astype(self._dtype).tobytes()


class _G722Decoder(Decoder):
    def __init__(self, rate: int) -> None:
        super().__init__(Format.G722, rate)
        self._codec = G722.G722(rate, _G722_BIT_RATE)

    def decode(self, payload: bytes) -> Pcm:
        if not payload:
            return _EMPTY
        return np.frombuffer(self._codec.decode(payload), dtype=np.int16)


class _G722Encoder(Encoder):
    """At 16 kHz a code byte covers two samples: an odd one waits for the next call."""

    def __init__(self, rate: int) -> None:
        super().__init__(Format.G722, rate)
        self._codec = G722.G722(rate, _G722_BIT_RATE)
        self._pair = 2 if rate == 16000 else 1
        self._pending = _EMPTY

    def encode(self, pcm: Pcm) -> bytes:
        pcm = _check_pcm(pcm)
        if len(self._pending):
            pcm = np.concatenate([self._pending, pcm])
        usable = len(pcm) - len(pcm) % self._pair
        self._pending = pcm[usable:].copy()
        if not usable:
            return b""
        encoded: bytes = self._codec.encode(np.ascontiguousarray(pcm[:usable]))
        return encoded


class _GsmDecoder(Decoder):
    def __init__(self) -> None:
        super().__init__(Format.GSM, Format.GSM.sample_rate)
        self._state = gsm.GsmState()

    def decode(self, payload: bytes) -> Pcm:
        # As Asterisk's codec_gsm: a payload of whole 65-byte blocks is taken as MS-GSM.
        if payload and len(payload) % gsm.MSGSM_BLOCK_BYTES == 0:
            payload = gsm.msgsm_to_frames(payload)
        Format.GSM.check_payload(payload)
        frames = [payload[i : i + gsm.FRAME_BYTES] for i in range(0, len(payload), gsm.FRAME_BYTES)]
        if any(frame[0] >> 4 != 0xD for frame in frames):
            raise PayloadError("GSM payload with a frame that does not start with 0xD")
        if not frames:
            return _EMPTY
        return np.concatenate([self._state.decode(frame) for frame in frames])


class _GsmEncoder(Encoder):
    def __init__(self) -> None:
        super().__init__(Format.GSM, Format.GSM.sample_rate)
        self._state = gsm.GsmState()
        self._pending = _EMPTY

    def encode(self, pcm: Pcm) -> bytes:
        pcm = _check_pcm(pcm)
        if len(self._pending):
            pcm = np.concatenate([self._pending, pcm])
        whole = len(pcm) - len(pcm) % gsm.FRAME_SAMPLES
        self._pending = pcm[whole:].copy()
        return b"".join(
            self._state.encode(pcm[i : i + gsm.FRAME_SAMPLES])
            for i in range(0, whole, gsm.FRAME_SAMPLES)
        )
