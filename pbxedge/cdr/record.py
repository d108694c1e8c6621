"""A call's detail record and how Asterisk 22 fills it (media.md §7).

``duration`` is ``floor(end − start)``; ``billsec`` is ``floor(end − answer)`` (rounded half
up with ``initiatedseconds=yes``) and 0 when never answered. Times are unix seconds here and
are formatted by the writers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["AmaFlags", "CdrRecord", "Disposition", "disposition_for"]


class Disposition(StrEnum):
    NO_ANSWER = "NO ANSWER"
    FAILED = "FAILED"
    BUSY = "BUSY"
    ANSWERED = "ANSWERED"
    CONGESTION = "CONGESTION"


class AmaFlags(StrEnum):
    DOCUMENTATION = "DOCUMENTATION"
    BILLING = "BILLING"
    OMIT = "OMIT"

    @classmethod
    def from_config(cls, value: str | None) -> AmaFlags:
        """iax.conf ``amaflags``: default/documentation, billing, omit."""
        match (value or "").lower():
            case "billing":
                return cls.BILLING
            case "omit":
                return cls.OMIT
        return cls.DOCUMENTATION


_DIAL_DISPOSITIONS = {
    "ANSWER": Disposition.ANSWERED,
    "BUSY": Disposition.BUSY,
    "NOANSWER": Disposition.NO_ANSWER,
    "CANCEL": Disposition.NO_ANSWER,
    "CHANUNAVAIL": Disposition.FAILED,
    "CONGESTION": Disposition.CONGESTION,
}


def disposition_for(answered: bool, dialstatus: str | None, *, congestion: bool) -> Disposition:
    """ANSWERED when answered; otherwise what the last Dial found (cdr.c maps congestion
    to FAILED unless ``congestion=yes``)."""
    if answered:
        return Disposition.ANSWERED
    found = _DIAL_DISPOSITIONS.get((dialstatus or "").upper(), Disposition.NO_ANSWER)
    if found is Disposition.CONGESTION and not congestion:
        return Disposition.FAILED
    return found


@dataclass(frozen=True)
class CdrRecord:
    accountcode: str
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: float
    answer: float | None
    end: float
    disposition: Disposition
    amaflags: AmaFlags
    uniqueid: str
    userfield: str = ""
    peeraccount: str = ""
    linkedid: str = ""
    sequence: int = 0

    @property
    def duration(self) -> int:
        return max(0, math.floor(self.end - self.start))

    def billsec(self, *, initiated_seconds: bool = False) -> int:
        if self.answer is None:
            return 0
        seconds = max(0.0, self.end - self.answer)
        return math.floor(seconds + 0.5) if initiated_seconds else math.floor(seconds)
