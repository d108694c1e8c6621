"""Tone lists and the tone generator against the bytes Asterisk 22 was measured sending."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbxedge.media.dsp import dominant_frequency, frame_energy
from pbxedge.media.g711 import ulaw_decode as asterisk_ulaw_decode
from pbxedge.media.g711 import ulaw_encode as asterisk_ulaw_encode
from pbxedge.media.tones import (
    DEFAULT_VOLUME,
    MILLIWATT_OLD_PATTERN,
    MILLIWATT_VOLUME,
    MilliwattPattern,
    ToneGenerator,
    ToneList,
    ToneListError,
    TonePart,
    midi_note_hz,
    milliwatt,
    parse_tone_list,
    parse_tone_part,
)
from tests.media.tonecheck import frames, run_lengths_ms

# -- the ulaw stand-in itself, against the reference's facts ---------------------------------


def test_ulaw_helper_is_asterisk_not_audioop() -> None:
    assert asterisk_ulaw_encode(np.arange(-4, 4, dtype=np.int16)) == bytes.fromhex("7f7f7f7fffffffff")
    assert list(asterisk_ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00]))) == [0, 0, 32124, -32124]


# -- golden output -----------------------------------------------------------------------------


def test_milliwatt_first_bytes_level_and_frequency() -> None:
    gen = milliwatt()
    assert isinstance(gen, ToneGenerator)
    audio = np.concatenate(frames(gen, 74))  # 11 840 samples, as many as were measured
    wire = asterisk_ulaw_encode(audio)
    assert wire[:32] == bytes.fromhex(
        "ff8f898f650f0910d98f8990500f0911cb8e8991470e0912c28e89923e0e0912"
    )
    decoded = asterisk_ulaw_decode(wire)
    assert decoded.max() == 22908 and decoded.min() == -22908
    assert dominant_frequency(audio[:8000]) == pytest.approx(1004.0, abs=0.5)
    # The integer oscillator does not repeat itself exactly.
    assert wire[:2000] != wire[2000:4000]


def test_milliwatt_repeats_its_element_without_restarting_the_oscillator() -> None:
    """"1004/1000" wraps to its own element: no reload, so it equals an endless 1004 Hz."""
    gen = milliwatt()
    assert isinstance(gen, ToneGenerator)
    timed = np.concatenate(frames(gen, 120))
    endless = np.concatenate(frames(ToneGenerator("1004", MILLIWATT_VOLUME), 120))
    assert np.array_equal(timed, endless)


def test_milliwatt_m_is_nine_seconds_of_tone_and_one_of_silence() -> None:
    gen = milliwatt("m")
    assert isinstance(gen, ToneGenerator)
    assert run_lengths_ms(gen, 1000) == [(True, 9000), (False, 1000)] * 2


def test_milliwatt_o_is_the_old_ulaw_cycle_across_frames() -> None:
    gen = milliwatt("mo")  # o wins
    assert isinstance(gen, MilliwattPattern)
    data = gen.read(5) + gen.read(160) + gen.read(3)
    assert data == (MILLIWATT_OLD_PATTERN * 21)[:168]
    assert list(asterisk_ulaw_decode(MILLIWATT_OLD_PATTERN)) == [
        -8828, -20860, -20860, -8828, 8828, 20860, 20860, 8828,
    ]


def test_playtones_440_first_bytes_and_samples() -> None:
    first = ToneGenerator("440").read()
    assert first is not None and first.dtype == np.int16 and len(first) == 160
    assert list(first[:6]) == [0, 2445, 4600, 6211, 7087, 7124]
    assert asterisk_ulaw_encode(first)[:16] == bytes.fromhex("ffbbada7a3a3a6acbaea3d2e27232326")
    audio = np.concatenate(frames(ToneGenerator("440"), 25))
    assert np.abs(audio).max() == pytest.approx(7219, abs=80)
    assert asterisk_ulaw_decode(asterisk_ulaw_encode(audio)).max() == 7164


def test_dual_tone_sum_wraps_to_16_bits() -> None:
    loud = ToneGenerator("1000+1000", 30000).read(400)
    single = ToneGenerator("1000", 30000).read(400)
    assert loud is not None and single is not None
    # Twice a 30000 peak does not fit in 16 bits: the C store into a short wraps it.
    doubled = 2 * single.astype(np.int64)
    assert doubled.max() > 32767
    assert np.array_equal(loud, doubled.astype(np.int16))


# -- cadences ----------------------------------------------------------------------------------


def test_cadence_rounds_up_to_whole_frames() -> None:
    assert run_lengths_ms(ToneGenerator("450/350,0/350"), 72) == [(True, 360), (False, 360)] * 2
    assert run_lengths_ms(ToneGenerator("480+620/500,0/500"), 100) == [(True, 500), (False, 500)] * 2


def test_cadence_rounds_to_the_frame_size_used() -> None:
    tone = "450/350,0/350"
    assert run_lengths_ms(ToneGenerator(tone), 48, samples=240) == [(True, 360), (False, 360)] * 2
    assert run_lengths_ms(ToneGenerator(tone), 140, samples=80) == [(True, 350), (False, 350)] * 2


def test_all_bang_list_plays_once_then_stops() -> None:
    gen = ToneGenerator("!1000/200,!0/200,!2000/200")
    played = frames(gen, 30)
    assert gen.read() is None and gen.read() is None and gen.finished
    assert [dominant_frequency(np.concatenate(played[i : i + 10])) for i in (0, 20)] == [
        pytest.approx(1000, abs=1), pytest.approx(2000, abs=1)
    ]
    assert all(frame_energy(f) == 0 for f in played[10:20])


def test_repetition_starts_at_the_first_element_without_bang() -> None:
    # us "info": three 330 ms tones once, then silence forever.
    gen = ToneGenerator("!950/330,!1400/330,!1800/330,0")
    assert run_lengths_ms(gen, 200) == [(True, 1020), (False, 2980)]
    # us "dialrecall": three beeps, then steady dial tone.
    recall = ToneGenerator("!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440")
    assert run_lengths_ms(recall, 60) == [(True, 100), (False, 100)] * 3 + [(True, 600)]


def test_new_element_restarts_its_oscillators() -> None:
    gen = ToneGenerator("440/20,440/20")
    a, b = frames(gen, 2)
    assert np.array_equal(a, b)


def test_volume_below_one_means_default() -> None:
    assert ToneGenerator("440", 0).volume == DEFAULT_VOLUME
    with pytest.raises(ValueError):
        ToneGenerator("440", 40000)
    with pytest.raises(ValueError):
        ToneGenerator("440").read(0)


def test_modulated_tone_is_the_carrier_times_the_modulator_envelope() -> None:
    modulated = np.concatenate(frames(ToneGenerator("400*25"), 50)).astype(np.int64)
    carrier = np.concatenate(frames(ToneGenerator("400"), 50)).astype(np.int64)
    modulator = np.concatenate(frames(ToneGenerator("25"), 50)).astype(np.int64)
    envelope = np.abs(modulator - 32768) * 9 // 10 + 1
    assert np.array_equal(modulated, (carrier * envelope) >> 15)
    # The "90 %" depth is taken around full scale, not around the tone's volume, so the
    # 25 Hz envelope only swings between about 0.7 and 1.1 of the carrier.
    assert 0.69 < envelope.min() / 32768 < 0.76
    assert 1.09 < envelope.max() / 32768 < 1.15


# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("440", TonePart(440)),
        ("350+440", TonePart(350, 440)),
        ("480+620/500", TonePart(480, 620, 500)),
        ("400*25", TonePart(400, 25, 0, modulate=True)),
        ("425*24/400", TonePart(425, 24, 400, modulate=True)),
        ("0/350", TonePart(0, 0, 350)),
        ("M69", TonePart(440)),
        ("M60+M64/250", TonePart(261, 329, 250)),
        ("M69*M21", TonePart(440, 27, 0, modulate=True)),
        ("M200/100", TonePart(0, 0, 100)),
        ("350+375+400", TonePart(350, 375)),  # sscanf stops after what it matched
        ("440xyz", TonePart(440)),
        (" 440", TonePart(440)),  # %u skips leading blanks
    ],
)
def test_parse_part(text: str, part: TonePart) -> None:
    assert parse_tone_part(text) == part


@pytest.mark.parametrize("text", ["", "abc", "M", "/200", "M+M"])
def test_parse_part_rejects(text: str) -> None:
    assert parse_tone_part(text) is None


def test_parse_part_takes_a_sign_like_sscanf() -> None:
    assert parse_tone_part("+440") == TonePart(440)
    assert parse_tone_part("-1") == TonePart(0xFFFFFFFF)


def test_midi_table() -> None:
    assert [midi_note_hz(n) for n in (0, 1, 21, 60, 69, 127, 128, -1)] == [
        8, 8, 27, 261, 440, 12543, 0, 0,
    ]


def test_parse_list_separators_repeat_point_and_rejects() -> None:
    assert parse_tone_list("440/100|0/100") == ToneList(
        (TonePart(440, 0, 100), TonePart(0, 0, 100)), 0
    )
    # "|" present: commas are not separators, "0/100,2" is one (parsable) element.
    assert parse_tone_list("!440/100|0/100,2").parts[1] == TonePart(0, 0, 100)
    assert parse_tone_list("!440/100|0/100,2").repeat_from == 1
    assert parse_tone_list("!1/2,!3/4").repeat_from is None
    # An empty element ends the list, as strsep's loop does.
    assert parse_tone_list("440/100,,880/100").parts == (TonePart(440, 0, 100),)
    listed = parse_tone_list(" !440/100 , bogus, 880 ")
    assert listed.parts == (TonePart(440, 0, 100, once=True), TonePart(880))
    assert listed.rejected == ("bogus",)
    assert listed.repeat_from == 1  # set by "bogus", the next parsed element


def test_parse_list_with_nothing_valid_is_an_error() -> None:
    for spec in ("", "busy", ",440", "!x,!y"):
        with pytest.raises(ToneListError):
            parse_tone_list(spec)
    with pytest.raises(ToneListError):
        ToneGenerator("busy")


def test_repeat_point_on_a_trailing_reject_repeats_the_last_element() -> None:
    listed = parse_tone_list("!440/20,bogus")
    assert listed.repeat_from == 0
    gen = ToneGenerator(listed)
    assert len(frames(gen, 5)) == 5


@given(st.text(alphabet="0123456789M+*/!,| x-", max_size=40))
def test_any_tone_string_parses_or_raises_cleanly(spec: str) -> None:
    try:
        listed = parse_tone_list(spec)
    except ToneListError:
        return
    gen = ToneGenerator(listed)
    for _ in range(3):
        frame = gen.read(80)
        if frame is None:
            break
        assert frame.dtype == np.int16 and len(frame) == 80
