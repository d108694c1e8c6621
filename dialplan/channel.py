"""The only view the dialplan has of a call leg.

IAX2 legs, local phones and test doubles all implement :class:`Channel`; the engine never
imports the protocol code.  Media is optional: a channel says what it can do through
:meth:`Channel.supports`, and applications that need a missing capability fail the call
with a log line instead of pretending to work.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = ["Channel", "ChannelState", "Feature", "Indication"]


class ChannelState(StrEnum):
    DOWN = "down"
    RING = "ring"
    RINGING = "ringing"
    UP = "up"


class Indication(StrEnum):
    RINGING = "ringing"
    PROGRESS = "progress"
    BUSY = "busy"
    CONGESTION = "congestion"


class Feature(StrEnum):
    """Capabilities an application may need from a channel."""

    PLAY = "play"  # play a sound file (Playback, Background, STREAM FILE, SAY DIGITS)
    RECORD = "record"  # record to a file (Record, RECORD FILE)
    DTMF_IN = "dtmf_in"  # receive digits (Read, WaitExten, WAIT FOR DIGIT, GET DATA)
    DTMF_OUT = "dtmf_out"  # send digits (SendDTMF)
    ECHO = "echo"  # loop audio back (Echo)
    TONES = "tones"  # generate tones (Milliwatt, Playtones)
    MOH = "moh"  # music on hold
    TEXT = "text"  # send TEXT frames (SendText)


@runtime_checkable
class Channel(Protocol):
    """A call leg as the dialplan sees it.  All waiting methods are trio-async."""

    @property
    def name(self) -> str: ...
    @property
    def uniqueid(self) -> str: ...

    # Caller and call identity (mutable: Set(CALLERID(num)=...) writes them).
    caller_num: str | None
    caller_name: str | None
    caller_ani: str | None
    language: str
    accountcode: str
    dnid: str | None
    rdnis: str | None
    variables: dict[str, str]
    hangup_cause: int

    @property
    def state(self) -> ChannelState: ...
    @property
    def is_hungup(self) -> bool: ...

    def supports(self, feature: Feature) -> bool: ...

    async def answer(self) -> None: ...
    async def hangup(self, cause: int) -> None: ...
    async def indicate(self, indication: Indication) -> None: ...
    async def send_text(self, text: str) -> bool: ...
    async def send_dtmf(self, digits: str) -> None: ...

    async def wait(self, seconds: float | None) -> bool:
        """Wait *seconds* (``None``: until hangup); False when the call hung up meanwhile."""
        ...

    async def wait_for_digit(self, timeout: float | None) -> str | None:
        """The next DTMF digit, or None on timeout (raises nothing on hangup: None)."""
        ...

    async def play(self, filename: str, escape_digits: str) -> str | None:
        """Play *filename*; returns the escape digit that stopped it, if any."""
        ...

    async def record(self, filename: str, escape_digits: str, max_seconds: float | None,
                     silence_seconds: float | None) -> str | None:
        """Record until an escape digit, silence, the limit or hangup; returns the digit."""
        ...

    async def echo(self) -> None: ...
    async def play_tones(self, spec: str, seconds: float | None) -> None: ...
    async def music_on_hold(self, moh_class: str, seconds: float | None) -> None: ...
