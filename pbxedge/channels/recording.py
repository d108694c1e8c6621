"""A recording in progress: incoming frames into a sound file, as app_record writes it.

Asterisk trims the end of a recording after the fact (rewinding the file): on silence it
keeps one second of it, on a terminating key it cuts the last 250 ms. Here the most recent
audio waits in memory until it can no longer be cut, so the file never needs rewinding and
what is on disk is always a valid file.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

from dialplan.channel import RecordRequest, RecordStatus
from pbxedge.channels.voice import VoiceFrame
from pbxedge.media.codecs import Decoder, make_decoder
from pbxedge.media.dsp import SilenceDetector
from pbxedge.media.fileformats import FileFormat, SoundFileError, SoundWriter
from pbxedge.media.formats import Format, PayloadError
from pbxedge.media.translate import Translator

__all__ = ["DTMF_TRIM_MS", "Recording"]

DTMF_TRIM_MS = 250  # app_record cuts this much before a terminating key
_SILENCE_KEPT_MS = 1000  # ... and keeps this much of a silence that ended the recording


@dataclass(slots=True)
class _Chunk:
    payload: bytes  # in the file's format
    samples: int  # in the file's format
    ms: float


class Recording:
    def __init__(self, request: RecordRequest, path: Path) -> None:
        self._request = request
        file_format = FileFormat.from_extension(request.fmt)
        if file_format is None:
            raise SoundFileError(f"unknown format '{request.fmt}'")
        self._sound = SoundWriter(path, file_format, append=request.append)
        self._path = path
        self._to_file: dict[Format, Translator] = {}
        self._decoders: dict[Format, Decoder] = {}
        self._silence = SilenceDetector(rate=8000)
        self._silence_limit_ms = (request.silence or 0) * 1000
        hold = DTMF_TRIM_MS
        if self._silence_limit_ms and not request.keep_silence:
            hold = max(hold, int(self._silence_limit_ms - _SILENCE_KEPT_MS) + 20)
        self._hold_ms = hold
        self._held: deque[_Chunk] = deque()
        self._held_ms = 0.0
        self.samples = 0

    @classmethod
    def open(cls, request: RecordRequest) -> Recording:
        path = Path(request.path + "." + request.fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(request, path)

    def add(self, frame: VoiceFrame) -> bool:
        """Take one received frame (in whatever format the peer sends now); True when the
        silence limit has been reached."""
        if not frame.payload:
            return False
        fmt = frame.fmt
        ms = frame.samples * 1000 / fmt.sample_rate
        try:
            payload = self._in_file_format(frame)
        except PayloadError:
            return False  # a broken frame is not recorded
        samples = self._sound.format.samples_in(len(payload))
        self._held.append(_Chunk(payload, samples, ms))
        self._held_ms += ms
        while self._held and self._held_ms - self._held[0].ms >= self._hold_ms:
            self._write(self._held.popleft())
        if not self._silence_limit_ms:
            return False
        decoder = self._decoders.get(fmt)
        if decoder is None:
            decoder = self._decoders[fmt] = make_decoder(fmt, 8000 if fmt is Format.G722 else None)
        pcm = decoder.decode(frame.payload)
        self._silence.feed(pcm[::2] if decoder.rate == 16000 else pcm)  # the level at 8 kHz
        return self._silence.total_silence_ms > self._silence_limit_ms

    def _in_file_format(self, frame: VoiceFrame) -> bytes:
        if frame.fmt is self._sound.format:
            return frame.payload
        translator = self._to_file.get(frame.fmt)
        if translator is None:
            translator = self._to_file[frame.fmt] = Translator(frame.fmt, self._sound.format)
        return translator.convert(frame.payload)

    def _write(self, chunk: _Chunk) -> None:
        self._held_ms -= chunk.ms
        self._sound.write(chunk.payload)
        self.samples += chunk.samples

    def close(self, status: RecordStatus, *, keep: bool) -> int:
        """Trim as app_record does for *status*, write the rest; returns samples kept."""
        cut_ms = 0.0
        if status is RecordStatus.SILENCE and not self._request.keep_silence:
            cut_ms = self._silence_limit_ms - _SILENCE_KEPT_MS
        elif status in (RecordStatus.DTMF, RecordStatus.OPERATOR):
            cut_ms = DTMF_TRIM_MS
        while self._held and cut_ms > 0:
            chunk = self._held.pop()
            self._held_ms -= chunk.ms
            cut_ms -= chunk.ms
        while self._held:
            self._write(self._held.popleft())
        self._sound.close()
        if not keep:
            self._path.unlink(missing_ok=True)
            return 0
        return self.samples
