"""The E-model against G.107's own reference point and its monotony in delay and loss."""

from __future__ import annotations

import pytest

from pbxedge.load.emodel import CODEC_IMPAIRMENTS, mos_from_r, r_factor


def test_default_parameters_give_g107s_reference_rating() -> None:
    # G.107: with every parameter at its default, R = 93.2 (MOS 4.41).
    r = r_factor(delay_ms=0, loss_pct=0)
    assert r == pytest.approx(93.2, abs=0.05)
    assert mos_from_r(r) == pytest.approx(4.41, abs=0.01)


def test_rating_falls_with_delay_beyond_100_ms_and_with_loss() -> None:
    delays = [r_factor(delay_ms=d, loss_pct=0) for d in (0, 100, 150, 250, 400)]
    assert delays == sorted(delays, reverse=True)
    assert delays[0] - delays[1] < 3  # little below 100 ms
    assert delays[3] - delays[4] > 10  # a lot past 250 ms
    losses = [r_factor(delay_ms=20, loss_pct=p) for p in (0, 0.5, 1, 2, 5, 10)]
    assert losses == sorted(losses, reverse=True)


def test_codec_impairment_and_robustness() -> None:
    assert CODEC_IMPAIRMENTS["g729"].ie == 11 and CODEC_IMPAIRMENTS["ulaw"].ie == 0
    assert r_factor(delay_ms=0, loss_pct=0, codec="g729") == pytest.approx(93.2 - 11, abs=0.05)
    # Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl): G.711 without PLC, Bpl 4.3.
    expected = 93.2 - 95 * 2 / (2 + 4.3)
    assert r_factor(delay_ms=0, loss_pct=2) == pytest.approx(expected, abs=0.1)
    # Bursty loss hurts more than random loss of the same rate.
    assert r_factor(delay_ms=0, loss_pct=2, burst_ratio=2) < r_factor(delay_ms=0, loss_pct=2)


def test_mos_is_clamped() -> None:
    assert mos_from_r(-5) == 1.0 and mos_from_r(120) == 4.5
    assert mos_from_r(50) == pytest.approx(2.58, abs=0.01)
