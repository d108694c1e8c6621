"""Receive statistics exchanged in PONG frames (reference iax2.md §1.8 IEs 46–51, §2.6).

Asterisk's ``construct_rr`` puts its jitter buffer's figures into every PONG it sends on a
call, and ``save_rr`` keeps the peer's figures; ``iax2 show netstats`` prints ours as LOCAL
and the peer's as REMOTE. pbxedge has no jitter buffer, so its own jitter and delay are 0 and
nothing is ever dropped; the packet and out-of-order counts are real.
"""

from __future__ import annotations

from dataclasses import dataclass

from pbxedge.iax2.enums import IE
from pbxedge.iax2.ies import IEList

__all__ = ["ReceptionReport"]

_U24 = 0xFFFFFF
_U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class ReceptionReport:
    """One side's view of the audio it received, in ``construct_rr``'s units."""

    jitter: int = 0  # ms
    loss_pct: int = 0  # 0-255, the high byte of RR_LOSS
    loss_count: int = 0  # frames lost, the low 24 bits of RR_LOSS
    packets: int = 0  # voice frames received
    delay: int = 0  # ms of jitter-buffer delay (RR_DELAY is 16 bits)
    dropped: int = 0
    ooo: int = 0  # frames that arrived out of order

    def ies(self) -> IEList:
        """The six RR IEs in ``construct_rr``'s order; counters wrap like Asterisk's."""
        loss = ((self.loss_pct & 0xFF) << 24) | (self.loss_count & _U24)
        return (
            IEList()
            .add_u32(IE.RR_JITTER, self.jitter & _U32)
            .add_u32(IE.RR_LOSS, loss)
            .add_u32(IE.RR_PKTS, self.packets & _U32)
            .add_u16(IE.RR_DELAY, self.delay & 0xFFFF)
            .add_u32(IE.RR_DROPPED, self.dropped & _U32)
            .add_u32(IE.RR_OOO, self.ooo & _U32)
        )

    @classmethod
    def from_ies(cls, ies: IEList) -> ReceptionReport:
        """``save_rr``: an absent or badly sized IE reads as 0, as Asterisk's parser leaves it."""
        loss = ies.get_u32(IE.RR_LOSS) or 0
        return cls(
            jitter=ies.get_u32(IE.RR_JITTER) or 0,
            loss_pct=loss >> 24,
            loss_count=loss & _U24,
            packets=ies.get_u32(IE.RR_PKTS) or 0,
            delay=ies.get_u16(IE.RR_DELAY) or 0,
            dropped=ies.get_u32(IE.RR_DROPPED) or 0,
            ooo=ies.get_u32(IE.RR_OOO) or 0,
        )
