"""The only view the dialplan has of a call leg.

IAX2 legs, local phones and test doubles all implement :class:`Channel`; the engine never
imports the protocol code.  Media is optional: a channel says what it can do through
:meth:`Channel.supports`, and applications that need a missing capability fail the call
with a log line instead of pretending to work.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Channel",
    "ChannelState",
    "Feature",
    "Indication",
    "PcmSource",
    "Played",
    "RecordRequest",
    "RecordResult",
    "RecordStatus",
    "SoundNotFound",
    "Transferable",
]


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


class SoundNotFound(LookupError):
    """A sound file that exists in no format the channel can play (Asterisk: "File X does
    not exist in any format")."""


class PcmSource(Protocol):
    """Generated audio: 16-bit samples at 8000 Hz (what Asterisk's generators produce)."""

    def read(self, samples: int) -> NDArray[np.int16] | None:
        """The next *samples* samples, or None when finished."""
        ...


@dataclass(frozen=True)
class Played:
    """How a played file ended: the escape digit that stopped it, and where (samples)."""

    digit: str | None
    endpos: int


class RecordStatus(StrEnum):
    """``${RECORD_STATUS}``."""

    DTMF = "DTMF"
    OPERATOR = "OPERATOR"
    SILENCE = "SILENCE"
    SKIP = "SKIP"
    TIMEOUT = "TIMEOUT"
    HANGUP = "HANGUP"
    ERROR = "ERROR"


@dataclass(frozen=True)
class RecordRequest:
    """What Record()/RECORD FILE ask of a channel (app_record's options, already parsed)."""

    path: str  # without the extension
    fmt: str  # the extension: wav, gsm, ulaw, sln, wav49 ...
    silence: float | None = None  # seconds of silence that end the recording
    max_duration: float | None = None  # seconds
    terminators: str = "#"  # digits that end it (status DTMF); "" with option x
    operator: bool = False  # option o: '0' ends it with status OPERATOR
    append: bool = False  # option a
    keep_on_hangup: bool = False  # option k
    keep_silence: bool = False  # option u: keep trailing silence


@dataclass(frozen=True)
class RecordResult:
    status: RecordStatus
    digit: str | None = None
    samples: int = 0  # samples kept in the file


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
    async def send_dtmf(self, digits: str, duration_ms: int = 100, gap_ms: int = 250) -> None:
        """SendDTMF: BEGIN, *duration_ms*, END, *gap_ms* per digit; ``w``/``W`` pause."""
        ...

    async def wait(self, seconds: float | None) -> bool:
        """Wait *seconds* (``None``: until hangup); False when the call hung up meanwhile."""
        ...

    async def wait_for_digit(self, timeout: float | None) -> str | None:
        """The next DTMF digit, or None on timeout (raises nothing on hangup: None)."""
        ...

    def sound_exists(self, filename: str) -> bool:
        """Whether *filename* exists in a format this channel can play (language first)."""
        ...

    async def play(self, filename: str, escape_digits: str, offset: int = 0) -> Played:
        """Play *filename* from sample *offset*; stops at an escape digit or hangup.

        Raises :class:`SoundNotFound` when the file exists in no format.
        """
        ...

    async def record(self, request: RecordRequest) -> RecordResult: ...

    async def echo(self) -> None:
        """Send back everything received (voice, DTMF, text) until ``#`` or hangup."""
        ...

    async def start_generator(self, source: PcmSource) -> None:
        """Play *source* in the background (Playtones, Milliwatt), replacing any other."""
        ...

    async def stop_generator(self) -> None: ...

    async def start_moh(self, moh_class: str) -> bool:
        """Music on hold in the background; False when the class does not exist."""
        ...

    async def stop_moh(self) -> None: ...


@runtime_checkable
class Transferable(Protocol):
    """A channel whose technology can blind-transfer the far end (``Transfer()``)."""

    @property
    def technology(self) -> str:
        """``IAX2``: the ``Tech`` a ``Transfer(Tech/dest)`` must name."""
        ...

    async def transfer(self, destination: str) -> bool:
        """Ask the far end to send its side of the call to ``exten[@context]``; False when
        the request could not be sent."""
        ...
