"""Outgoing timestamp rules (§2.5) and mini-frame unwrapping (§1.3)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pbxedge.iax2.timestamps import TxTimestamps, unwrap_timestamp


def test_origin_is_rounded_down_to_20_ms() -> None:
    clock = TxTimestamps()
    assert clock.genuine(100.013) == 13
    assert clock.genuine(100.050) == 50


def test_genuine_never_repeats_or_goes_back() -> None:
    clock = TxTimestamps()
    first = clock.genuine(5.0)
    assert clock.genuine(5.0) == first + 3
    assert clock.genuine(5.0) == first + 6


def test_control_sticks_to_lastsent_plus_3_within_skew() -> None:
    clock = TxTimestamps()
    assert clock.genuine(0.0) == 3  # 0 would repeat the initial lastsent
    assert clock.control(0.100) == 6
    assert clock.control(1.0) == 1000  # beyond 160 ms: the clock


def test_voice_follows_prediction_despite_jitter() -> None:
    clock = TxTimestamps()
    stamps = [clock.voice(t, 160) for t in (0.0, 0.025, 0.037, 0.061, 0.080)]
    assert stamps == [0, 20, 40, 60, 80]


def test_voice_restarts_on_frame_boundary_after_a_gap() -> None:
    clock = TxTimestamps()
    clock.voice(0.0, 160)
    assert clock.voice(1.005, 160) == 1020


def test_unwrap_examples() -> None:
    assert unwrap_timestamp(0x0001FFF0, 0x0010) == 0x00020010  # forward across the wrap
    assert unwrap_timestamp(0x00020010, 0xFFF0) == 0x0001FFF0  # late frame from before it
    assert unwrap_timestamp(0x00020010, 0x0100) == 0x00020100
    assert unwrap_timestamp(10, 0xFFF0) == 0xFFF0  # no negative results


@given(st.integers(0x10000, 0xFFFF0000), st.integers(-15_000, 15_000))
def test_unwrap_recovers_any_nearby_timestamp(last: int, delta: int) -> None:
    actual = last + delta
    assert unwrap_timestamp(last, actual & 0xFFFF) == actual
