"""Sound for every channel that carries it: IAX2 legs and local phones alike.

A :class:`MediaChannel` knows two things of its leg, which a subclass provides: how to put a
voice frame on it (:meth:`MediaChannel._emit_voice`) and its native format. Everything a
caller hears or says passes through here:

- what the leg receives goes to whoever holds the channel's audio (:meth:`take_audio`):
  an echo, a recording, a bridge, or nobody (then it is dropped, as Asterisk drops audio
  nobody reads);
- what the channel sends comes from one paced source at a time: a file being played, a
  generator (tones, Milliwatt) or music on hold, one 20 ms frame per tick of trio's clock;
- DTMF goes to whoever holds the digits (a bridge, Echo) or waits in a queue for the
  dialplan (``wait_for_digit``), and TEXT likewise.

Formats: frames keep the format they arrived in until something needs another one; a file
in the channel's own format (a ``.ulaw`` for a µ-law call) is sent untouched, anything else
goes through a translator from :mod:`pbxedge.media`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import trio

from dialplan.channel import (
    ChannelState,
    PcmSource,
    Played,
    RecordRequest,
    RecordResult,
    RecordStatus,
    SoundNotFound,
)
from pbxedge.channels.moh import MohClasses
from pbxedge.channels.recording import Recording
from pbxedge.channels.voice import VoiceFrame
from pbxedge.events import EventBus
from pbxedge.log import verbose
from pbxedge.media.fileformats import SoundFileError, read_sound
from pbxedge.media.formats import Format, PayloadError
from pbxedge.media.sounds import FoundSound, find_sound
from pbxedge.media.translate import Translator

__all__ = ["AudioSink", "MediaChannel", "MediaEnv", "VoiceFrame", "file_frames"]

logger = logging.getLogger("pbxedge.channels")

FRAME_SECONDS = 0.020
ANSWER_MEDIA_WAIT = 0.5  # __ast_answer: wait this long for the caller's first media frame
_DIGITS_KEPT = 64  # digits nobody reads yet; more is a flood and is dropped
_GENERATOR_SAMPLES = 160  # 20 ms at 8 kHz: Asterisk's generators always write slin
_UNREAD_KEPT = 25  # voice frames kept for the next reader (500 ms: an answer's wait)


AudioSink = Callable[[VoiceFrame], None]
DigitSink = Callable[[str, bool], None]  # (digit, is_begin)
TextSink = Callable[[str], object]
HoldSink = Callable[[bool], None]
FlashSink = Callable[[], None]


@dataclass
class MediaEnv:
    """What every channel of a node shares for its sound."""

    sound_dirs: tuple[Path, ...] = ()
    moh: MohClasses = field(default_factory=MohClasses)
    events: EventBus = field(default_factory=EventBus)  # the node's: channels tell it theirs


class MediaChannel:
    """The audio half of a channel; subclasses add the signalling of their leg."""

    technology = ""  # the kind of leg, first in its name ("IAX2", "Console")
    # True for a leg that dejitters what it is sent itself (a local phone's loudspeaker):
    # a bridge then leaves the other leg's jitter buffer off, so audio is buffered once.
    buffers_audio = False

    def __init__(self, name: str, env: MediaEnv, nursery: trio.Nursery,
                 native: Format | None) -> None:
        self._media_name = name
        self.env = env
        self._nursery = nursery
        self.native = native
        self.language = "en"
        self.hangup_cause = 0
        self._audio_sink: AudioSink | None = None
        self._digit_sink: DigitSink | None = None
        self._text_sink: TextSink | None = None
        self._hold_sink: HoldSink | None = None
        self._flash_sink: FlashSink | None = None
        self.mohinterpret = "default"  # what this side hears when the other holds
        self.mohsuggest = ""  # the class this side suggests to whoever it holds
        self._digits: deque[str] = deque()
        # Audio that arrived while nobody held the channel's audio: the next holder gets it,
        # as Asterisk keeps unread frames on the channel (and puts back the ones its
        # answer() read while waiting for media); anything that waits drops it.
        self._unread: deque[VoiceFrame] = deque(maxlen=_UNREAD_KEPT)
        self._wakeup = trio.Event()
        self._first_voice = trio.Event()
        self._hungup_event = trio.Event()
        self._to_native: dict[Format, Translator] = {}
        self._background: trio.CancelScope | None = None
        self._background_kind = ""
        self.frames_in = 0
        self.frames_out = 0
        # For the call's detail record (unix times).
        self.created_at = time.time()
        self.answered_at: float | None = None
        self.dial_peer = ""  # the channel the last Dial answered on, or tried last
        self.bridged: MediaChannel | None = None  # the other side while a bridge joins us

    @property
    def name(self) -> str:
        return self._media_name

    # -- what a subclass provides ---------------------------------------------------------

    def _emit_voice(self, frame: VoiceFrame) -> None:
        """Put one frame on the leg (already in a format the leg carries)."""
        raise NotImplementedError

    def _emit_digit(self, digit: str, begin: bool) -> None:
        raise NotImplementedError

    def _emit_text(self, text: str) -> None:
        raise NotImplementedError

    def _emit_hold(self, on: bool) -> None:
        """Tell the leg it is held (HOLD/UNHOLD); legs that cannot are silent."""

    def _emit_flash(self) -> None:
        """A hook flash for the leg (CONTROL FLASH); legs that cannot are silent."""

    @property
    def state(self) -> ChannelState:
        raise NotImplementedError

    @property
    def uniqueid(self) -> str:
        raise NotImplementedError

    async def hangup(self, cause: int) -> None:
        """End the call from this side."""
        raise NotImplementedError

    # -- life -----------------------------------------------------------------------------

    @property
    def is_hungup(self) -> bool:
        return self._hungup_event.is_set()

    def _mark_hungup(self) -> None:
        """The call is over: wake every waiter and stop what plays."""
        self._hungup_event.set()
        self._wake()
        self._stop_background()

    def _mark_answered(self) -> None:
        if self.answered_at is None:
            self.answered_at = time.time()

    def _wake(self) -> None:
        self._wakeup.set()
        self._wakeup = trio.Event()

    async def wait(self, seconds: float | None) -> bool:
        """Wait, reading (and dropping) the audio meanwhile, as ``ast_safe_sleep`` does."""
        self._unread.clear()
        try:
            return await self._wait(seconds)
        finally:
            self._unread.clear()

    async def _wait(self, seconds: float | None) -> bool:
        with trio.move_on_after(math.inf if seconds is None else max(0.0, seconds)):
            await self._hungup_event.wait()
            return False
        return True

    async def wait_for_first_voice(self, seconds: float = ANSWER_MEDIA_WAIT) -> None:
        """``__ast_answer``: after answering, give the caller's audio this long to start
        (what arrives meanwhile stays for the next reader)."""
        with trio.move_on_after(seconds):
            await self._first_voice.wait()

    # -- from the leg ---------------------------------------------------------------------

    def receive_voice(self, frame: VoiceFrame) -> None:
        self.frames_in += 1
        if not self._first_voice.is_set():
            self._first_voice.set()
        sink = self._audio_sink
        if sink is not None:
            sink(frame)
        else:
            self._unread.append(frame)

    def receive_digit(self, digit: str, *, begin: bool = False) -> None:
        """A DTMF BEGIN or END from the leg."""
        sink = self._digit_sink
        if sink is not None:
            sink(digit, begin)
            return
        if begin:
            return  # applications react to the END (channel.c __ast_read)
        if len(self._digits) < _DIGITS_KEPT:
            self._digits.append(digit)
        self._wake()

    def receive_text(self, text: str) -> None:
        sink = self._text_sink
        if sink is not None:
            sink(text)
            return
        # repr: the text is the peer's, and must not put control characters in the log.
        verbose(3, f"{self._media_name}: TEXT {text!r} dropped: nobody reads it")

    def receive_hold(self, on: bool) -> None:
        """The leg put the call on hold (or took it off); only a bridge acts on it."""
        sink = self._hold_sink
        if sink is not None:
            sink(on)

    def receive_flash(self) -> None:
        """The leg flashed the hook; only a bridge passes it on."""
        sink = self._flash_sink
        if sink is not None:
            sink()

    # -- who holds the audio --------------------------------------------------------------

    def take_audio(self, audio: AudioSink | None, digits: DigitSink | None = None,
                   text: TextSink | None = None, hold: HoldSink | None = None,
                   flash: FlashSink | None = None) -> None:
        """Route what the leg receives to these callables (None: back to the dialplan)."""
        self._audio_sink = audio
        self._digit_sink = digits
        self._text_sink = text
        self._hold_sink = hold
        self._flash_sink = flash
        if audio is not None:
            unread = list(self._unread)
            self._unread.clear()
            for frame in unread:
                audio(frame)

    def use_jitterbuffer(self, on: bool) -> None:
        """Buffer the leg's incoming audio (when configured) or deliver it at once; legs
        without a network in between have nothing to buffer."""

    def relay_voice_to(self, peer: MediaChannel | None) -> bool:
        """Send what this leg receives to *peer* without passing through :meth:`write`;
        True when this kind of leg can do so for that peer (IAX2 to IAX2 can)."""
        return False

    def queued_digits(self) -> list[str]:
        """Digits nobody read yet (taken out of the queue)."""
        digits = list(self._digits)
        self._digits.clear()
        return digits

    # -- sending --------------------------------------------------------------------------

    def write(self, frame: VoiceFrame) -> None:
        """Send *frame*, translated into the native format when it is in another one."""
        native = self.native
        if native is None or self.is_hungup:
            return
        if frame.fmt is not native:
            translator = self._to_native.get(frame.fmt)
            if translator is None:
                translator = self._to_native[frame.fmt] = Translator(frame.fmt, native)
            try:
                payload = translator.convert(frame.payload)
            except PayloadError:
                return  # not whole units of its format: a broken frame is dropped
            if not payload:
                return
            frame = VoiceFrame(native, payload, native.samples_in(len(payload)), frame.timestamp)
        self.frames_out += 1
        self._emit_voice(frame)

    def write_pcm(self, samples: np.ndarray) -> None:
        """Send 8 kHz 16-bit samples (what generators produce)."""
        payload = samples.astype(">i2", copy=False).tobytes()
        self.write(VoiceFrame(Format.SLIN, payload, len(samples)))

    def send_digit(self, digit: str, *, begin: bool) -> None:
        if not self.is_hungup:
            self._emit_digit(digit, begin)

    def send_hold(self, on: bool) -> None:
        if not self.is_hungup:
            self._emit_hold(on)

    def send_flash(self) -> None:
        if not self.is_hungup:
            self._emit_flash()

    def send_text_now(self, text: str) -> bool:
        if self.is_hungup:
            return False
        self._emit_text(text)
        return True

    async def send_text(self, text: str) -> bool:
        return self.send_text_now(text)

    async def send_dtmf(self, digits: str, duration_ms: int = 100, gap_ms: int = 250) -> None:
        """app_senddtmf / ``dtmf_stream``: 100 ms quiet, then per digit BEGIN, the
        duration, END, the gap; ``w`` waits 0.5 s and ``W`` 1 s."""
        duration = max(100, duration_ms) / 1000
        gap = max(0, gap_ms) / 1000
        if not await self._wait(0.1):
            return
        for char in digits:
            if char in "wW":
                if not await self._wait(0.5 if char == "w" else 1.0):
                    return
                continue
            digit = char.upper()
            if digit not in "0123456789*#ABCD":
                continue
            self.send_digit(digit, begin=True)
            if not await self._wait(duration):
                return
            self.send_digit(digit, begin=False)
            if not await self._wait(gap):
                return

    # -- digits for the dialplan ----------------------------------------------------------

    async def wait_for_digit(self, timeout: float | None) -> str | None:
        self._unread.clear()
        with trio.move_on_after(math.inf if timeout is None else max(0.0, timeout)):
            while True:
                if self._digits:
                    return self._digits.popleft()
                if self.is_hungup:
                    return None
                await self._wakeup.wait()
        return None

    def _escape(self, escape_digits: str) -> str | None:
        """The first queued digit that is an escape digit; the others are dropped, as
        ``ast_waitstream`` ignores keys it was not told to stop on."""
        while self._digits:
            digit = self._digits.popleft()
            if digit in escape_digits:
                return digit
        return None

    # -- playing files --------------------------------------------------------------------

    def _find(self, filename: str) -> FoundSound | None:
        return find_sound(filename, self.language, self.env.sound_dirs,
                          self.native or Format.SLIN)

    def sound_exists(self, filename: str) -> bool:
        return self._find(filename) is not None

    async def play(self, filename: str, escape_digits: str, offset: int = 0) -> Played:
        found = self._find(filename)
        if found is None:
            logger.warning("File %s does not exist in any format", filename)
            raise SoundNotFound(filename)
        self._stop_background()  # a stream replaces any generator (file.c ast_streamfile)
        self._unread.clear()
        verbose(3, f"<{self._media_name}> Playing '{found.path.stem}.{found.format.value}' "
                   f"(language '{self.language}')")
        frames = file_frames(found.path, offset)
        played = offset
        next_at = trio.current_time()
        try:
            for frame in frames:
                if self.is_hungup:
                    break
                digit = self._escape(escape_digits) if escape_digits else None
                if digit is not None:
                    return Played(digit, played)
                if not escape_digits:
                    self._digits.clear()
                self.write(frame)
                played += frame.samples
                next_at += frame.samples / frame.fmt.sample_rate
                await trio.sleep_until(next_at)
        finally:
            frames.close()
        digit = self._escape(escape_digits) if escape_digits and not self.is_hungup else None
        return Played(digit, played)

    # -- background sources: generators and music on hold ---------------------------------

    def _stop_background(self) -> None:
        if self._background is not None:
            self._background.cancel()
            self._background = None
            self._background_kind = ""

    def _start_background(self, kind: str, run: Callable[[], Iterator[VoiceFrame | None]]) -> None:
        self._stop_background()
        scope = trio.CancelScope()
        self._background = scope
        self._background_kind = kind

        async def pace() -> None:
            with scope:
                next_at = trio.current_time()
                for frame in run():
                    if frame is None or self.is_hungup:
                        break
                    self.write(frame)
                    next_at += frame.samples / frame.fmt.sample_rate
                    await trio.sleep_until(next_at)
            if self._background is scope:
                self._background = None
                self._background_kind = ""

        self._nursery.start_soon(pace)

    async def start_generator(self, source: PcmSource) -> None:
        def frames() -> Iterator[VoiceFrame | None]:
            while True:
                samples = source.read(_GENERATOR_SAMPLES)
                if samples is None:
                    return
                pcm = np.asarray(samples, dtype=np.int16)
                yield VoiceFrame(Format.SLIN, pcm.astype(">i2").tobytes(), len(pcm))

        self._start_background("generator", frames)

    async def stop_generator(self) -> None:
        if self._background_kind == "generator":
            self._stop_background()

    async def start_moh(self, moh_class: str) -> bool:
        files = self.env.moh.files(moh_class)
        if files is None:
            logger.warning("Unable to start music on hold class '%s' on channel '%s'",
                           moh_class, self._media_name)
            return False
        verbose(3, f"Started music on hold, class '{moh_class}', on channel '{self._media_name}'")

        def frames() -> Iterator[VoiceFrame | None]:
            while True:
                played_any = False
                for name in files:
                    found = self._find(name)
                    if found is None:
                        continue
                    for frame in file_frames(found.path, 0):
                        played_any = True
                        yield frame
                if not played_any:
                    return

        self._start_background("moh", frames)
        return True

    async def stop_moh(self) -> None:
        if self._background_kind == "moh":
            self._stop_background()
            verbose(3, f"Stopped music on hold on {self._media_name}")

    async def music_on_hold(self, moh_class: str, seconds: float | None) -> bool:
        """MusicOnHold(): plays until hangup or *seconds*; False when the class is missing."""
        if not await self.start_moh(moh_class):
            return False
        try:
            await self.wait(seconds)
        finally:
            await self.stop_moh()
        return True

    # -- echo and record ------------------------------------------------------------------

    async def echo(self) -> None:
        done = trio.Event()

        def digit(value: str, begin: bool) -> None:
            self.send_digit(value, begin=begin)
            if value == "#" and not begin:
                done.set()

        self.take_audio(self.write, digit, self.send_text_now)
        try:
            with trio.move_on_after(math.inf):
                async with trio.open_nursery() as nursery:
                    async def hangup() -> None:
                        await self._hungup_event.wait()
                        nursery.cancel_scope.cancel()

                    nursery.start_soon(hangup)
                    await done.wait()
                    nursery.cancel_scope.cancel()
        finally:
            self.take_audio(None)

    async def record(self, request: RecordRequest) -> RecordResult:
        if self.native is None:
            return RecordResult(RecordStatus.ERROR)
        if not Path(request.path).is_absolute() and self.env.sound_dirs:
            # Asterisk writes a relative name under its sounds folder, where Playback finds it.
            request = replace(request, path=str(self.env.sound_dirs[0] / request.path))
        try:
            recording = Recording.open(request)
        except (OSError, ValueError) as exc:
            logger.warning("Record: cannot write %s.%s: %s", request.path, request.fmt, exc)
            return RecordResult(RecordStatus.ERROR)
        done = trio.Event()
        outcome: list[tuple[RecordStatus, str | None]] = []

        def finish(status: RecordStatus, digit: str | None = None) -> None:
            if not outcome:
                outcome.append((status, digit))
                done.set()

        def audio(frame: VoiceFrame) -> None:
            if recording.add(frame):
                finish(RecordStatus.SILENCE)

        def digit(value: str, begin: bool) -> None:
            if begin:
                return
            if request.operator and value == "0":
                finish(RecordStatus.OPERATOR, value)
            elif value in request.terminators:
                finish(RecordStatus.DTMF, value)

        self._digits.clear()
        self.take_audio(audio, digit)
        try:
            limit = request.max_duration if request.max_duration else math.inf
            with trio.move_on_after(limit):
                async with trio.open_nursery() as nursery:
                    async def hangup() -> None:
                        await self._hungup_event.wait()
                        finish(RecordStatus.HANGUP)

                    nursery.start_soon(hangup)
                    await done.wait()
                    nursery.cancel_scope.cancel()
            if not outcome:
                finish(RecordStatus.TIMEOUT)
        finally:
            self.take_audio(None)
        status, pressed = outcome[0]
        samples = recording.close(status, keep=status is not RecordStatus.HANGUP
                                  or request.keep_on_hangup)
        return RecordResult(status, pressed, samples)


def file_frames(path: Path, offset: int) -> Generator[VoiceFrame, None, None]:
    """The frames of a sound file as Asterisk reads them, from sample *offset*; a file
    that cannot be read is logged and plays as nothing."""
    try:
        sound = read_sound(path)
    except (OSError, SoundFileError) as exc:
        logger.warning("Unable to read sound file %s: %s", path, exc)
        return
    skipped = 0
    for payload in sound.frames():
        samples = sound.format.samples_in(len(payload))
        if skipped + samples <= offset:
            skipped += samples
            continue
        yield VoiceFrame(sound.format, payload, samples)
