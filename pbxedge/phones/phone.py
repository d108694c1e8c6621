"""One local phone: a sound device kept open, and at most one call on it at a time.

The device is opened when the node starts and kept open (a lift box must know at once
that its loudspeaker is gone, and a call must not wait for a sound server to start a
stream). When it cannot be opened, or fails while running, the phone says why once, ends
its call (and only its call), and tries again after 1, 2, 4… up to 30 s; the node carries
on. While no call is up the microphone's blocks are read and dropped.

Microphone: blocks come from the capture thread through a bounded
:class:`~pbxedge.audio.handoff.Handoff`, are resampled to the call's 8 or 16 kHz, given
``tx_gain``, and go to the call as audio received from the phone, only once the call is
answered (``early_media=yes`` sends them before), never while muted. Loudspeaker: every
frame goes through the :class:`~pbxedge.phones.speaker.SpeakerFeed`.

Calls: :meth:`LocalPhone.dial` runs the dialplan on a new ``Console/<name>`` channel (``console
dial``, the button of an ``immediate=yes`` phone); :meth:`LocalPhone.ring` is the phone's
side of ``Dial(Console/<name>)``; :meth:`LocalPhone.outgoing_channel` gives the phone box a
channel to dial its targets with.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import trio

from dialplan.channel import Channel, ChannelState, Indication
from dialplan.dialer import DialResult, DialStatus
from dialplan.engine import Engine
from pbxedge.audio.devices import AudioUnavailable, DeviceNotFound, find_device, list_devices
from pbxedge.audio.devices import rescan as rescan_devices
from pbxedge.audio.handoff import Handoff
from pbxedge.audio.stream import DeviceError, DeviceStream, StreamStats
from pbxedge.cdr.recorder import CdrRecorder
from pbxedge.channels.console import ConsoleChannel, console_verbose
from pbxedge.channels.dial import CallerId, Dialer
from pbxedge.channels.media import MediaEnv, file_frames
from pbxedge.channels.voice import VoiceFrame
from pbxedge.events import Newchannel
from pbxedge.iax2.enums import Cause
from pbxedge.media.formats import Format
from pbxedge.media.indications import Indications
from pbxedge.media.resample import Resampler
from pbxedge.media.sounds import find_sound
from pbxedge.media.translate import Translator
from pbxedge.phones.config import PhoneConfig
from pbxedge.phones.speaker import (
    Samples,
    SpeakerFeed,
    apply_gain,
    encode_linear,
    gain_factor,
)

__all__ = ["ConsoleLeg", "LocalPhone", "PhoneHost", "send_keys"]

logger = logging.getLogger("pbxedge.phones")

MIC_QUEUE_BLOCKS = 10  # 200 ms of microphone audio may wait for trio; more is dropped
_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 30.0
_KEY_SECONDS = 0.1  # a keypad digit: 100 ms BEGIN..END, then a pause
_KEY_GAP_SECONDS = 0.05
_sequence = 0


class PhoneHost(Protocol):
    """What a phone uses of the node."""

    engine: Engine
    dialer: Dialer
    media_env: MediaEnv
    indications: Indications
    cdr: CdrRecorder | None

    @property
    def nursery(self) -> trio.Nursery: ...


@dataclass
class ConsoleLeg:
    """The phone's side of ``Dial(Console/<name>)`` (a dial leg): it rings, then is bridged
    to the caller until either hangs up."""

    channel: ConsoleChannel
    settled: trio.Event
    result: DialResult | None = None
    redirect: None = None  # a local phone cannot transfer its caller

    def settle(self, status: DialStatus, cause: int) -> None:
        if self.result is None:
            self.result = DialResult(status, cause)
            self.settled.set()

    def hangup(self, cause: int) -> None:
        self.channel.end(cause)

    def bridging(self, caller: Channel) -> None:
        """Nothing to re-path: the phone's audio is the node's own."""

    def release(self, cause: int) -> bool:
        self.channel.end(cause)
        return False


def _next_uniqueid() -> str:
    global _sequence
    _sequence += 1
    return f"{int(time.time())}.console{_sequence}"


class LocalPhone:
    def __init__(self, config: PhoneConfig, host: PhoneHost) -> None:
        self.config = config
        self.name = config.name
        self._host = host
        self.autoanswer = config.autoanswer
        self.muted = False
        self.call: ConsoleChannel | None = None
        self.native = Format.SLIN  # until a device says its rate
        self.stream: DeviceStream | None = None
        self.feed: SpeakerFeed | None = None
        self.failure: str | None = "not opened yet"
        self.ready = trio.Event()  # set while the device is open
        self._mic: Handoff[Samples] | None = None
        self._to_native: Resampler | None = None
        self._tx_gain = gain_factor(config.tx_gain)
        self._failed = trio.Event()
        self._mic_listeners: list[Callable[[Samples], None]] = []
        self._digit_listeners: list[Callable[[ConsoleChannel, str, bool], None]] = []
        self._far_end_prompt = 0  # prompts replacing the microphone towards the far end
        self._local_prompt = 0  # prompts replacing the far end on the loudspeaker
        self.mic_sent = 0
        self.processed = 0  # calls from this phone that ran the dialplan

    # -- the device -----------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the device open for as long as the node runs."""
        backoff = _BACKOFF_FIRST
        while True:
            try:
                await self._open()
            except (DeviceError, DeviceNotFound, AudioUnavailable) as exc:
                reason = str(exc)
                if reason != self.failure:
                    logger.error("Console/%s: cannot open the sound device: %s", self.name,
                                 reason)
                self.failure = reason
                await trio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                if isinstance(exc, DeviceNotFound):
                    await trio.to_thread.run_sync(rescan_devices)
                continue
            backoff = _BACKOFF_FIRST
            self.failure = None
            stream = self.stream
            assert stream is not None
            logger.info("Console/%s: sound device open: in '%s', out '%s', %d Hz, %d ms",
                        self.name, stream.input_device.name, stream.output_device.name,
                        stream.rate, self.config.frame_ms)
            self.ready.set()
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pump_microphone)
                    await self._failed.wait()
                    nursery.cancel_scope.cancel()
            finally:
                self.ready = trio.Event()
                with trio.CancelScope(shield=True):
                    await self._close()

    async def _open(self) -> None:
        config = self.config
        found = await trio.to_thread.run_sync(list_devices)
        source = find_device(config.input_device, "input", found)
        sink = find_device(config.output_device, "output", found)
        rate = config.samplerate or source.default_rate
        block = rate * config.frame_ms // 1000
        self.native = Format.SLIN16 if rate >= 16000 else Format.SLIN
        token = trio.lowlevel.current_trio_token()
        self._mic = Handoff(MIC_QUEUE_BLOCKS, token)
        self.feed = SpeakerFeed(self.native, rate, config.frame_ms, config.jitterbuffer,
                                gain_db=config.rx_gain)
        self._to_native = (Resampler(rate, self.native.sample_rate)
                           if rate != self.native.sample_rate else None)
        self._failed = trio.Event()

        def failed(reason: str) -> None:  # on a device thread
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(self._device_failed, reason)

        stream = DeviceStream(source, sink, rate, block, on_capture=self._mic.put,
                              fill=self.feed.pull, on_failure=failed)
        await trio.to_thread.run_sync(stream.open)
        stream.start()
        self.stream = stream

    async def _close(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            await trio.to_thread.run_sync(stream.close)

    def _device_failed(self, reason: str) -> None:
        logger.warning("Console/%s: sound device failed: %s", self.name, reason)
        self.failure = reason
        call = self.call
        if call is not None:
            call.end(Cause.DESTINATION_OUT_OF_ORDER, by_phone=True)
        self._failed.set()

    @property
    def stats(self) -> StreamStats | None:
        return self.stream.stats if self.stream is not None else None

    @property
    def mic_dropped(self) -> int:
        return self._mic.dropped if self._mic is not None else 0

    # -- microphone -----------------------------------------------------------------------

    async def _pump_microphone(self) -> None:
        mic = self._mic
        assert mic is not None
        while True:
            for block in await mic.get_all():
                self._from_microphone(block)

    def _from_microphone(self, block: Samples) -> None:
        call = self.call
        if not self._mic_listeners and call is None:
            return
        pcm = self._to_native.process(block) if self._to_native is not None else block
        pcm = apply_gain(pcm, self._tx_gain)
        for listener in list(self._mic_listeners):
            listener(pcm)
        if (call is None or call.is_hungup or self.muted or self._far_end_prompt
                or (call.state is not ChannelState.UP and not self.config.early_media)):
            return
        self.mic_sent += 1
        call.receive_voice(VoiceFrame(self.native, encode_linear(self.native, pcm), len(pcm)))

    def listen(self, listener: Callable[[Samples], None]) -> Callable[[], None]:
        """Hear the microphone (native-rate samples) until the returned function is called."""
        self._mic_listeners.append(listener)
        return lambda: self._mic_listeners.remove(listener)

    def on_digit(self, listener: Callable[[ConsoleChannel, str, bool], None]
                 ) -> Callable[[], None]:
        """Hear the DTMF the far end sends to this phone's calls, until the returned
        function is called."""
        self._digit_listeners.append(listener)
        return lambda: self._digit_listeners.remove(listener)

    # -- what a console channel needs (LocalEnd) ------------------------------------------

    def to_speaker(self, frame: VoiceFrame) -> None:
        feed = self.feed
        if feed is not None and not self._local_prompt:
            feed.put(frame)

    def tone(self, name: str) -> str | None:
        zone = self._host.indications.zone(None)  # indications.conf as reloaded
        return zone.tones.get(name.lower()) if zone is not None else None

    def digit_heard(self, channel: ConsoleChannel, digit: str, begin: bool) -> None:
        for listener in list(self._digit_listeners):
            listener(channel, digit, begin)

    def call_ended(self, channel: ConsoleChannel) -> None:
        if self.call is channel:
            self.call = None
            if self.feed is not None:
                self.feed.clear()

    def reconfigure(self, config: PhoneConfig) -> None:
        """Take a reloaded *config* (its device keys are those of the open device)."""
        if config.autoanswer != self.config.autoanswer:
            self.autoanswer = config.autoanswer
        self.config = config
        self._tx_gain = gain_factor(config.tx_gain)

    # -- calls ----------------------------------------------------------------------------

    def _channel(self, *, outgoing: bool, state: ChannelState, callerid: CallerId,
                 language: str = "", context: str | None = None, exten: str | None = None,
                 linked: Channel | None = None) -> ConsoleChannel:
        env = self._host.media_env
        channel = ConsoleChannel(self.name, self, env=env, nursery=self._host.nursery,
                                 native=self.native, outgoing=outgoing, state=state,
                                 caller_num=callerid[0], caller_name=callerid[1],
                                 language=language or self.config.language,
                                 uniqueid=_next_uniqueid())
        channel.mohinterpret = self.config.mohinterpret
        self.call = channel
        if env.events.active:
            env.events.publish(Newchannel(channel, context or self.config.context,
                                          exten or self.config.extension, linked=linked))
        return channel

    def outgoing_channel(self, caller_name: str | None = None, caller_num: str | None = None,
                         *, context: str | None = None,
                         exten: str | None = None) -> ConsoleChannel:
        """A new call from this phone, for a caller that dials it itself (the phone box)."""
        if self.call is not None:
            raise RuntimeError(f"Console/{self.name} is in a call")
        return self._channel(outgoing=True, state=ChannelState.RINGING,
                             callerid=(caller_num or self.config.callerid_num,
                                       caller_name or self.config.callerid_name),
                             context=context, exten=exten)

    def dial(self, exten: str, context: str) -> bool:
        """Run ``exten@context`` on a new call from this phone; False when no such extension."""
        engine = self._host.engine
        if not engine.plan.exists(context, exten, 1, self.config.callerid_num):
            return False
        channel = self.outgoing_channel(context=context, exten=exten)
        self.processed += 1
        self._host.nursery.start_soon(self._run_dialplan, channel, context, exten)
        return True

    async def _run_dialplan(self, channel: ConsoleChannel, context: str, exten: str) -> None:
        outcome = None
        try:
            outcome = await self._host.engine.start(channel, context, exten)
        except Exception:
            logger.exception("dialplan failed on %s", channel.name)
        finally:
            if outcome is not None and self._host.cdr is not None:
                self._host.cdr.call_ended(channel, outcome)
            channel.end(channel.hangup_cause or Cause.NORMAL_CLEARING)

    def ring(self, caller: Channel | None, callerid: CallerId) -> ConsoleLeg | DialResult:
        """``Dial(Console/<name>)`` (or the manager's Originate, without *caller*): ring the
        phone, showing *callerid* (or answer at once with autoanswer)."""
        if self.call is not None:
            logger.warning("Console channel already active!")
            return DialResult(DialStatus.BUSY, Cause.USER_BUSY)
        if self.failure is not None:
            logger.warning("Console/%s: the sound device is not available (%s)", self.name,
                           self.failure)
            return DialResult(DialStatus.CHANUNAVAIL, Cause.DESTINATION_OUT_OF_ORDER)
        channel = self._channel(outgoing=False, state=ChannelState.RING, callerid=callerid,
                                language=caller.language if caller is not None else "",
                                linked=caller)
        leg = ConsoleLeg(channel, trio.Event())
        console_verbose(f"Call to device '{self.name}' on console from "
                        f"'{callerid[1] or ''}' <{callerid[0] or ''}>")
        if self.autoanswer:
            console_verbose("Auto-answered")
            channel.answer_local()
            leg.settle(DialStatus.ANSWER, Cause.NORMAL_CLEARING)
            return leg
        console_verbose("Type 'console answer' to answer, or use the 'autoanswer' option "
                        "for future calls")
        self._host.nursery.start_soon(self._ringing, caller, leg)
        return leg

    async def _ringing(self, caller: Channel | None, leg: ConsoleLeg) -> None:
        channel = leg.channel
        if caller is not None and caller.state is not ChannelState.UP and not caller.is_hungup:
            await caller.indicate(Indication.RINGING)
        await channel.play_tone(self.config.ringtone)
        async with trio.open_nursery() as nursery:
            async def answered() -> None:
                await channel.answered.wait()
                leg.settle(DialStatus.ANSWER, Cause.NORMAL_CLEARING)
                nursery.cancel_scope.cancel()

            async def gone() -> None:
                await channel.wait(None)
                leg.settle(DialStatus.NOANSWER, channel.hangup_cause or Cause.NO_ANSWER)
                nursery.cancel_scope.cancel()

            nursery.start_soon(answered)
            nursery.start_soon(gone)

    def answer(self) -> bool:
        """``console answer``; False when no call is there to answer."""
        call = self.call
        if call is None or call.is_hungup:
            return False
        call.answer_local()
        return True

    def hangup(self) -> bool:
        """``console hangup``; False when there is no call."""
        call = self.call
        if call is None:
            return False
        call.end(Cause.NORMAL_CLEARING, by_phone=True)
        return True

    async def keypad(self, digits: str) -> None:
        """Digits typed on the phone during a call go to the far end as DTMF."""
        if self.call is not None:
            await send_keys(self.call, digits)

    # -- prompts --------------------------------------------------------------------------

    def _frames(self, filename: str, language: str = "") -> list[VoiceFrame]:
        """A sound file as frames of this phone's format; [] when it does not exist."""
        found = find_sound(filename, language or self.config.language or "en",
                           self._host.media_env.sound_dirs, self.native)
        if found is None:
            logger.warning("Console/%s: sound '%s' does not exist in any format", self.name,
                           filename)
            return []
        translator = Translator(found.format, self.native)
        frames = []
        for frame in file_frames(found.path, 0):
            payload = translator.convert(frame.payload)
            if payload:
                frames.append(VoiceFrame(self.native, payload,
                                         self.native.samples_in(len(payload))))
        return frames

    async def play_to_speaker(self, filename: str) -> bool:
        """Play a prompt on the loudspeaker (the far end is not heard meanwhile)."""
        frames = self._frames(filename)
        feed = self.feed
        if not frames or feed is None:
            return False
        self._local_prompt += 1
        try:
            await _paced(frames, feed.put)
        finally:
            self._local_prompt -= 1
        return True

    async def play_to_far_end(self, channel: ConsoleChannel, filename: str,
                              stop: Callable[[], bool] = lambda: False) -> bool:
        """Play a prompt to the far end of *channel* in place of the microphone, until
        the end, the hangup, or *stop* says so."""
        frames = self._frames(filename, channel.language)
        if not frames:
            return False
        self._far_end_prompt += 1
        try:
            await _paced(frames, channel.receive_voice, lambda: channel.is_hungup or stop())
        finally:
            self._far_end_prompt -= 1
        return True

    async def play_samples_to_speaker(self, samples: Samples) -> None:
        """Play generated audio (native rate) on the loudspeaker."""
        feed = self.feed
        if feed is None:
            return
        step = self.native.frame_samples
        frames = [VoiceFrame(self.native, encode_linear(self.native, samples[i:i + step]),
                             len(samples[i:i + step])) for i in range(0, len(samples), step)]
        self._local_prompt += 1
        try:
            await _paced(frames, feed.put)
        finally:
            self._local_prompt -= 1


async def send_keys(channel: ConsoleChannel, digits: str) -> None:
    """Key presses towards the far end of *channel*: BEGIN, 100 ms, END, a pause."""
    for char in digits:
        digit = char.upper()
        if channel.is_hungup:
            return
        if digit not in "0123456789*#ABCD":
            continue
        channel.receive_digit(digit, begin=True)
        await trio.sleep(_KEY_SECONDS)
        channel.receive_digit(digit, begin=False)
        await trio.sleep(_KEY_GAP_SECONDS)


async def _paced(frames: list[VoiceFrame], send: Callable[[VoiceFrame], None],
                 stop: Callable[[], bool] = lambda: False) -> None:
    next_at = trio.current_time()
    for frame in frames:
        if stop():
            return
        send(frame)
        next_at += frame.samples / frame.fmt.sample_rate
        await trio.sleep_until(next_at)

