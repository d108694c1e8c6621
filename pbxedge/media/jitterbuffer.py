"""An adaptive jitter buffer with the behaviour of Asterisk's ``main/jitterbuf.c``.

chan_iax2 runs every frame of a call through it when ``jitterbuffer=yes``; pbxedge uses it
where audio ends at this node (applications, recordings, local phones). Sans-IO: the
caller passes times in integer milliseconds of any monotonic clock, and asks
:meth:`JitterBuffer.next_deadline_ms` when to call :meth:`JitterBuffer.get` next.

How it decides, as in Asterisk:

* **Delay history.** Each voice frame's delay (arrival − timestamp) enters a history of
  the last 500. The buffer's ``min`` and ``jitter`` come from that history with the top
  and bottom 3 % left out (at most 20 each side): ``min`` the lowest kept delay,
  ``jitter`` the spread of the kept ones.
* **Target.** ``target = jitter + min + jittertargetextra``, with ``target − min``
  clamped to ``maxjitterbuffer``. ``current`` is the delay frames are played out at.
* **Grow** when ``target > current``: play an interpolated frame in place of audio
  (at most one per 40 ms, unless the queue is shorter than the growth needed).
* **Shrink** when ``current − target > jittertargetextra``: drop one frame every 500 ms,
  or skip one frame's time every 80 ms when no frame is due; in silence, every 10 ms.
* **Late** frames (their slot already played) are dropped and counted late; a frame that
  never came is concealed by interpolation, but after ``maxjitterinterps`` interpolations
  in a row the buffer assumes silence and waits for audio to resume.
* **Resync.** A frame whose delay differs from the last one by more than
  ``2·jitter + resyncthreshold`` is dropped as an outlier; the fourth in a row (or any
  control frame) resyncs instead: the history restarts and that frame is on time.
  ``resyncthreshold = -1`` disables this.
* **Overfill.** While the queued frames span ``maxjitterbuffer`` ms or more, new frames
  are dropped.
* **Loss %** is an exponential average over about 500 frames, kept ×1000.

Where pbxedge differs, and why:

* ``maxjitterbuffer = 0``: Asterisk's overfill check then drops *every* frame (the queue
  span 0 is ≥ 0) while its target clamp treats 0 as "no limit"; here 0 means no limit in
  both places, so the buffer still plays audio.
* ``get`` may be called again at the same millisecond after it returned a frame, so a
  caller that woke up late catches up at once; Asterisk's scheduler waits at least 1 ms
  between two reads. After ``NOFRAME`` the next deadline is at least 1 ms later, as in
  Asterisk, so a caller looping until ``EMPTY`` cannot spin.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Generic, NamedTuple, TypeVar

__all__ = [
    "DEFAULT_INTERP_MS",
    "JbResult",
    "JbStats",
    "JitterBuffer",
    "JitterBufferSettings",
    "JitterOutput",
]

T = TypeVar("T")

HISTORY_SIZE = 500  # JB_HISTORY_SZ
_HISTORY_DROP_PCT = 3  # JB_HISTORY_DROPPCT
_HISTORY_KEEP_MAX = 20  # JB_HISTORY_MAXBUF_SZ: at most this many are left out per side
_ADJUST_DELAY_MS = 40  # JB_ADJUST_DELAY: minimum time between two growth steps
_SHRINK_EVERY_MS = 500
_SHRINK_NOFRAME_EVERY_MS = 80
_SHRINK_SILENCE_EVERY_MS = 10
_RESYNC_AFTER = 4  # consecutive outliers
_LOSS_WEIGHT = 500  # the loss average counts one frame as 1/500
DEFAULT_INTERP_MS = 20  # ast_codec_interp_len of every codec pbxedge carries


class JbResult(Enum):
    OK = "ok"  # a frame to play (or a control frame to act on)
    DROP = "drop"  # a frame to throw away (late, or dropped to shrink the buffer)
    INTERP = "interp"  # conceal a missing frame of ``ms`` milliseconds
    NOFRAME = "noframe"  # nothing to play now (silence, or the buffer shrank)
    EMPTY = "empty"  # not due yet: call again at next_deadline_ms()


class _Kind(Enum):
    VOICE = "voice"
    SILENCE = "silence"  # comfort noise: audio stops here
    CONTROL = "control"


@dataclass(frozen=True, slots=True)
class JitterBufferSettings:
    """The iax.conf ``[general]`` keys, with their names and Asterisk's defaults (ms)."""

    maxjitterbuffer: int = 1000
    resyncthreshold: int = 1000
    maxjitterinterps: int = 10
    jittertargetextra: int = 40


class JitterOutput(NamedTuple, Generic[T]):
    kind: JbResult
    item: T | None  # the frame for OK and DROP
    ms: int  # the frame's length; for INTERP, how long to conceal


@dataclass(frozen=True, slots=True)
class JbStats:
    """``jb_info`` as ``iax2 show netstats`` and the PONG's RR IEs use it."""

    jitter: int
    min: int
    current: int
    target: int
    frames_in: int
    frames_out: int
    frames_late: int
    frames_lost: int
    frames_dropped: int
    frames_ooo: int
    frames_cur: int
    loss_pct_x1000: int
    resyncs: int

    @property
    def delay(self) -> int:
        """The netstats "Del" column and RR_DELAY: ``current − min``."""
        return self.current - self.min

    @property
    def loss_pct(self) -> int:
        return self.loss_pct_x1000 // 1000

    def reception_report_fields(self) -> dict[str, int]:
        """``construct_rr``'s figures, named as the fields of the IAX2 reception report
        (RR_LOSS carries ``loss_pct << 24 | loss_count``; RR_PKTS is at least 1)."""
        return {
            "jitter": self.jitter,
            "loss_pct": self.loss_pct & 0xFF,
            "loss_count": self.frames_lost & 0xFFFFFF,
            "packets": max(self.frames_in, 1),
            "delay": self.delay & 0xFFFF,
            "dropped": self.frames_dropped,
            "ooo": self.frames_ooo,
        }


@dataclass(slots=True)
class _Frame(Generic[T]):
    item: T
    ts: int  # resynced timestamp
    ms: int
    kind: _Kind


class JitterBuffer(Generic[T]):
    """One call's incoming frames, released in timestamp order at an adaptive delay."""

    def __init__(
        self, settings: JitterBufferSettings | None = None, *, interp_ms: int = DEFAULT_INTERP_MS
    ) -> None:
        if interp_ms < 1:
            raise ValueError(f"interpolation length must be at least 1 ms, not {interp_ms}")
        self.settings = settings or JitterBufferSettings()
        extra = self.settings.jittertargetextra
        # jb_setconf: -1 means Asterisk's own default.
        self._target_extra = 40 if extra == -1 else extra
        self._interp_ms = interp_ms
        self._init_state()

    def _init_state(self) -> None:
        self._rxcore: int | None = None  # caller's clock at timestamp 0
        self._frames: list[_Frame[T]] = []
        self._keys: list[int] = []  # the frames' resynced timestamps, ascending
        self._history: deque[int] = deque()
        self._sorted_history: list[int] = []
        # The history's extremes when it was last read: what Asterisk's stale min/max
        # buffers still hold after a control frame emptied the history.
        self._extremes = (0, 0)
        self._noframe_at: int | None = None
        self._jitter = 0
        self._min = 0
        self._current = self._target_extra
        self._target = self._target_extra
        self._last_adjustment = 0
        self._next_voice_ts = 0
        self._last_voice_ms = 0
        self._silence_begin_ts = -1  # 0 means "playing audio"; a new buffer starts silent
        self._cnt_contig_interp = 0
        self._resync_offset = 0
        self._last_delay = 0
        self._cnt_delay_discont = 0
        self._frames_in = 0
        self._frames_out = 0
        self._frames_late = 0
        self._frames_lost = 0
        self._frames_dropped = 0
        self._frames_ooo = 0
        self._losspct = 0
        self._resyncs = 0

    # -- input -------------------------------------------------------------------------------

    def put(
        self,
        item: T,
        ts_ms: int,
        now_ms: int,
        length_ms: int = 0,
        *,
        voice: bool = True,
        silence: bool = False,
    ) -> bool:
        """Queue a frame with its sender timestamp; False when it was dropped at once
        (overfill, or a delay outlier). ``voice=False`` queues a control frame (DTMF,
        text, hangup…), ``silence=True`` a comfort-noise frame (CNG)."""
        kind = _Kind.SILENCE if silence else _Kind.VOICE if voice else _Kind.CONTROL
        if self._rxcore is None:
            self._rxcore = now_ms - ts_ms
        now = now_ms - self._rxcore
        delay = now - (ts_ms - self._resync_offset)
        accepted, delay = self._check_resync(ts_ms, now, kind, delay)
        if not accepted:
            return False
        if kind is _Kind.VOICE and ts_ms > 0:  # Asterisk keeps special/negative times out
            self._history_put(delay)
        self._frames_in += 1
        self._queue_put(_Frame(item, ts_ms - self._resync_offset, length_ms, kind))
        return True

    def _check_resync(self, ts: int, now: int, kind: _Kind, delay: int) -> tuple[bool, int]:
        limit = self.settings.maxjitterbuffer
        if limit and self._queued_span() >= limit:
            self._frames_dropped += 1
            return False, delay
        threshold = self.settings.resyncthreshold
        if threshold == -1:
            return True, delay
        if abs(delay - self._last_delay) <= 2 * self._jitter + threshold:
            self._last_delay = delay
            self._cnt_delay_discont = 0
            return True, delay
        self._cnt_delay_discont += 1
        if self._cnt_delay_discont < _RESYNC_AFTER and kind is not _Kind.CONTROL:
            self._frames_dropped += 1
            return False, delay
        self._cnt_delay_discont = 0
        self._history.clear()
        self._sorted_history.clear()
        self._resync_offset = ts - now
        self._last_delay = 0  # after a resync this frame is exactly on time
        self._resyncs += 1
        return True, 0

    def _history_put(self, delay: int) -> None:
        if len(self._history) == HISTORY_SIZE:
            kicked = self._history.popleft()
            del self._sorted_history[bisect.bisect_left(self._sorted_history, kicked)]
        self._history.append(delay)
        bisect.insort(self._sorted_history, delay)

    def _queue_put(self, frame: _Frame[T]) -> None:
        if self._keys and frame.ts < self._keys[-1]:
            self._frames_ooo += 1
        # After any frames with the same timestamp, as jitterbuf.c links it.
        at = bisect.bisect_right(self._keys, frame.ts)
        self._keys.insert(at, frame.ts)
        self._frames.insert(at, frame)

    # -- output ------------------------------------------------------------------------------

    def next_deadline_ms(self) -> int | None:
        """When :meth:`get` has something to do, on the caller's clock; None while the
        buffer waits for frames."""
        if self._rxcore is None:
            return None
        due = self._next_due()
        if due is None:
            return None
        deadline = due + self._rxcore
        if self._noframe_at is not None:
            deadline = max(deadline, self._noframe_at + 1)
        return deadline

    def _next_due(self) -> int | None:
        """jb_next, on the buffer's own clock."""
        if not self._silence_begin_ts:
            return self._next_voice_ts
        if not self._frames:
            return None
        self._history_get()
        if self._target - self._current < -self._target_extra:
            return self._last_adjustment + _SHRINK_SILENCE_EVERY_MS
        return self._keys[0] + self._target

    def get(self, now_ms: int) -> JitterOutput[T]:
        """The next thing to do with the audio: see :class:`JbResult`."""
        deadline = self.next_deadline_ms()
        if deadline is None or now_ms < deadline or self._rxcore is None:
            return JitterOutput(JbResult.EMPTY, None, 0)
        result = self._get(now_ms - self._rxcore)
        self._noframe_at = now_ms if result.kind is JbResult.NOFRAME else None
        return result

    def _get(self, now: int) -> JitterOutput[T]:
        self._history_get()
        self._target = self._jitter + self._min + self._target_extra
        limit = self.settings.maxjitterbuffer
        if limit and self._target - self._min > limit:
            self._target = self._min + limit
        diff = self._target - self._current
        if self._silence_begin_ts:
            return self._get_in_silence(now, diff)

        if diff > 0 and (
            self._last_adjustment + _ADJUST_DELAY_MS < now or diff > self._queued_span()
        ):
            # Grow: play a made-up frame and push everything one frame later.
            self._current += self._interp_ms
            self._last_adjustment = now
            return self._interpolate()

        frame = self._pop_due(self._next_voice_ts - self._current)
        if frame is not None and frame.kind is not _Kind.VOICE:
            if frame.kind is _Kind.SILENCE:
                self._silence_begin_ts = frame.ts
                self._cnt_contig_interp = 0
            self._frames_out += 1
            return JitterOutput(JbResult.OK, frame.item, frame.ms)

        if frame is not None and frame.ts + self._current < self._next_voice_ts:
            if frame.ts + self._current > self._next_voice_ts - self._last_voice_ms:
                # Within the last frame's time: we interpolated over it, or it came early.
                self._next_voice_ts = frame.ts + self._current + frame.ms
                self._cnt_contig_interp = 0
                return self._played(frame)
            self._frames_late += 1
            self._frames_lost -= 1  # its slot was counted lost when it was concealed
            return self._played(frame, JbResult.DROP)

        if frame is not None and frame.ms > 0:
            self._last_voice_ms = frame.ms

        if diff < -self._target_extra and (
            (frame is None and self._last_adjustment + _SHRINK_NOFRAME_EVERY_MS < now)
            or self._last_adjustment + _SHRINK_EVERY_MS < now
        ):
            self._last_adjustment = now
            self._cnt_contig_interp = 0
            if frame is not None:
                self._current -= frame.ms
                self._frames_dropped += 1
                return self._played(frame, JbResult.DROP)
            self._current -= self._last_voice_ms
            self._lost()
            return JitterOutput(JbResult.NOFRAME, None, 0)

        if frame is None:
            self._lost()
            return self._interpolate()

        self._next_voice_ts += frame.ms
        self._cnt_contig_interp = 0
        return self._played(frame)

    def _get_in_silence(self, now: int, diff: int) -> JitterOutput[T]:
        if diff < -self._target_extra and self._last_adjustment + _SHRINK_SILENCE_EVERY_MS <= now:
            self._current -= self._interp_ms
            self._last_adjustment = now
        frame = self._pop_due(now - self._current)
        if frame is None:
            return JitterOutput(JbResult.NOFRAME, None, 0)
        if frame.kind is not _Kind.VOICE:
            self._frames_out += 1
            return JitterOutput(JbResult.OK, frame.item, frame.ms)
        if frame.ts < self._silence_begin_ts:
            self._frames_late += 1
            self._frames_lost -= 1
            return self._played(frame, JbResult.DROP)
        # Audio resumes: play it at the target delay straight away.
        self._current = self._target
        self._silence_begin_ts = 0
        self._next_voice_ts = frame.ts + self._current + frame.ms
        self._last_voice_ms = frame.ms
        return self._played(frame)

    def _played(self, frame: _Frame[T], kind: JbResult = JbResult.OK) -> JitterOutput[T]:
        """A voice frame leaves the buffer (played or dropped): it was not lost."""
        self._frames_out += 1
        self._losspct = (_LOSS_WEIGHT - 1) * self._losspct // _LOSS_WEIGHT
        return JitterOutput(kind, frame.item, frame.ms)

    def _lost(self) -> None:
        self._frames_lost += 1
        self._losspct = (100_000 + (_LOSS_WEIGHT - 1) * self._losspct) // _LOSS_WEIGHT

    def _interpolate(self) -> JitterOutput[T]:
        self._next_voice_ts += self._interp_ms
        self._last_voice_ms = self._interp_ms
        self._cnt_contig_interp += 1
        limit = self.settings.maxjitterinterps
        if limit and self._cnt_contig_interp >= limit:
            self._silence_begin_ts = self._next_voice_ts - self._current
        return JitterOutput(JbResult.INTERP, None, self._last_voice_ms)

    def _pop_due(self, ts: int) -> _Frame[T] | None:
        if not self._keys or self._keys[0] > ts:
            return None
        self._keys.pop(0)
        return self._frames.pop(0)

    def _queued_span(self) -> int:
        """Milliseconds between the first and last queued timestamps (0 when empty)."""
        return self._keys[-1] - self._keys[0] if self._keys else 0

    def _history_get(self) -> None:
        ordered = self._sorted_history
        if ordered:
            cut = min(len(ordered) * _HISTORY_DROP_PCT // 100, _HISTORY_KEEP_MAX - 1)
            low, high = ordered[cut], ordered[-1 - cut]
            self._extremes = (ordered[0], ordered[-1])
        else:
            low, high = self._extremes
        self._min = low
        self._jitter = high - low

    # -- state -------------------------------------------------------------------------------

    def stats(self) -> JbStats:
        self._history_get()
        return JbStats(
            jitter=self._jitter,
            min=self._min,
            current=self._current,
            target=self._target,
            frames_in=self._frames_in,
            frames_out=self._frames_out,
            frames_late=self._frames_late,
            frames_lost=self._frames_lost,
            frames_dropped=self._frames_dropped,
            frames_ooo=self._frames_ooo,
            frames_cur=len(self._frames),
            loss_pct_x1000=self._losspct,
            resyncs=self._resyncs,
        )

    def __len__(self) -> int:
        return len(self._frames)

    def reset(self) -> list[T]:
        """Start over with the same settings (a transferred call, a new media stream);
        returns the frames that were still queued, oldest first."""
        pending = [frame.item for frame in self._frames]
        self._init_state()
        return pending
