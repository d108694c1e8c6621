"""How ``Dial`` reaches another leg: an injected :class:`Dialer` (the channel layer's job)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from dialplan.channel import Channel

__all__ = ["DialResult", "DialStatus", "Dialer"]


class DialStatus(StrEnum):
    """Values of ``${DIALSTATUS}``."""

    ANSWER = "ANSWER"
    BUSY = "BUSY"
    NOANSWER = "NOANSWER"
    CANCEL = "CANCEL"
    CONGESTION = "CONGESTION"
    CHANUNAVAIL = "CHANUNAVAIL"


@dataclass(frozen=True)
class DialResult:
    status: DialStatus
    hangup_cause: int = 16  # AST_CAUSE_NORMAL_CLEARING
    dialed_seconds: float = 0.0  # ${DIALEDTIME}: from the start of Dial to its end
    answered_seconds: float = 0.0  # ${ANSWEREDTIME}: from the answer to the end of the bridge
    peer: str = ""  # the channel that answered (or was last tried): the CDR's dstchannel


class Dialer(Protocol):
    async def dial(self, channel: Channel, targets: list[str], timeout: float | None,
                   options: str) -> DialResult:
        """Call *targets* (``TECH/resource`` strings) in parallel; for ANSWER, return
        when the bridged call is over."""
        ...
