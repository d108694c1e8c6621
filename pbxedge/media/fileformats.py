"""Asterisk's sound files: reading them as Asterisk plays them, writing them as Record does.

The formats are those of Asterisk's ``formats/`` modules (``format_wav``, ``format_wav_gsm``,
``format_gsm``, ``format_pcm``, ``format_sln``). The ``soundfile`` library is not used: these
files need exact byte control that it does not give — Asterisk's WAV reader stops early (see
`_asterisk_wav_audio_end`), refuses 16 kHz ``.wav``, skips chunks without RIFF padding;
``.WAV`` holds MS-GSM that must be repacked losslessly, not re-encoded; raw files have no header
at all; and Record's headers must be byte-identical to Asterisk's.

Audio read from a file is handed out as payloads in the IAX2 wire convention of its format
(`pbxedge.media.formats`), cut as Asterisk's readers cut it, so a ``.ulaw`` frame can go to a
µ-law call untouched. Writers take payloads in the same convention.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final

import numpy as np

from pbxedge.media import gsm
from pbxedge.media.formats import Format


class SoundFileError(ValueError):
    """A sound file Asterisk would not play or append to (bad header, wrong rate, …)."""


class FileFormat(StrEnum):
    """Asterisk's file formats by name, in the order its format modules register them."""

    GSM = "gsm"
    PCM = "pcm"
    ALAW = "alaw"
    G722 = "g722"
    SLN = "sln"
    SLN16 = "sln16"
    WAV = "wav"
    WAV16 = "wav16"
    WAV49 = "wav49"

    @property
    def media(self) -> Format:
        """The media format of the audio the file holds."""
        return _MEDIA[self]

    @property
    def extensions(self) -> tuple[str, ...]:
        """File name extensions, case-sensitive (``.WAV`` is MS-GSM, ``.wav`` is slin)."""
        return _EXTENSIONS[self]

    @property
    def read_bytes(self) -> int:
        """Payload bytes per frame Asterisk reads (20 ms; the last frame may be shorter)."""
        return self.media.frame_bytes

    @staticmethod
    def from_extension(extension: str) -> FileFormat | None:
        return _BY_EXTENSION.get(extension.removeprefix("."))

    @staticmethod
    def of_path(path: str | os.PathLike[str]) -> FileFormat:
        suffix = Path(path).suffix
        found = FileFormat.from_extension(suffix)
        if found is None:
            raise SoundFileError(f"{path}: {suffix or 'no extension'} is not a sound file format")
        return found


_MEDIA: Final = {
    FileFormat.GSM: Format.GSM,
    FileFormat.PCM: Format.ULAW,
    FileFormat.ALAW: Format.ALAW,
    FileFormat.G722: Format.G722,
    FileFormat.SLN: Format.SLIN,
    FileFormat.SLN16: Format.SLIN16,
    FileFormat.WAV: Format.SLIN,
    FileFormat.WAV16: Format.SLIN16,
    FileFormat.WAV49: Format.GSM,
}
_EXTENSIONS: Final = {
    FileFormat.GSM: ("gsm",),
    FileFormat.PCM: ("pcm", "ulaw", "ul", "mu", "ulw"),
    FileFormat.ALAW: ("alaw", "al", "alw"),
    FileFormat.G722: ("g722",),
    FileFormat.SLN: ("sln", "slin", "raw"),
    FileFormat.SLN16: ("sln16",),
    FileFormat.WAV: ("wav",),
    FileFormat.WAV16: ("wav16",),
    FileFormat.WAV49: ("WAV", "wav49"),
}
_BY_EXTENSION: Final = {ext: fmt for fmt, exts in _EXTENSIONS.items() for ext in exts}

_WAV_RATE: Final = {FileFormat.WAV: 8000, FileFormat.WAV16: 16000}
_WAV_HEADER_BYTES: Final = 44
_WAV49_HEADER_BYTES: Final = 60
_WAV49_BLOCK_SAMPLES: Final = 320
# Offsets of the size fields of each header, by header length.
_SIZE_FIELDS: Final = {_WAV_HEADER_BYTES: (4, 40), _WAV49_HEADER_BYTES: (4, 48, 56)}


@dataclass(frozen=True)
class SoundFile:
    """The playable audio of a sound file, as wire-convention payload of ``format``."""

    path: Path
    file_format: FileFormat
    payload: bytes

    @property
    def format(self) -> Format:
        return self.file_format.media

    @property
    def samples(self) -> int:
        return self.format.samples_in(len(self.payload))

    def frames(self) -> Iterator[bytes]:
        """The frames Asterisk would play, in order: 20 ms each, the last possibly shorter."""
        size = self.file_format.read_bytes
        for start in range(0, len(self.payload), size):
            yield self.payload[start : start + size]


def read_sound(path: str | os.PathLike[str], file_format: FileFormat | None = None) -> SoundFile:
    """Read a whole sound file; the format comes from the extension unless given.

    Raises `SoundFileError` for a file Asterisk would refuse, OSError if it cannot be read.
    """
    path = Path(path)
    fmt = file_format or FileFormat.of_path(path)
    data = path.read_bytes()
    try:
        if fmt in _WAV_RATE:
            audio = _read_wav(data, _WAV_RATE[fmt])
        elif fmt is FileFormat.WAV49:
            audio = _read_wav49(data)
        else:
            audio = data
    except SoundFileError as exc:
        raise SoundFileError(f"{path}: {exc}") from None
    return SoundFile(path, fmt, _file_to_wire(fmt, audio))


def _file_to_wire(fmt: FileFormat, audio: bytes) -> bytes:
    """File bytes -> whole units of wire payload (a trailing partial unit is never played)."""
    media = fmt.media
    audio = audio[: len(audio) - len(audio) % media.unit_bytes]
    if media is Format.SLIN:
        return _swap16(audio)
    return audio


def _swap16(data: bytes) -> bytes:
    """Little-endian 16-bit samples (files) <-> big-endian (slin on the IAX2 wire)."""
    return np.frombuffer(data, dtype="<i2").astype(">i2").tobytes()


class _Cursor:
    """Reads a header the way Asterisk's readers do, failing cleanly at the end of the data."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise SoundFileError(f"truncated header (reading {what})")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def u16(self, what: str) -> int:
        value: int = struct.unpack("<H", self.take(2, what))[0]
        return value

    def i32(self, what: str) -> int:
        value: int = struct.unpack("<i", self.take(4, what))[0]
        return value


def _riff_wave(data: bytes) -> _Cursor:
    cur = _Cursor(data)
    if cur.take(4, "RIFF") != b"RIFF":
        raise SoundFileError("does not begin with RIFF")
    cur.take(4, "RIFF size")
    if cur.take(4, "WAVE") != b"WAVE":
        raise SoundFileError("does not contain WAVE")
    return cur


def _read_wav(data: bytes, rate: int) -> bytes:
    """``format_wav.c:check_header``: RIFF/WAVE, then chunks until ``data``; ``fmt `` is checked
    when met (PCM, mono, the rate of the extension, 2-byte blocks). Other chunks are skipped by
    their length without RIFF's pad byte, as Asterisk does."""
    cur = _riff_wave(data)
    while True:
        chunk = cur.take(4, "chunk id")
        length = cur.i32("chunk length")
        if chunk == b"data":
            break
        if length < 0:
            # Asterisk would seek backwards here and may loop forever.
            raise SoundFileError(f"chunk {chunk!r} with negative length {length}")
        if chunk == b"fmt ":
            _check_wav_fmt(cur, length, rate)
        else:
            cur.take(length, f"chunk {chunk!r}")
    if length < 0:
        raise SoundFileError(f"data chunk with negative length {length}")
    return data[cur.pos : _asterisk_wav_audio_end(length, len(data))]


def _check_wav_fmt(cur: _Cursor, length: int, rate: int) -> None:
    if length < 16:
        raise SoundFileError(f"fmt chunk of {length} bytes")
    if (tag := cur.u16("format")) != 1:
        raise SoundFileError(f"not PCM (format tag {tag})")
    if (channels := cur.u16("channels")) != 1:
        raise SoundFileError(f"not mono ({channels} channels)")
    if (freq := cur.i32("sample rate")) != rate:
        hint = " (a 16 kHz file must be named .wav16)" if freq == 16000 else ""
        raise SoundFileError(f"sample rate {freq} Hz, expected {rate}{hint}")
    cur.take(4, "byte rate")
    if (block := cur.u16("block align")) != 2:
        raise SoundFileError(f"block align {block}: only 16-bit samples are played")
    cur.take(2, "bits per sample")
    cur.take(length - 16, "fmt extension")


def _asterisk_wav_audio_end(data_length: int, file_size: int) -> int:
    """Where Asterisk stops playing a WAV: the data chunk's *length* compared with the *file
    offset* (``format_wav.c:wav_read``), so the last header-size bytes of audio (44 bytes, 22
    samples, for a plain header) are never played. Playback must match Asterisk sample for
    sample, so this is reproduced on purpose."""
    return min(data_length, file_size)


def _read_wav49(data: bytes) -> bytes:
    """``format_wav_gsm.c:check_header``: the fixed 60-byte header Asterisk writes; the data
    chunk's length is not used, every whole 65-byte block after the header is played."""
    cur = _riff_wave(data)
    if cur.take(4, "fmt") != b"fmt ":
        raise SoundFileError("does not say fmt")
    if (size := cur.i32("fmt size")) != 20:
        raise SoundFileError(f"unexpected fmt size {size}")
    if (tag := cur.u16("format")) != 49:
        raise SoundFileError(f"not MS-GSM (format tag {tag})")
    if (channels := cur.u16("channels")) != 1:
        raise SoundFileError(f"not mono ({channels} channels)")
    if (freq := cur.i32("sample rate")) != 8000:
        raise SoundFileError(f"sample rate {freq} Hz, expected 8000")
    cur.take(12, "byte rate and block fields")
    if cur.take(4, "fact") != b"fact":
        raise SoundFileError("does not say fact")
    cur.take(8, "fact chunk")
    if cur.take(4, "data") != b"data":
        raise SoundFileError("does not say data")
    cur.take(4, "data length")
    body = data[cur.pos :]
    return gsm.msgsm_to_frames(body[: len(body) - len(body) % gsm.MSGSM_BLOCK_BYTES])


def wav_header(rate: int, data_bytes: int) -> bytes:
    """The 44-byte header ``format_wav.c`` writes (16-bit mono PCM)."""
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16,
        b"data", data_bytes,
    )  # fmt: skip


def wav49_header(data_bytes: int) -> bytes:
    """The 60-byte header ``format_wav_gsm.c`` writes (sizes as its ``update_header``)."""
    padded = (data_bytes + 1) & ~1
    samples = data_bytes // gsm.MSGSM_BLOCK_BYTES * _WAV49_BLOCK_SAMPLES
    return struct.pack(
        "<4sI4s4sIHHIIHHHH4sII4sI",
        b"RIFF", _WAV49_HEADER_BYTES - 8 + padded, b"WAVE", b"fmt ", 20, 49, 1, 8000, 1625,
        gsm.MSGSM_BLOCK_BYTES, 0, 2, _WAV49_BLOCK_SAMPLES, b"fact", 4, samples, b"data", padded,
    )  # fmt: skip


def _without_sizes(header: bytes) -> bytes:
    for start in _SIZE_FIELDS[len(header)]:
        header = header[:start] + bytes(4) + header[start + 4 :]
    return header


class SoundWriter:
    """Writes a sound file as Asterisk's Record does, from wire-convention payloads.

    The header of ``.wav``/``.wav16``/``.WAV`` is rewritten after every write (Asterisk does it
    only on close), so a recording is a valid file even if the process is killed. ``.WAV``
    stores frames in pairs: an unpaired last frame is dropped on close, as Asterisk does.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        file_format: FileFormat | None = None,
        *,
        append: bool = False,
    ) -> None:
        self.path = Path(path)
        self.file_format = file_format or FileFormat.of_path(self.path)
        self._half = b""  # MS-GSM: a frame waiting for its pair
        self._file: BinaryIO = open(self.path, "r+b" if append and self.path.exists() else "w+b")  # noqa: SIM115
        try:
            self._header_bytes = self._start(append)
        except BaseException:
            self._file.close()
            raise

    @property
    def format(self) -> Format:
        return self.file_format.media

    def _start(self, append: bool) -> int:
        fmt = self.file_format
        size = self._file.seek(0, os.SEEK_END)
        if fmt is FileFormat.WAV49:
            header = _WAV49_HEADER_BYTES
        elif fmt in _WAV_RATE:
            header = _WAV_HEADER_BYTES
        else:
            return 0
        if append and size:
            self._check_appendable(size, header)
        else:
            self._file.write(self._header(0))
        return header

    def _check_appendable(self, size: int, header: int) -> None:
        """Appending needs the header this writer would have written, sizes aside."""
        self._file.seek(0)
        existing = self._file.read(header)
        if len(existing) < header or _without_sizes(existing) != _without_sizes(self._header(0)):
            raise SoundFileError(f"{self.path}: cannot append to a header Asterisk did not write")
        if (size - header) % 2:
            self._file.truncate(size - 1)  # the pad byte after an odd number of .WAV blocks

    def _header(self, data_bytes: int) -> bytes:
        if self.file_format is FileFormat.WAV49:
            return wav49_header(data_bytes)
        return wav_header(_WAV_RATE[self.file_format], data_bytes)

    def write(self, payload: bytes) -> None:
        """Append one payload; `PayloadError` if it is not whole units of the format."""
        self.format.check_payload(payload)
        fmt = self.file_format
        if fmt is FileFormat.WAV49:
            frames = self._half + payload
            pairs = len(frames) - len(frames) % (2 * gsm.FRAME_BYTES)
            self._half = frames[pairs:]
            data = gsm.frames_to_msgsm(frames[:pairs])
        elif self.format is Format.SLIN:
            data = _swap16(payload)
        else:
            data = payload
        if data:
            self._file.seek(0, os.SEEK_END)
            self._file.write(data)
            self._update_header()

    def _update_header(self) -> None:
        if not self._header_bytes:
            return
        end = self._file.seek(0, os.SEEK_END)
        self._file.seek(0)
        self._file.write(self._header(end - self._header_bytes))
        self._file.seek(end)

    @property
    def samples(self) -> int:
        """Samples in the file so far (with a ``.WAV`` frame waiting for its pair)."""
        data = self._file.seek(0, os.SEEK_END) - self._header_bytes
        if self.file_format is FileFormat.WAV49:
            blocks = data // gsm.MSGSM_BLOCK_BYTES
            return blocks * _WAV49_BLOCK_SAMPLES + self.format.samples_in(len(self._half))
        return self.format.samples_in(data)

    def trim_end(self, samples: int) -> None:
        """Cut the last ``samples`` samples (Record's trimming of silence or a DTMF tail),
        rounded down to whole codec units (a 320-sample block for ``.WAV``)."""
        if samples <= 0:
            return
        if self.file_format is FileFormat.WAV49:
            if self._half and samples >= gsm.FRAME_SAMPLES:
                self._half = b""
                samples -= gsm.FRAME_SAMPLES
            cut = samples // _WAV49_BLOCK_SAMPLES * gsm.MSGSM_BLOCK_BYTES
        else:
            cut = self.format.bytes_for(samples)
        end = self._file.seek(0, os.SEEK_END)
        self._file.truncate(max(self._header_bytes, end - cut))
        self._update_header()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        """Finish the file (``.WAV`` is padded to an even length, as Asterisk does)."""
        if self._file.closed:
            return
        try:
            if self.file_format is FileFormat.WAV49:
                end = self._file.seek(0, os.SEEK_END)
                if end % 2:
                    self._file.write(b"\0")
        finally:
            self._file.close()

    def __enter__(self) -> SoundWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
