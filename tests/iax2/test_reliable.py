"""The retransmission queue: ×2 backoff schedule, implicit ACK window, VNAK selection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbxedge.iax2.enums import FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.reliable import (
    MAX_RETRY_INTERVAL,
    RetransmitQueue,
    first_retry_interval,
    seq_distance,
)


def frame(oseqno: int) -> FullFrame:
    return FullFrame(2, 3, 0, oseqno, 0, FrameType.IAX, IaxSubclass.PING)


def schedule(rtt: float) -> list[tuple[float, str]]:
    queue = RetransmitQueue()
    queue.add(frame(0), 0.0, rtt)
    out = [(0.0, "send")]
    while (deadline := queue.next_deadline()) is not None:
        resend, expired = queue.due(deadline)
        out.append((deadline, "send" if resend else "give up"))
        assert bool(resend) != bool(expired)
    return out


@pytest.mark.parametrize(
    ("rtt", "expected"),
    [
        (0.5, [0.0, 1.0, 3.0, 7.0, 15.0]),  # T = 1 s
        (0.01, [0.0, 0.1, 0.3, 0.7, 1.5]),  # clamped up to 100 ms
        (2.0, [0.0, 4.0, 12.0, 22.0, 32.0]),  # T = 4 s; 8 s then 16 s capped at 10 s
        (60.0, [0.0, 10.0, 20.0, 30.0, 40.0]),  # clamped down to 10 s
    ],
)
def test_four_sends_then_give_up(rtt: float, expected: list[float]) -> None:
    out = schedule(rtt)
    assert [t for t, _ in out] == pytest.approx(expected)
    assert [kind for _, kind in out] == ["send"] * 4 + ["give up"]


def test_first_interval_clamp() -> None:
    assert first_retry_interval(0.0) == 0.1
    assert first_retry_interval(1.0) == 2.0
    assert first_retry_interval(100.0) == MAX_RETRY_INTERVAL


def test_implicit_ack_removes_everything_before_their_iseqno() -> None:
    queue = RetransmitQueue()
    for seq in range(4):
        queue.add(frame(seq), 0.0, 1.0)
    acked = queue.implicit_ack(their_iseqno=2, our_oseqno=4)
    assert acked is not None and [p.frame.oseqno for p in acked] == [0, 1]
    assert queue.rseqno == 2 and len(queue) == 2


def test_implicit_ack_outside_window_is_ignored() -> None:
    queue = RetransmitQueue()
    queue.add(frame(0), 0.0, 1.0)
    assert queue.implicit_ack(their_iseqno=5, our_oseqno=1) is None
    assert len(queue) == 1 and queue.rseqno == 0


def test_implicit_ack_across_the_wrap() -> None:
    queue = RetransmitQueue()
    queue.clear(rseqno=254)
    for seq in (254, 255, 0, 1):
        queue.add(frame(seq), 0.0, 1.0)
    acked = queue.implicit_ack(their_iseqno=1, our_oseqno=2)
    assert acked is not None and [p.frame.oseqno for p in acked] == [254, 255, 0]


def test_vnak_selects_from_seq_on_oldest_first() -> None:
    queue = RetransmitQueue()
    queue.clear(rseqno=250)
    for seq in (250, 251, 252, 253):
        queue.add(frame(seq), 0.0, 1.0)
    assert [p.frame.oseqno for p in queue.from_seq(252)] == [252, 253]


@given(st.integers(0, 255), st.integers(0, 255))
def test_seq_distance_is_modular(a: int, b: int) -> None:
    assert (a + seq_distance(a, b)) % 256 == b
