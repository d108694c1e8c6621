"""What a phone's loudspeaker plays: every frame passes one jitter buffer, read by the card.

Why the buffer is here and not on the IAX2 leg: the loudspeaker is where the audio ends,
and it is read by the sound card's clock, not trio's. Frames go in from trio as they come
(:meth:`SpeakerFeed.put`); the playback thread takes one device block per period
(:meth:`SpeakerFeed.pull`) and the buffer decides what is due at that moment. So one buffer
absorbs both the network's jitter and the drift between the far end's clock and the card's,
and it is always on, whatever ``jitterbuffer=`` the IAX2 peer has (a bridge turns the IAX2
leg's own buffer off when its other side is a local phone: audio is buffered once).

Frames that came off a wire keep the sender's timestamps; frames made on this node (a file
being played, tones) are stamped with their arrival. When a call switches between the two
(music on hold in the middle of a call), the buffer starts over rather than read one clock
against the other.

Threads: ``put`` runs in trio, ``pull`` on the playback thread; one lock guards the buffer
and both take it for microseconds. Times are ``time.monotonic`` milliseconds, the clock the
device threads live by.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from pbxedge.channels.voice import VoiceFrame
from pbxedge.media.formats import Format
from pbxedge.media.jitterbuffer import JbResult, JitterBuffer, JitterBufferSettings
from pbxedge.media.resample import Resampler

__all__ = ["SpeakerFeed", "decode_linear", "encode_linear", "gain_factor"]

Samples = npt.NDArray[np.int16]
_ENDIAN = {Format.SLIN: ">i2", Format.SLIN16: "<i2"}  # the wire conventions of formats.py


def decode_linear(frame: VoiceFrame) -> Samples:
    """The samples of a signed-linear frame (slin is big-endian, slin16 little-endian)."""
    return np.frombuffer(frame.payload, dtype=_ENDIAN[frame.fmt]).astype(np.int16)


def encode_linear(fmt: Format, samples: Samples) -> bytes:
    return samples.astype(_ENDIAN[fmt]).tobytes()


def gain_factor(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def apply_gain(samples: Samples, factor: float) -> Samples:
    if factor == 1.0:
        return samples
    scaled: Samples = np.clip(np.rint(samples * factor), -32768, 32767).astype(np.int16)
    return scaled


class SpeakerFeed:
    def __init__(self, native: Format, device_rate: int, period_ms: int,
                 settings: JitterBufferSettings | None = None, *, gain_db: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.native = native
        self.device_rate = device_rate
        self.period_ms = period_ms
        self._settings = settings
        self._gain = gain_factor(gain_db)
        self._clock = clock
        self._lock = threading.Lock()
        self._jb: JitterBuffer[Samples] = JitterBuffer(settings)
        self._resampler = (Resampler(native.sample_rate, device_rate)
                           if native.sample_rate != device_rate else None)
        self._ready = np.zeros(0, dtype=np.int16)  # device-rate samples due now
        self._stamped: bool | None = None
        self.frames_in = 0
        self.underflows = 0  # blocks padded with silence while audio was queued

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- trio side ------------------------------------------------------------------------

    def put(self, frame: VoiceFrame) -> None:
        """Queue a frame in the feed's own format (callers translate first)."""
        if frame.fmt is not self.native or not frame.samples:
            return
        samples = decode_linear(frame)
        now = self._now_ms()
        stamped = frame.timestamp is not None
        length = len(samples) * 1000 // self.native.sample_rate
        with self._lock:
            if stamped is not self._stamped:
                self._jb.reset()
                self._stamped = stamped
            ts = frame.timestamp if frame.timestamp is not None else now
            self._jb.put(samples, ts, now, length)
            self.frames_in += 1

    def clear(self) -> None:
        """The call is over: what it left in the buffer is not played."""
        with self._lock:
            self._jb.reset()
            self._stamped = None
            self._ready = np.zeros(0, dtype=np.int16)

    def queued_ms(self) -> int:
        with self._lock:
            return self._jb.stats().current if len(self._jb) else 0

    # -- playback thread ------------------------------------------------------------------

    def pull(self, count: int) -> Samples:
        """*count* device-rate samples for the card: what is due within this block, then
        silence."""
        now = self._now_ms()
        with self._lock:
            parts = [self._ready]
            have = len(self._ready)
            while have < count:
                # What falls due before this block has played belongs in it.
                out = self._jb.get(now + self.period_ms)
                if out.kind is JbResult.OK and out.item is not None:
                    chunk = self._to_device(out.item)
                elif out.kind is JbResult.INTERP:
                    chunk = self._to_device(
                        np.zeros(out.ms * self.native.sample_rate // 1000, dtype=np.int16))
                elif out.kind is JbResult.DROP:
                    continue
                else:
                    break
                parts.append(chunk)
                have += len(chunk)
            block = np.concatenate(parts) if len(parts) > 1 else parts[0]
            if len(block) < count:
                if len(self._jb):
                    self.underflows += 1  # audio is queued, yet none is due: the card is early
                block = np.concatenate([block, np.zeros(count - len(block), dtype=np.int16)])
            self._ready = block[count:]
        return apply_gain(block[:count], self._gain)

    def _to_device(self, samples: Samples) -> Samples:
        return self._resampler.process(samples) if self._resampler is not None else samples
