"""What the IAX2 endpoint reports to the layer above (pulled with ``Endpoint.next_event()``)."""

from __future__ import annotations

from dataclasses import dataclass

from pbxedge.iax2.callnumbers import LimitKind
from pbxedge.iax2.enums import IaxSubclass
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList

__all__ = [
    "CallDestroyed",
    "CallTokenRejected",
    "CallTransferred",
    "Event",
    "FrameReceived",
    "LimitReached",
    "NewCall",
    "PeerUnreachable",
    "PongReceived",
    "TransferFailed",
    "TransferReleased",
    "VoiceReceived",
]

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class NewCall:
    """An incoming NEW/REGREQ/REGREL passed the call-token rules and got call number ``callno``;
    ``ies`` are the frame's, already parsed."""

    callno: int
    addr: Address
    frame: FullFrame
    token_validated: bool
    ies: IEList


@dataclass(frozen=True, slots=True)
class FrameReceived:
    """An in-order full frame the endpoint does not consume itself (AUTHREQ, ACCEPT, CONTROL…)."""

    callno: int
    frame: FullFrame


@dataclass(frozen=True, slots=True)
class VoiceReceived:
    """Audio for ``callno``; ``timestamp`` is the full 32-bit one, rebuilt for mini frames."""

    callno: int
    codec: int
    timestamp: int
    payload: bytes
    full: bool
    interpolated: bool = False  # the jitter buffer's stand-in for a lost frame (payload repeated)


@dataclass(frozen=True, slots=True)
class CallTokenRejected:
    """A request without a CALLTOKEN IE was refused statelessly because a token is required."""

    addr: Address
    subclass: IaxSubclass
    username: str | None


@dataclass(frozen=True, slots=True)
class PongReceived:
    """The answer to our POKE (the call is then gone) or to our PING on a live call."""

    callno: int
    addr: Address
    rtt_ms: int


@dataclass(frozen=True, slots=True)
class PeerUnreachable:
    """A reliable frame went unacknowledged after every retry; the call is destroyed next."""

    callno: int
    addr: Address


@dataclass(frozen=True, slots=True)
class CallDestroyed:
    """The call is gone; its number is held for a while before reuse."""

    callno: int
    reason: str


@dataclass(frozen=True, slots=True)
class LimitReached:
    """A request was refused because of a call-number limit (``kind`` says which)."""

    addr: Address
    kind: LimitKind


@dataclass(frozen=True, slots=True)
class CallTransferred:
    """Our peer (a bridge) re-pathed this call: after TXREL it now talks to ``addr``
    (signalling and media); after TXMEDIA only our mini voice goes there."""

    callno: int
    addr: Address
    media_only: bool


@dataclass(frozen=True, slots=True)
class TransferReleased:
    """A native transfer this node started went through on ``callno``: the TXREL (the
    call then ends here, without a HANGUP) or TXMEDIA is on its way to the leg."""

    callno: int
    media_only: bool


@dataclass(frozen=True, slots=True)
class TransferFailed:
    """A native transfer of ``callno`` (either role) was refused or timed out."""

    callno: int
    reason: str


Event = (
    NewCall
    | FrameReceived
    | VoiceReceived
    | CallTokenRejected
    | PongReceived
    | PeerUnreachable
    | CallDestroyed
    | LimitReached
    | CallTransferred
    | TransferReleased
    | TransferFailed
)
