"""G.711 against Asterisk's published behaviour (media.md §2.1, §2.2, §8.4) and audioop."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pbxedge.media import g711

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the CPython encoder Asterisk is *not* equal to (removed in 3.13)

ALL = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def test_ulaw_golden_values() -> None:
    assert list(g711.ulaw_decode(b"\xff\x7f\x80\x00")) == [0, 0, 32124, -32124]
    assert g711.ulaw_encode(np.array([-1], dtype=np.int16)) == b"\x7f"
    # Playback of every 16-bit value: bytes for -4..3 (media.md §8.4)
    assert g711.ulaw_encode(np.arange(-4, 4, dtype=np.int16)) == bytes.fromhex("7f7f7f7fffffffff")
    assert g711.ulaw_encode(np.array([-32768, 32767], dtype=np.int16)) == b"\x00\x80"


def test_alaw_golden_values() -> None:
    assert list(g711.alaw_decode(b"\xd5\x55\xaa\x2a")) == [8, -8, 32256, -32256]


@pytest.mark.skipif(not hasattr(audioop, "lin2ulaw"), reason="audioop is gone")
def test_audioop_ulaw_differs_from_asterisk_on_508_negative_inputs() -> None:
    ours = np.frombuffer(g711.ulaw_encode(ALL), dtype=np.uint8)
    theirs = np.frombuffer(audioop.lin2ulaw(ALL.tobytes(), 2), dtype=np.uint8)
    differ = ALL[ours != theirs]
    assert len(differ) == 508
    assert (differ < 0).all()
    # 127 groups of four: -4..-1, -12..-9, … -31612..-31609
    assert list(differ[-4:]) == [-4, -3, -2, -1]
    assert list(differ[:4]) == [-31612, -31611, -31610, -31609]
    assert len({int(v) >> 2 for v in differ}) == 127
    # Asterisk's code is always the one nearer zero.
    ours_value = np.abs(g711.ulaw_decode(ours[ours != theirs].tobytes()).astype(int))
    theirs_value = np.abs(g711.ulaw_decode(theirs[ours != theirs].tobytes()).astype(int))
    assert (ours_value < theirs_value).all()
    assert audioop.lin2ulaw(b"\xff\xff", 2) == b"\x7e"  # -1, where Asterisk says 0x7f


@pytest.mark.skipif(not hasattr(audioop, "lin2alaw"), reason="audioop is gone")
def test_audioop_agrees_on_alaw_and_on_both_decoders() -> None:
    assert g711.alaw_encode(ALL) == audioop.lin2alaw(ALL.tobytes(), 2)
    assert g711.alaw_decode(ALL_CODES).tobytes() == audioop.alaw2lin(ALL_CODES, 2)
    assert g711.ulaw_decode(ALL_CODES).tobytes() == audioop.ulaw2lin(ALL_CODES, 2)


def test_asterisk_table_rule_holds_for_every_input() -> None:
    """ulaw(s) == ulaw(s | 3) and alaw(s) == alaw(s | 7): four and eight inputs share a code."""
    assert g711.ulaw_encode(ALL) == g711.ulaw_encode(ALL | 3)
    assert g711.alaw_encode(ALL) == g711.alaw_encode(ALL | 7)


def test_every_code_survives_decode_and_encode() -> None:
    codes = np.frombuffer(ALL_CODES, dtype=np.uint8)
    ulaw_again = np.frombuffer(g711.ulaw_encode(g711.ulaw_decode(ALL_CODES)), dtype=np.uint8)
    # 0x7f is "negative zero": it decodes to 0, which encodes as 0xff.
    assert list(codes[ulaw_again != codes]) == [0x7F]
    assert g711.alaw_encode(g711.alaw_decode(ALL_CODES)) == ALL_CODES


def test_direct_tables_are_codec_a_mu() -> None:
    for code in range(256):
        byte = bytes([code])
        assert g711.ulaw_to_alaw(byte) == g711.alaw_encode(g711.ulaw_decode(byte))
        assert g711.alaw_to_ulaw(byte) == g711.ulaw_encode(g711.alaw_decode(byte))


def test_tables_are_read_only() -> None:
    with pytest.raises(ValueError):
        g711.ULAW_ENCODE[0] = 1


@given(arrays(np.int16, st.integers(0, 400)))
def test_decode_of_encode_stays_within_a_quantisation_step(pcm: np.ndarray) -> None:
    x = pcm.astype(np.int32)
    for encode, decode in (
        (g711.ulaw_encode, g711.ulaw_decode),
        (g711.alaw_encode, g711.alaw_decode),
    ):
        y = decode(encode(pcm)).astype(np.int32)
        assert len(y) == len(x)
        # The step is at most 1/16 of the magnitude (plus the small fixed steps near zero).
        assert (np.abs(y - x) <= np.maximum(np.abs(x) // 16, 0) + 40).all()
        assert (np.sign(y) * np.sign(x) >= 0).all()
