"""GSM 06.10 full rate through Debian's libgsm (package ``libgsm1``), and MS-GSM repacking.

No maintained Python binding exists, so this is a thin ctypes one (nothing to compile at
install). A frame is 33 bytes holding 160 samples: the nibble 0xD, then 260 bits of codec
parameters, most significant bit first. Microsoft's "WAV #49" layout (Asterisk's ``.WAV`` and
``.wav49`` files) packs the same parameters of two frames into a 65-byte block, least
significant bit first and without the nibble, so converting between the two is a lossless
reordering of bits, which is how Asterisk reads and writes those files.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import weakref
from typing import Final

import numpy as np
import numpy.typing as npt

from pbxedge.media.formats import PayloadError

FRAME_BYTES: Final = 33
FRAME_SAMPLES: Final = 160
MSGSM_BLOCK_BYTES: Final = 65

_MAGIC: Final = 0xD
_OPT_WAV49: Final = 4  # GSM_OPT_WAV49 of gsm.h


class CodecUnavailableError(RuntimeError):
    """The shared library a codec needs is not installed."""


_lib: ctypes.CDLL | None = None


def _library() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("gsm") or "libgsm.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise CodecUnavailableError(
                f"GSM needs libgsm ({name}): install the Debian package libgsm1"
            ) from exc
        lib.gsm_create.restype = ctypes.c_void_p
        lib.gsm_create.argtypes = []
        lib.gsm_destroy.restype = None
        lib.gsm_destroy.argtypes = [ctypes.c_void_p]
        lib.gsm_option.restype = ctypes.c_int
        lib.gsm_option.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.gsm_encode.restype = None
        lib.gsm_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p]
        lib.gsm_decode.restype = ctypes.c_int
        lib.gsm_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
        _lib = lib
    return _lib


class GsmState:
    """One libgsm encoder/decoder state (a stream keeps its own: the codec has memory).

    With ``wav49=True`` libgsm itself writes and reads the MS-GSM layout, alternately 32 and
    33 bytes per call when encoding and 33 then 32 when decoding (a state serves one direction);
    pbxedge repacks with `msgsm_to_frames` instead, and uses this only to
    check that repacking against the library.
    """

    def __init__(self, *, wav49: bool = False) -> None:
        lib = _library()
        handle = lib.gsm_create()
        if not handle:
            raise MemoryError("gsm_create failed")
        self._lib = lib
        self._handle = ctypes.c_void_p(handle)
        self._wav49 = wav49
        self._half = 0
        weakref.finalize(self, lib.gsm_destroy, self._handle)
        if wav49:
            lib.gsm_option(self._handle, _OPT_WAV49, ctypes.byref(ctypes.c_int(1)))

    def encode(self, pcm: npt.NDArray[np.int16]) -> bytes:
        """160 samples -> one 33-byte frame (MS-GSM: 32 then 33 bytes, alternately)."""
        if pcm.shape != (FRAME_SAMPLES,):
            raise ValueError(f"GSM encodes exactly {FRAME_SAMPLES} samples, not {pcm.shape}")
        samples = np.ascontiguousarray(pcm, dtype=np.int16)
        out = ctypes.create_string_buffer(FRAME_BYTES)
        self._lib.gsm_encode(self._handle, samples.ctypes.data, out)
        size = FRAME_BYTES
        if self._wav49:
            self._half ^= 1
            size = FRAME_BYTES - self._half
        return out.raw[:size]

    def decode(self, frame: bytes) -> npt.NDArray[np.int16]:
        """One frame -> 160 samples; PayloadError for a frame libgsm refuses (bad nibble)."""
        expected = FRAME_BYTES - self._half
        if len(frame) != expected:
            raise PayloadError(f"GSM frame of {len(frame)} bytes, expected {expected}")
        if self._wav49:
            self._half ^= 1
        out = np.empty(FRAME_SAMPLES, dtype=np.int16)
        if self._lib.gsm_decode(self._handle, frame, out.ctypes.data):
            raise PayloadError(f"invalid GSM frame {frame[:4].hex()}…")
        return out


# Bit widths of the 76 parameters of a frame: LARc[0..7], then per 5 ms subframe Nc, bc, Mc,
# xmaxc and 13 xMc values.
_WIDTHS: Final = [6, 6, 5, 5, 4, 4, 3, 3] + ([7, 2, 2, 6] + [3] * 13) * 4


def _msgsm_bit_positions() -> npt.NDArray[np.intp]:
    """For each bit of a standard frame after the nibble (MSB-first), its index in the
    parameter bits of one MS-GSM half (LSB-first)."""
    positions: list[int] = []
    offset = 0
    for width in _WIDTHS:
        positions.extend(offset + width - 1 - i for i in range(width))
        offset += width
    return np.array(positions, dtype=np.intp)


_TO_STANDARD: Final = _msgsm_bit_positions()
_TO_MSGSM: Final = np.argsort(_TO_STANDARD)
_MAGIC_BITS: Final = np.unpackbits(np.array([_MAGIC << 4], dtype=np.uint8))[:4]


def msgsm_to_frames(blocks: bytes) -> bytes:
    """65-byte MS-GSM blocks -> twice as many 33-byte standard frames."""
    if len(blocks) % MSGSM_BLOCK_BYTES:
        raise PayloadError(f"MS-GSM data of {len(blocks)} bytes is not whole 65-byte blocks")
    raw = np.frombuffer(blocks, dtype=np.uint8).reshape(-1, MSGSM_BLOCK_BYTES)
    halves = np.unpackbits(raw, axis=1, bitorder="little").reshape(-1, 260)
    frames = np.empty((halves.shape[0], 264), dtype=np.uint8)
    frames[:, :4] = _MAGIC_BITS
    frames[:, 4:] = halves[:, _TO_STANDARD]
    return np.packbits(frames, axis=1).tobytes()


def frames_to_msgsm(frames: bytes) -> bytes:
    """An even number of 33-byte standard frames -> 65-byte MS-GSM blocks."""
    if len(frames) % (2 * FRAME_BYTES):
        raise PayloadError(f"{len(frames)} bytes are not whole pairs of GSM frames")
    raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, FRAME_BYTES)
    params = np.unpackbits(raw, axis=1)[:, 4:]
    halves = params[:, _TO_MSGSM].reshape(-1, 520)
    return np.packbits(halves, axis=1, bitorder="little").tobytes()
