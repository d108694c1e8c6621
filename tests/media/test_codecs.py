"""Per-format encoders and decoders: wire conventions, quality, state, bad payloads."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pbxedge.media.codecs import make_decoder, make_encoder
from pbxedge.media.formats import Format, PayloadError
from pbxedge.media.gsm import frames_to_msgsm
from tests.media.signals import snr_db, tone

# Least SNR of a 997 Hz tone, -10 dBFS, through the codec.
MIN_SNR = {
    Format.ULAW: 35,
    Format.ALAW: 35,
    Format.SLIN: 80,
    Format.SLIN16: 80,
    Format.G722: 42,
    Format.GSM: 22,
}


def roundtrip(fmt: Format, pcm: np.ndarray, chunk: int) -> np.ndarray:
    encoder, decoder = make_encoder(fmt), make_decoder(fmt)
    payloads = [encoder.encode(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk)]
    return np.concatenate([decoder.decode(p) for p in payloads])


@pytest.mark.parametrize("fmt", list(Format))
def test_tone_round_trips_within_codec_error(fmt: Format) -> None:
    rate = fmt.sample_rate
    pcm = tone(997, rate, rate)
    out = roundtrip(fmt, pcm, fmt.frame_samples)
    assert len(out) == len(pcm)
    if fmt.lossless:
        assert (out == pcm).all()
    assert snr_db(out, 997, rate) > MIN_SNR[fmt]


def test_slin_is_big_endian_and_slin16_little_endian_on_the_wire() -> None:
    pcm = np.array([1, -2], dtype=np.int16)
    assert make_encoder(Format.SLIN).encode(pcm) == b"\x00\x01\xff\xfe"
    assert make_encoder(Format.SLIN16).encode(pcm) == b"\x01\x00\xfe\xff"
    assert list(make_decoder(Format.SLIN).decode(b"\x00\x01\xff\xfe")) == [1, -2]
    assert list(make_decoder(Format.SLIN16).decode(b"\x01\x00\xfe\xff")) == [1, -2]


def test_frame_sizes_of_20ms() -> None:
    for fmt in Format:
        payload = make_encoder(fmt).encode(np.zeros(fmt.frame_samples, dtype=np.int16))
        assert len(payload) == fmt.frame_bytes
        assert len(make_decoder(fmt).decode(payload)) == fmt.frame_samples


def test_encoders_keep_partial_units_for_the_next_call() -> None:
    encoder = make_encoder(Format.GSM)
    assert encoder.encode(np.zeros(100, dtype=np.int16)) == b""
    assert len(encoder.encode(np.zeros(100, dtype=np.int16))) == 33
    assert len(encoder.encode(np.zeros(280, dtype=np.int16))) == 66
    g722 = make_encoder(Format.G722)
    assert len(g722.encode(np.zeros(3, dtype=np.int16))) == 1
    assert len(g722.encode(np.zeros(1, dtype=np.int16))) == 1
    assert g722.encode(np.zeros(0, dtype=np.int16)) == b""


def test_g722_narrowband_mode_for_asterisks_direct_slin_translators() -> None:
    encoder, decoder = make_encoder(Format.G722, 8000), make_decoder(Format.G722, 8000)
    pcm = tone(997, 8000, 8000)
    payloads = [encoder.encode(pcm[i : i + 160]) for i in range(0, 8000, 160)]
    assert {len(p) for p in payloads} == {160}
    out = np.concatenate([decoder.decode(p) for p in payloads])
    assert len(out) == 8000
    assert snr_db(out, 997, 8000) > 35


def test_rates_other_than_the_formats_are_refused() -> None:
    with pytest.raises(ValueError, match="16000 Hz"):
        make_encoder(Format.ULAW, 16000)
    with pytest.raises(ValueError):
        make_decoder(Format.GSM, 16000)


def test_encoders_want_int16_pcm() -> None:
    with pytest.raises(TypeError):
        make_encoder(Format.ULAW).encode(np.zeros(160))  # float64
    with pytest.raises(TypeError):
        make_encoder(Format.SLIN).encode(np.zeros((2, 80), dtype=np.int16))


def test_bad_payloads_raise_payload_error() -> None:
    with pytest.raises(PayloadError):
        make_decoder(Format.SLIN).decode(b"\0" * 321)
    with pytest.raises(PayloadError):
        make_decoder(Format.SLIN16).decode(b"\0")
    with pytest.raises(PayloadError, match="multiple of 33"):
        make_decoder(Format.GSM).decode(b"\xd0" * 34)
    with pytest.raises(PayloadError, match="0xD"):
        make_decoder(Format.GSM).decode(b"\xd0" * 33 + b"\x00" * 33)


def test_gsm_decoder_takes_ms_gsm_blocks_as_asterisk_does() -> None:
    pcm = tone(997, 8000, 320)
    frames = make_encoder(Format.GSM).encode(pcm)
    plain = make_decoder(Format.GSM).decode(frames)
    assert (make_decoder(Format.GSM).decode(frames_to_msgsm(frames)) == plain).all()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(Format)), st.binary(max_size=700))
def test_decoders_never_crash_on_random_payloads(fmt: Format, payload: bytes) -> None:
    try:
        out = make_decoder(fmt).decode(payload)
    except PayloadError:
        return
    assert out.dtype == np.int16
    assert len(out) == fmt.samples_in(len(payload)) or fmt is Format.GSM


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(list(Format)),
    arrays(np.int16, st.integers(0, 1200)),
    st.lists(st.integers(1, 400), min_size=1, max_size=8),
)
def test_chunking_does_not_change_the_output(fmt: Format, pcm: np.ndarray, cuts: list[int]) -> None:
    """Encoding in arbitrary chunks gives the same bytes as encoding at once."""
    whole = make_encoder(fmt).encode(pcm)
    encoder, pieces, start, i = make_encoder(fmt), [], 0, 0
    while start < len(pcm):
        step = cuts[i % len(cuts)]
        pieces.append(encoder.encode(pcm[start : start + step]))
        start, i = start + step, i + 1
    assert b"".join(pieces) == whole
    assert len(whole) == fmt.bytes_for(len(pcm))
    decoded = make_decoder(fmt).decode(whole)
    assert len(decoded) == fmt.samples_in(len(whole))
    if fmt.lossless:
        assert (decoded == pcm).all()
