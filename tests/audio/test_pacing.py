"""The device threads' own clock: it waits only for a device that has none."""

from __future__ import annotations

import pytest

from pbxedge.audio.pacing import Pacer

P = 0.020


def test_a_clocked_device_sets_the_pace_alone() -> None:
    pacer = Pacer(P)
    # Each block comes when the card has it, a little late or early by its own jitter.
    arrivals = [0.0201, 0.0402, 0.0598, 0.0801, 0.1003, 0.1199]
    assert [pacer.after_block(t) for t in arrivals] == [0.0] * len(arrivals)
    assert pacer.paced == 0


def test_a_device_without_a_clock_is_read_on_an_absolute_20_ms_schedule() -> None:
    pacer = Pacer(P)
    now, reads = 5.0, []
    for _ in range(100):
        reads.append(now)
        now += 0.0003  # the read itself: a file, no waiting
        now += pacer.after_block(now)
    # After the first block, one block per period with no drift, whatever the reads cost.
    assert reads[-1] - reads[1] == pytest.approx(98 * P, abs=1e-9)
    assert pacer.paced == 99  # every block but the first came early


def test_a_burst_of_two_blocks_is_spread_and_a_late_device_is_not_pushed() -> None:
    pacer = Pacer(P)
    assert pacer.after_block(1.000) == 0.0
    assert pacer.after_block(1.001) == pytest.approx(0.019)  # the second of a 40 ms period
    assert pacer.after_block(1.045) == 0.0  # late: the card decides
    assert pacer.after_block(1.062) == 0.0


def test_the_period_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Pacer(0)
