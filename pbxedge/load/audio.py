"""What a load call sends (a tone, a chirp, a WAV file or silence) and what it checks in
what comes back (``--expect echo|tone:HZ|silence``), and the per-call meter of received
audio: network figures, echo round trip, the E-model score.

Echo round trip: each sent payload is remembered with its send time, and a received payload
equal to one of them is its echo. For G.711 the lowest bit of the first 16 samples carries
a frame counter (one quantisation step, inaudible), so every payload is unique and each echo
is matched exactly; other codecs match only where the audio itself does not repeat (a chirp
or a WAV file, not a steady tone).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pbxedge.iax2.codecs import codec_name
from pbxedge.load.emodel import mos_from_r, r_factor
from pbxedge.load.stats import DEFAULT_LATE_MS, StreamStats, percentile
from pbxedge.media.codecs import Pcm, make_decoder, make_encoder
from pbxedge.media.dsp import dominant_frequency
from pbxedge.media.fileformats import read_sound
from pbxedge.media.formats import Format, PayloadError
from pbxedge.media.resample import Resampler

__all__ = ["AudioSource", "CallMeter", "Expectation", "media_format"]

_RATE = 8000
_FRAME = 160  # samples of a 20 ms frame at 8 kHz
_LOOP_SECONDS = 4.0
_AMPLITUDE = 8000
_MARKED = (Format.ULAW, Format.ALAW)
_MARK_BITS = 16
_PENDING_SECONDS = 3.0  # sent payloads older than this are no longer awaited as echoes
_TONE_TOLERANCE = 0.05
_SILENCE_RMS = 200.0
_CHECKED_FRAMES = 50  # the last second of received audio is what --expect looks at


def media_format(codec: int) -> Format | None:
    """The media format of an IAX2 codec, when pbxedge can encode it."""
    try:
        return Format(codec_name(codec))
    except ValueError:
        return None


@dataclass(frozen=True)
class AudioSource:
    """``tone:HZ``, ``chirp``, ``silence`` or ``wav:FILE`` (any sound file pbxedge reads)."""

    spec: str

    @classmethod
    def parse(cls, spec: str) -> AudioSource:
        source = cls(spec)
        source.pcm()  # raises ValueError/OSError now rather than in the middle of a run
        return source

    def pcm(self) -> Pcm:
        """Four seconds (or the whole file) of 8 kHz audio, played in a loop."""
        kind, _, arg = self.spec.partition(":")
        t = np.arange(int(_RATE * _LOOP_SECONDS)) / _RATE
        if kind == "tone":
            hz = float(arg or 1000)
            if not 0 < hz < _RATE / 2:
                raise ValueError(f"tone frequency {arg} Hz is out of range")
            return np.round(np.sin(2 * np.pi * hz * t) * _AMPLITUDE).astype(np.int16)
        if kind == "chirp":  # 300 Hz to 3 kHz and back: no two frames alike
            phase = 2 * np.pi * (300 * t + 2700 * t * t / (2 * _LOOP_SECONDS))
            return np.round(np.sin(phase) * _AMPLITUDE).astype(np.int16)
        if kind == "silence":
            return np.zeros(len(t), dtype=np.int16)
        if kind == "wav":
            sound = read_sound(Path(arg))
            pcm = make_decoder(sound.format).decode(sound.payload)
            if sound.format.sample_rate != _RATE:
                pcm = Resampler(sound.format.sample_rate, _RATE).process(pcm)
            if len(pcm) < _FRAME:
                raise ValueError(f"{arg}: shorter than one 20 ms frame")
            return pcm
        raise ValueError(f"unknown media {self.spec!r} (tone:HZ, chirp, silence, wav:FILE)")

    def frames(self, fmt: Format) -> list[bytes]:
        """The loop as 20 ms payloads of *fmt*."""
        pcm = self.pcm()
        if fmt.sample_rate != _RATE:
            pcm = Resampler(_RATE, fmt.sample_rate).process(pcm)
        encoder = make_encoder(fmt)
        step = fmt.frame_samples
        return [encoder.encode(pcm[i:i + step]) for i in range(0, len(pcm) - step + 1, step)]


def mark(payload: bytes, counter: int, fmt: Format) -> bytes:
    """*payload* with *counter* in the lowest bit of its first 16 G.711 samples."""
    if fmt not in _MARKED:
        return payload
    head = bytearray(payload[:_MARK_BITS])
    for bit in range(len(head)):
        head[bit] = (head[bit] & 0xFE) | (counter >> bit & 1)
    return bytes(head) + payload[_MARK_BITS:]


@dataclass(frozen=True)
class Expectation:
    """What must come back: ``echo``, ``tone:HZ`` or ``silence``."""

    kind: str
    hz: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Expectation:
        kind, _, arg = spec.partition(":")
        if kind == "tone":
            try:
                return cls(kind, float(arg))
            except ValueError:
                raise ValueError(f"--expect tone:HZ needs a frequency, not {arg!r}") from None
        if kind in ("echo", "silence") and not arg:
            return cls(kind)
        raise ValueError(f"unknown expectation {spec!r} (echo, tone:HZ, silence)")


@dataclass
class CallMeter:
    """Everything measured on one call's audio, fed as it is sent and received."""

    fmt: Format | None
    codec: int
    late_ms: float = DEFAULT_LATE_MS
    stream: StreamStats = field(init=False)
    sent: int = 0
    echoes: list[float] = field(default_factory=list)  # round trips, ms
    _pending: dict[bytes, float] = field(default_factory=dict)
    _order: deque[tuple[float, bytes]] = field(default_factory=deque)
    _last: deque[bytes] = field(default_factory=lambda: deque(maxlen=_CHECKED_FRAMES))

    def __post_init__(self) -> None:
        frame_ms = 20
        if self.fmt is not None:
            frame_ms = self.fmt.ms_in(self.fmt.frame_bytes)
        self.stream = StreamStats(frame_ms=frame_ms, late_ms=self.late_ms)

    def sending(self, payload: bytes, now: float) -> bytes:
        """The payload to send as frame number ``sent`` (marked), remembered for its echo."""
        if self.fmt is not None:
            payload = mark(payload, self.sent, self.fmt)
        self.sent += 1
        self._pending[payload] = now
        self._order.append((now, payload))
        while self._order and now - self._order[0][0] > _PENDING_SECONDS:
            _, old = self._order.popleft()
            if self._pending.get(old, now) <= now - _PENDING_SECONDS:
                del self._pending[old]
        return payload

    def received(self, arrival: float, timestamp: int, codec: int, payload: bytes) -> None:
        self.stream.add(timestamp, arrival * 1000.0)
        self._last.append(payload)
        sent_at = self._pending.pop(payload, None)
        if sent_at is not None:
            self.echoes.append((arrival - sent_at) * 1000.0)

    # -- results --------------------------------------------------------------------------

    def echo_ms(self, pct: float = 50) -> float | None:
        return percentile(self.echoes, pct)

    def round_trip_loss_pct(self) -> float | None:
        """Frames sent whose echo never came, when echoes are matched exactly (G.711)."""
        if self.fmt not in _MARKED or not self.sent:
            return None
        return 100.0 * max(0, self.sent - len(self.echoes)) / self.sent

    def tx_loss_pct(self) -> float | None:
        """Loss on the way out, from the round trip and the way back (echo calls only):
        an echo application stamps its own audio, so the way back shows only its own gaps."""
        round_trip = self.round_trip_loss_pct()
        if round_trip is None or not self.echoes:
            return None
        back = self.stream.loss_pct / 100
        if back >= 1:
            return None
        return max(0.0, 100.0 * (1 - (1 - round_trip / 100) / (1 - back)))

    def mos(self) -> float | None:
        """G.107 estimate for the audio received: one-way delay (half the echo round trip,
        plus the frame and a jitter buffer of twice the jitter), loss counting late frames."""
        stream = self.stream
        if not stream.received:
            return None
        echo = self.echo_ms()
        delay = (echo / 2 if echo is not None else 0.0) + stream.frame_ms + 2 * stream.jitter_ms
        expected = max(stream.expected, 1)
        loss = 100.0 * (stream.lost + stream.late) / expected
        return mos_from_r(r_factor(delay_ms=delay, loss_pct=loss, codec=codec_name(self.codec)))

    def check(self, expectation: Expectation) -> str | None:
        """Why what came back does not meet *expectation*, or None when it does."""
        if expectation.kind == "echo":
            if self.fmt in _MARKED:
                return None if self.echoes else "no echo of what was sent came back"
            return None if self.stream.received else "nothing came back"
        pcm = self._decoded()
        if pcm is None or len(pcm) < _FRAME:
            return "no audio came back"
        if expectation.kind == "silence":
            rms = math.sqrt(float(np.mean(pcm.astype(np.float64) ** 2)))
            return None if rms < _SILENCE_RMS else f"not silent (RMS {rms:.0f})"
        heard = dominant_frequency(pcm, self.fmt.sample_rate if self.fmt else _RATE)
        if abs(heard - expectation.hz) <= expectation.hz * _TONE_TOLERANCE:
            return None
        return f"heard {heard:.0f} Hz, expected {expectation.hz:g} Hz"

    def _decoded(self) -> Pcm | None:
        if self.fmt is None or not self._last:
            return None
        decoder = make_decoder(self.fmt)
        try:
            return np.concatenate([decoder.decode(p) for p in self._last])
        except PayloadError:
            return None
