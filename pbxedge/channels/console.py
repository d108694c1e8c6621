"""A call on a local phone (``Console/<name>``): the node's own microphone and loudspeaker.

The channel is the call; the phone (:mod:`pbxedge.phones.phone`) is the device it runs on
and outlives it. What the channel sends goes to the phone's loudspeaker
(:meth:`LocalEnd.to_speaker`); what the phone's microphone, keypad and console produce
comes in as if received from a leg (:meth:`MediaChannel.receive_voice`, ``receive_digit``,
``receive_text``, ``receive_flash``), so Playback, Echo, Record, Dial and bridges work on a
local phone as on any IAX2 call.

Like chan_console: ringing, busy and congestion are played as tones to the loudspeaker
(from indications.conf), far-end DTMF and TEXT are logged, and the log lines carry
chan_console's ``--- <("<) ---`` frame. Like an IAX2 leg, the channel tells the node's event
bus its state changes, digits (``Received`` from the phone's keypad, ``Sent`` to its
loudspeaker) and its end; whoever creates it tells its ``Newchannel``.
"""

from __future__ import annotations

import time
from typing import Protocol

import trio

from dialplan.channel import ChannelState, Feature, Indication
from pbxedge.channels.media import (
    AudioSink,
    DigitSink,
    FlashSink,
    HoldSink,
    MediaChannel,
    MediaEnv,
    TextSink,
    VoiceFrame,
)
from pbxedge.events import (
    DtmfBegin,
    DtmfEnd,
    Hangup,
    HangupRequest,
    Newstate,
    SoftHangupRequest,
)
from pbxedge.log import printable, verbose
from pbxedge.media.formats import Format
from pbxedge.media.tones import ToneGenerator, ToneListError

__all__ = ["ConsoleChannel", "LocalEnd", "console_verbose"]

_INDICATION_TONES = {
    Indication.RINGING: "ring",
    Indication.BUSY: "busy",
    Indication.CONGESTION: "congestion",
}


def console_verbose(text: str) -> None:
    """chan_console's framed verbose line."""
    verbose(1, f' --- <("<) --- {text} --- (>")> ---')


class LocalEnd(Protocol):
    """What a console channel needs of its phone."""

    def to_speaker(self, frame: VoiceFrame) -> None: ...

    def tone(self, name: str) -> str | None:
        """The tone list of *name* in the phone's tone zone."""
        ...

    def digit_heard(self, channel: ConsoleChannel, digit: str, begin: bool) -> None: ...

    def call_ended(self, channel: ConsoleChannel) -> None: ...


class ConsoleChannel(MediaChannel):
    technology = "Console"
    buffers_audio = True  # the phone's speaker feed is a jitter buffer

    def __init__(self, device: str, end: LocalEnd, *, env: MediaEnv, nursery: trio.Nursery,
                 native: Format, outgoing: bool, state: ChannelState,
                 caller_num: str | None = None, caller_name: str | None = None,
                 language: str = "", uniqueid: str = "") -> None:
        super().__init__(f"Console/{device}", env, nursery, native)
        self.device = device
        self._end = end
        self.outgoing = outgoing  # dialled from the phone (console dial, the button)
        self._state = state
        self._uniqueid = uniqueid or f"{time.time():.6f}"
        self.caller_num = caller_num
        self.caller_name = caller_name
        self.caller_ani: str | None = caller_num
        self.language = language or "en"
        self.accountcode = ""
        self.amaflags = "default"
        self.dnid: str | None = None
        self.rdnis: str | None = None
        self.variables: dict[str, str] = {}
        self.answered = trio.Event()
        self.joined = trio.Event()  # a bridge (or Echo…) holds the channel's audio
        self._digit_began: dict[str, float] = {}

    # -- identity and state ---------------------------------------------------------------

    @property
    def uniqueid(self) -> str:
        return self._uniqueid

    @property
    def state(self) -> ChannelState:
        return self._state

    def supports(self, feature: Feature) -> bool:
        return True

    def take_audio(self, audio: AudioSink | None, digits: DigitSink | None = None,
                   text: TextSink | None = None, hold: HoldSink | None = None,
                   flash: FlashSink | None = None) -> None:
        super().take_audio(audio, digits, text, hold, flash)
        if audio is not None:
            self.joined.set()

    # -- answer and hangup ----------------------------------------------------------------

    def answer_local(self) -> None:
        """The phone answers (``console answer``, the button, ``autoanswer``)."""
        self._up()

    async def answer(self) -> None:
        """The dialplan (or a Dial that got its answer) answers a call made from here."""
        if self.is_hungup or self._state is ChannelState.UP:
            return
        if self.outgoing:
            console_verbose("Call from Console has been Answered")
        self._up()

    def _up(self) -> None:
        if self.is_hungup or self._state is ChannelState.UP:
            return
        self._stop_background()  # the ringing or ringback tone
        self._state = ChannelState.UP
        self._mark_answered()
        self.answered.set()
        if self.env.events.active:
            self.env.events.publish(Newstate(self))

    async def hangup(self, cause: int) -> None:
        self.end(cause)

    def end(self, cause: int, *, by_phone: bool = False) -> None:
        """The call is over: the node ended it, or the phone did (*by_phone*: ``console
        hangup``, the button, the device lost)."""
        if self.is_hungup:
            return
        self.hangup_cause = cause or self.hangup_cause
        events = self.env.events
        if events.active:
            if not by_phone:
                events.publish(SoftHangupRequest(self, self.hangup_cause))
            events.publish(HangupRequest(self, self.hangup_cause))
        self._mark_hungup()
        console_verbose("Hangup on Console")
        self._end.call_ended(self)
        if events.active:
            events.publish(Hangup(self, self.hangup_cause))

    # -- indications ----------------------------------------------------------------------

    async def indicate(self, indication: Indication) -> None:
        """In-band, as chan_console asks the core for: the tone goes to the speaker."""
        if self.is_hungup:
            return
        name = _INDICATION_TONES.get(indication)
        if name is not None:
            await self.play_tone(name)

    async def play_tone(self, name: str) -> bool:
        """Play the zone's tone *name* (or a tone list) to the speaker until something else
        plays or the call is answered; False when it is no tone."""
        spec = self._end.tone(name) or name
        try:
            generator = ToneGenerator(spec)
        except ToneListError:
            return False
        await self.start_generator(generator)
        return True

    # -- from the phone -------------------------------------------------------------------

    def receive_digit(self, digit: str, *, begin: bool = False) -> None:
        """A key of the phone's keypad, towards whoever holds the call."""
        events = self.env.events
        if events.active:
            events.publish(DtmfBegin(self, digit) if begin else DtmfEnd(self, digit))
        super().receive_digit(digit, begin=begin)

    # -- towards the phone ----------------------------------------------------------------

    def _emit_voice(self, frame: VoiceFrame) -> None:
        self._end.to_speaker(frame)

    def _emit_digit(self, digit: str, begin: bool) -> None:
        now = time.monotonic()
        events = self.env.events
        if begin:
            self._digit_began[digit] = now
            console_verbose(f"Console Received Beginning of Digit {digit}")
            if events.active:
                events.publish(DtmfBegin(self, digit, "Sent"))
        else:
            began = self._digit_began.pop(digit, None)
            duration = int((now - began) * 1000) if began is not None else 100
            console_verbose(f"Console Received End of Digit {digit} (duration {duration})")
            if events.active:
                events.publish(DtmfEnd(self, digit, duration, "Sent"))
        self._end.digit_heard(self, digit, begin)

    def _emit_text(self, text: str) -> None:
        console_verbose(f"Console Received Text '{printable(text)}'")

    def _emit_flash(self) -> None:
        console_verbose("Console Received Flash")

    def _emit_hold(self, on: bool) -> None:
        console_verbose("Console Has Been Placed on Hold" if on
                        else "Console Has Been Retrieved from Hold")
