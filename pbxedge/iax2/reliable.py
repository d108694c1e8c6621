"""Reliable delivery of full frames: the per-call retransmission queue (reference iax2.md §2.3–§2.4).

Schedule (pbxedge, deliberately kinder than Asterisk's ×10): the first retry waits
``T = clamp(2 × RTT, 100 ms, 10 s)``, each later wait doubles, no single wait exceeds 10 s,
and a frame is sent 4 times in total. With T = 1 s the sends go out at 0, 1, 3 and 7 s and
the frame is given up at 15 s.

Sequence numbers are 8-bit and wrap; every comparison goes through :func:`seq_distance`.

Sans-IO: the queue only keeps deadlines; the call decides what to put on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass

from pbxedge.iax2.crypto import AesTransform
from pbxedge.iax2.frames import FullFrame

__all__ = [
    "MAX_RETRY_INTERVAL",
    "MAX_SENDS",
    "MIN_RETRY_INTERVAL",
    "Pending",
    "RetransmitQueue",
    "first_retry_interval",
    "seq_distance",
]

MIN_RETRY_INTERVAL = 0.1
MAX_RETRY_INTERVAL = 10.0
MAX_SENDS = 4


def seq_distance(start: int, seq: int) -> int:
    """How far ``seq`` lies after ``start`` on the 8-bit sequence circle."""
    return (seq - start) & 0xFF


def first_retry_interval(rtt_seconds: float) -> float:
    return min(max(2.0 * rtt_seconds, MIN_RETRY_INTERVAL), MAX_RETRY_INTERVAL)


@dataclass(slots=True)
class Pending:
    """One unacknowledged frame."""

    frame: FullFrame  # as first sent, in clear; resends refresh ISeqno and set the R bit
    final: bool  # the call ends once this frame is acknowledged (or given up)
    cipher: AesTransform | None  # the key it was first sent under (see rotate_key)
    first_sent: float
    deadline: float
    interval: float
    sends: int = 1


class RetransmitQueue:
    """Our unacknowledged frames on one call, keyed by their OSeqno."""

    def __init__(self) -> None:
        self._pending: dict[int, Pending] = {}
        # The oldest of our sequence numbers the peer has not acknowledged (Asterisk rseqno).
        self.rseqno = 0

    def __len__(self) -> int:
        return len(self._pending)

    def pending(self) -> list[Pending]:
        return list(self._pending.values())

    def add(
        self,
        frame: FullFrame,
        now: float,
        rtt_seconds: float,
        *,
        final: bool = False,
        cipher: AesTransform | None = None,
    ) -> None:
        interval = first_retry_interval(rtt_seconds)
        self._pending[frame.oseqno] = Pending(frame, final, cipher, now, now + interval, interval)

    def clear(self, rseqno: int = 0) -> None:
        self._pending.clear()
        self.rseqno = rseqno

    def next_deadline(self) -> float | None:
        pending = self._pending
        if not pending:
            return None
        if len(pending) == 1:
            return next(iter(pending.values())).deadline
        return min(p.deadline for p in pending.values())

    def implicit_ack(self, their_iseqno: int, our_oseqno: int) -> list[Pending] | None:
        """Apply the peer's ISeqno: everything before it has arrived.

        Returns the acknowledged frames, or None when ``their_iseqno`` lies outside
        ``[rseqno, our_oseqno]`` (a stale or bogus value, ignored like Asterisk does).
        """
        rseqno = self.rseqno
        # seq_distance inlined: this runs for every frame received.
        advance = (their_iseqno - rseqno) & 0xFF
        if advance > (our_oseqno - rseqno) & 0xFF:
            return None
        if not advance:
            return []
        pending = self._pending
        acked = [p for seq, p in pending.items() if (seq - rseqno) & 0xFF < advance]
        for p in acked:
            del pending[p.frame.oseqno]
        self.rseqno = their_iseqno
        return acked

    def due(self, now: float) -> tuple[list[Pending], list[Pending]]:
        """Frames whose timer expired: (to resend now, to give up on)."""
        resend: list[Pending] = []
        expired: list[Pending] = []
        for p in list(self._pending.values()):
            if p.deadline > now:
                continue
            if p.sends >= MAX_SENDS:
                del self._pending[p.frame.oseqno]
                expired.append(p)
                continue
            p.sends += 1
            p.interval = min(p.interval * 2.0, MAX_RETRY_INTERVAL)
            p.deadline = now + p.interval
            resend.append(p)
        return resend, expired

    def from_seq(self, seq: int) -> list[Pending]:
        """Frames to resend for a VNAK asking for everything from ``seq`` on, oldest first."""
        selected = [p for s, p in self._pending.items() if seq_distance(seq, s) < 128]
        selected.sort(key=lambda p: seq_distance(seq, p.frame.oseqno))
        return selected
