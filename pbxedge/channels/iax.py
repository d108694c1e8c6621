"""An IAX2 call leg as the dialplan sees it.

The channel turns dialplan requests into frames on its call (through :class:`IaxLink`)
and turns what the peer sends (digits, hangup) into what the dialplan waits for. It knows
nothing of sequence numbers or authentication: the inbound/outbound handlers feed it.

Media (voice) is a later layer: the channel refuses PLAY/RECORD/ECHO/TONES/MOH through
:meth:`IaxChannel.supports`, so those applications fail the call with a clear log line.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections import deque
from typing import Literal, Protocol

import trio

from dialplan.channel import Channel, ChannelState, Feature, Indication
from pbxedge.iax2.callstate import CallStateError
from pbxedge.iax2.endpoint import UnknownCall
from pbxedge.iax2.enums import ControlSubclass
from pbxedge.log import verbose

__all__ = ["EndpointLink", "IaxChannel", "IaxLink", "MediaUnavailable"]

logger = logging.getLogger("pbxedge.channels")

_SUPPORTED = frozenset({Feature.DTMF_IN, Feature.DTMF_OUT, Feature.TEXT})
_INDICATIONS = {
    Indication.RINGING: ControlSubclass.RINGING,
    Indication.PROGRESS: ControlSubclass.PROGRESS,
    Indication.BUSY: ControlSubclass.BUSY,
    Indication.CONGESTION: ControlSubclass.CONGESTION,
}
_DIGITS_KEPT = 64  # digits nobody reads yet; more is a flood and is dropped
_Relayed = tuple[Literal["dtmf", "text"], str]
_sequence = itertools.count(1)


class MediaUnavailable(RuntimeError):
    """Audio was asked of a channel that has none (the dialplan checks supports() first)."""


class IaxLink(Protocol):
    """How a channel reaches its call on the wire."""

    def send_control(self, subclass: int) -> None: ...
    def send_text(self, text: str) -> None: ...
    def send_dtmf(self, digit: str) -> None: ...
    def hangup(self, cause: int) -> None: ...


class _Service(Protocol):
    @property
    def endpoint(self) -> _Commands: ...
    def now(self) -> float: ...
    def kick(self) -> None: ...


class _Commands(Protocol):
    def send_control(self, callno: int, subclass: int, now: float, payload: bytes = b"") -> None: ...
    def send_text(self, callno: int, text: str, now: float) -> None: ...
    def send_dtmf(self, callno: int, digit: str, now: float) -> None: ...
    def hangup(self, callno: int, cause: int, now: float) -> None: ...


class EndpointLink:
    """:class:`IaxLink` over the node's endpoint. A call that vanished meanwhile (the peer
    hung up, retries ran out) makes a command a no-op: there is nobody left to tell."""

    def __init__(self, service: _Service, callno: int) -> None:
        self._service = service
        self.callno = callno

    def _run(self, command: str, *args: object) -> None:
        endpoint = self._service.endpoint
        try:
            getattr(endpoint, command)(self.callno, *args, self._service.now())
        except (UnknownCall, CallStateError) as exc:
            logger.debug("call %d: %s dropped (%s)", self.callno, command, exc)
            return
        self._service.kick()

    def send_control(self, subclass: int) -> None:
        self._run("send_control", subclass)

    def send_text(self, text: str) -> None:
        self._run("send_text", text)

    def send_dtmf(self, digit: str) -> None:
        self._run("send_dtmf", digit)

    def hangup(self, cause: int) -> None:
        self._run("hangup", cause)


class IaxChannel:
    """One IAX2 call leg (``IAX2/<host>-<callno>``)."""

    def __init__(
        self,
        name: str,
        link: IaxLink,
        *,
        state: ChannelState = ChannelState.RING,
        caller_num: str | None = None,
        caller_name: str | None = None,
        language: str = "en",
        accountcode: str = "",
    ) -> None:
        self._name = name
        self._uniqueid = f"{int(time.time())}.{next(_sequence)}"
        self._link = link
        self._state = state
        self.caller_num = caller_num
        self.caller_name = caller_name
        self.caller_ani: str | None = caller_num
        self.language = language
        self.accountcode = accountcode
        self.amaflags = "default"
        self.username = ""
        self.dnid: str | None = None
        self.rdnis: str | None = None
        self.variables: dict[str, str] = {}
        self.hangup_cause = 0
        self.codec = 0
        self.created = time.monotonic()
        self._hungup = trio.Event()
        self._digits: deque[str] = deque()
        self._wakeup = trio.Event()
        self._relay: trio.MemorySendChannel[_Relayed] | None = None
        self._begun: str | None = None  # digit relayed at its DTMF_BEGIN, END still to come

    # -- identity and state ---------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def uniqueid(self) -> str:
        return self._uniqueid

    @property
    def state(self) -> ChannelState:
        return self._state

    @property
    def is_hungup(self) -> bool:
        return self._hungup.is_set()

    def supports(self, feature: Feature) -> bool:
        return feature in _SUPPORTED

    # -- from the peer --------------------------------------------------------------------

    def remote_answered(self) -> None:
        self._state = ChannelState.UP

    def remote_ringing(self) -> None:
        if self._state is not ChannelState.UP:
            self._state = ChannelState.RINGING

    def remote_digit(self, digit: str, *, begin: bool = False) -> None:
        """A DTMF_END (or, with *begin*, a DTMF_BEGIN) from the peer.

        Bridged, the digit goes to the other leg. Asterisk sends BEGIN then END for each
        key press and the other leg only gets whole digits, so a press is relayed once: at
        its BEGIN, or at its END when no BEGIN came. Unbridged, only ENDs feed
        :meth:`wait_for_digit`, as they always have.
        """
        if self._relay is not None:
            if begin:
                self._begun = digit
            elif self._begun == digit:
                self._begun = None
                return
            else:
                self._begun = None
            self._relay_item(("dtmf", digit))
            return
        if begin:
            return
        self._begun = None
        if len(self._digits) < _DIGITS_KEPT:
            self._digits.append(digit)
        self._wake()

    def remote_text(self, text: str) -> None:
        """A TEXT frame: the other leg's, when bridged; nobody reads it otherwise."""
        if self._relay is not None:
            self._relay_item(("text", text))
            return
        # repr: the text is the peer's, and must not put control characters in the log.
        verbose(3, f"{self._name}: TEXT {text!r} dropped: not bridged to another channel")

    def _relay_item(self, item: _Relayed) -> None:
        assert self._relay is not None
        try:
            self._relay.send_nowait(item)
        except trio.WouldBlock:
            # The other leg is not keeping up: a flood, dropped like unread digits.
            logger.debug("%s: %s relay full, dropped", self._name, item[0])

    async def relay_to(self, other: Channel, *, queued_digits: bool = False) -> None:
        """Pass DTMF and TEXT from the peer to *other* until cancelled (the bridge ends).

        *queued_digits*: first pass on the digits already waiting; for a called leg, whose
        digits nobody else reads, these arrived between ANSWER and the start of the bridge.
        """
        send, receive = trio.open_memory_channel[_Relayed](_DIGITS_KEPT)
        self._relay = send
        self._begun = None
        try:
            if queued_digits:
                while self._digits:
                    await other.send_dtmf(self._digits.popleft())
            async for kind, value in receive:
                if kind == "dtmf":
                    await other.send_dtmf(value)
                else:
                    await other.send_text(value)
        finally:
            self._relay = None
            self._begun = None

    def remote_hangup(self, cause: int) -> None:
        """The peer ended the call (HANGUP/REJECT CAUSECODE, or the call was lost)."""
        if self.is_hungup:
            return
        if cause:
            self.hangup_cause = cause
        self._hungup.set()
        self._wake()

    def _wake(self) -> None:
        self._wakeup.set()
        self._wakeup = trio.Event()

    # -- from the dialplan ----------------------------------------------------------------

    async def answer(self) -> None:
        if self.is_hungup or self._state is ChannelState.UP:
            return
        self._state = ChannelState.UP
        self._link.send_control(ControlSubclass.ANSWER)
        # Asterisk follows ANSWER with "stop sounds" (CONTROL 255, §15.7).
        self._link.send_control(ControlSubclass.STOP_SOUNDS)

    async def hangup(self, cause: int) -> None:
        if self.is_hungup:
            return
        self.hangup_cause = cause
        self._hungup.set()
        self._wake()
        self._link.hangup(cause)

    async def indicate(self, indication: Indication) -> None:
        if not self.is_hungup:
            self._link.send_control(_INDICATIONS[indication])

    async def send_text(self, text: str) -> bool:
        if self.is_hungup:
            return False
        self._link.send_text(text)
        return True

    async def send_dtmf(self, digits: str) -> None:
        for digit in digits:
            if self.is_hungup:
                return
            if len(digit) == 1 and digit.isascii():
                self._link.send_dtmf(digit)

    async def wait(self, seconds: float | None) -> bool:
        with trio.move_on_after(math.inf if seconds is None else max(0.0, seconds)):
            await self._hungup.wait()
            return False
        return True

    async def wait_for_digit(self, timeout: float | None) -> str | None:
        with trio.move_on_after(math.inf if timeout is None else max(0.0, timeout)):
            while True:
                if self._digits:
                    return self._digits.popleft()
                if self.is_hungup:
                    return None
                await self._wakeup.wait()
        return None

    # -- media: not on this node yet ------------------------------------------------------

    def _no_media(self, what: str) -> MediaUnavailable:
        return MediaUnavailable(f"{self._name}: {what} needs media, which IAX2 legs lack")

    async def play(self, filename: str, escape_digits: str) -> str | None:
        raise self._no_media("play")

    async def record(self, filename: str, escape_digits: str, max_seconds: float | None,
                     silence_seconds: float | None) -> str | None:
        raise self._no_media("record")

    async def echo(self) -> None:
        raise self._no_media("echo")

    async def play_tones(self, spec: str, seconds: float | None) -> None:
        raise self._no_media("play_tones")

    async def music_on_hold(self, moh_class: str, seconds: float | None) -> None:
        raise self._no_media("music_on_hold")
