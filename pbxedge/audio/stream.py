"""One phone's microphone and loudspeaker: two PortAudio streams, two threads.

Each direction is a blocking PortAudio stream (16-bit mono, one block per period) served by
a thread of its own. Blocking streams rather than PortAudio callbacks: a callback stream on
a device without a clock (the ALSA ``file``/``null`` PCMs every test uses) is called tens
of thousands of times a second, and PulseAudio's full-duplex callback streams often never
start; a blocking read or write per period works on both, and the thread paces itself
(:class:`~pbxedge.audio.pacing.Pacer`) when the device does not.

* The capture thread hands each block to ``on_capture`` (a
  :class:`~pbxedge.audio.handoff.Handoff`: it never waits).
* The playback thread asks ``fill`` for each block (the phone's speaker feed: it never
  waits either, and answers silence when it has nothing). It first writes
  :data:`PREFILL_BLOCKS` of silence, so a clocked card always has a block queued and its
  blocking write, not our clock, sets the pace.
* A device error (unplugged, sound server gone) stops both threads and is reported once
  through ``on_failure``, from the thread that met it.

:meth:`DeviceStream.open` and :meth:`DeviceStream.close` block (PortAudio opens devices
synchronously, and closing waits for the threads): run them in a worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from pbxedge.audio import devices
from pbxedge.audio.devices import DeviceInfo
from pbxedge.audio.pacing import Pacer

__all__ = ["PREFILL_BLOCKS", "DeviceError", "DeviceStream", "StreamStats"]

logger = logging.getLogger("pbxedge.audio")

PREFILL_BLOCKS = 2
_OUTPUT_LATENCY_BLOCKS = 3  # a small output buffer: the card's clock shows in write()
_JOIN_SECONDS = 2.0

Samples = npt.NDArray[np.int16]


class DeviceError(RuntimeError):
    """The device could not be opened, or failed while running."""


@dataclass
class StreamStats:
    """Counters the device threads keep (read from trio without a lock: plain ints)."""

    captured: int = 0  # blocks read from the microphone
    played: int = 0  # blocks written to the loudspeaker
    input_overflows: int = 0  # PortAudio lost microphone audio (we read too late)
    output_underflows: int = 0  # the card ran dry before our block came
    paced_input: int = 0  # blocks the microphone gave before their time (no clock)
    paced_output: int = 0


class DeviceStream:
    def __init__(self, input_device: DeviceInfo, output_device: DeviceInfo, rate: int,
                 block: int, *, on_capture: Callable[[Samples], object],
                 fill: Callable[[int], Samples], on_failure: Callable[[str], None]) -> None:
        self.input_device = input_device
        self.output_device = output_device
        self.rate = rate
        self.block = block
        self._on_capture = on_capture
        self._fill = fill
        self._on_failure = on_failure
        self.stats = StreamStats()
        self._stop = threading.Event()
        self._failed = threading.Lock()  # taken by the first thread to fail
        self._input: Any = None
        self._output: Any = None
        self._threads: list[threading.Thread] = []

    @property
    def period(self) -> float:
        return self.block / self.rate

    def open(self) -> None:
        """Open both streams (blocking); :class:`DeviceError` when a device refuses."""
        sd = devices.portaudio()
        with devices.LOCK:
            try:
                self._input = sd.RawInputStream(
                    device=self.input_device.index, samplerate=self.rate, blocksize=self.block,
                    channels=1, dtype="int16", latency="high")
                devices.stream_opened()
                self._output = sd.RawOutputStream(
                    device=self.output_device.index, samplerate=self.rate,
                    blocksize=self.block, channels=1, dtype="int16",
                    latency=_OUTPUT_LATENCY_BLOCKS * self.period)
                devices.stream_opened()
            except (sd.PortAudioError, ValueError) as exc:
                self._close_streams()
                raise DeviceError(_reason(exc)) from exc

    def start(self) -> None:
        for target, name in ((self._capture, "mic"), (self._playback, "speaker")):
            thread = threading.Thread(target=target, name=f"pbxedge-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def close(self) -> None:
        """Stop the threads (each closes its stream) and wait for them (blocking)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(_JOIN_SECONDS)
            if thread.is_alive():
                logger.warning("sound device thread %s did not stop within %.0f s",
                               thread.name, _JOIN_SECONDS)
        if not self._threads:
            self._close_streams()

    # -- the threads ----------------------------------------------------------------------

    def _capture(self) -> None:
        stream, stats = self._input, self.stats
        pacer = Pacer(self.period)
        try:
            stream.start()
            while not self._stop.is_set():
                data, overflowed = stream.read(self.block)
                if overflowed:
                    stats.input_overflows += 1
                stats.captured += 1
                self._on_capture(np.frombuffer(bytes(data), dtype=np.int16))
                wait = pacer.after_block(time.monotonic())
                stats.paced_input = pacer.paced
                if wait:
                    self._stop.wait(wait)
        except Exception as exc:
            self._fail("microphone", exc)
        finally:
            self._close(stream)

    def _playback(self) -> None:
        stream, stats = self._output, self.stats
        pacer = Pacer(self.period)
        silence = np.zeros(self.block, dtype=np.int16).tobytes()
        try:
            stream.start()
            for _ in range(PREFILL_BLOCKS):
                stream.write(silence)
            while not self._stop.is_set():
                samples = self._fill(self.block)
                if stream.write(samples.astype(np.int16, copy=False).tobytes()):
                    stats.output_underflows += 1
                stats.played += 1
                wait = pacer.after_block(time.monotonic())
                stats.paced_output = pacer.paced
                if wait:
                    self._stop.wait(wait)
        except Exception as exc:
            self._fail("loudspeaker", exc)
        finally:
            self._close(stream)

    def _fail(self, what: str, exc: Exception) -> None:
        if self._stop.is_set():
            return  # closing: whatever the stream said is not a failure
        self._stop.set()
        if self._failed.acquire(blocking=False):
            self._on_failure(f"{what}: {_reason(exc)}")

    # -- closing --------------------------------------------------------------------------

    def _close(self, stream: Any) -> None:
        if stream is None:
            return
        with devices.LOCK:
            try:
                stream.abort()
                stream.close()
            except Exception as exc:  # a dead device may refuse even this
                logger.debug("closing a sound stream: %s", exc)
            devices.stream_closed()

    def _close_streams(self) -> None:
        for stream in (self._input, self._output):
            self._close(stream)
        self._input = self._output = None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())
