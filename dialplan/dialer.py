"""How ``Dial`` reaches another leg: an injected :class:`Dialer` (the channel layer's job)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from dialplan.channel import Channel

__all__ = ["DialResult", "DialStatus", "Dialer", "Originated"]


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
    # Reported alongside the outcome, not part of it (results compare by status and cause).
    dialed_seconds: float = field(default=0.0, compare=False)  # ${DIALEDTIME}
    answered_seconds: float = field(default=0.0, compare=False)  # ${ANSWEREDTIME}
    peer: str = field(default="", compare=False)  # answered or last tried: the CDR dstchannel
    # The far end blind-transferred the caller: continue the plan at (context, exten), 1.
    redirect: tuple[str, str] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Originated:
    """What a call placed from nowhere (the manager's Originate) came to.

    With ANSWER, *channel* is the answered leg and belongs to whoever asked: it runs the
    leg through the dialplan and hangs it up. Otherwise *channel* is the leg that was
    tried (already over), or None when none could be created.
    """

    status: DialStatus
    channel: Channel | None = None
    hangup_cause: int = 16


class Dialer(Protocol):
    async def dial(self, channel: Channel, targets: list[str], timeout: float | None,
                   options: str) -> DialResult:
        """Call *targets* (``TECH/resource`` strings) in parallel; for ANSWER, return
        when the bridged call is over."""
        ...

    async def originate(self, target: str, timeout: float | None, caller_num: str | None,
                        caller_name: str | None) -> Originated:
        """Call *target* alone, with that caller ID, and return once it answers, fails or
        *timeout* (seconds) runs out; nothing is bridged."""
        ...
