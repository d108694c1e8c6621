"""GSM 06.10 through libgsm, and MS-GSM repacking checked against libgsm's own WAV49 mode."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbxedge.media import gsm
from pbxedge.media.formats import PayloadError
from tests.media.signals import snr_db, tone

SPEECHLIKE = (tone(997, 8000, 8000) + tone(2210, 8000, 8000, 3000)).astype(np.int16)


def encode_all(state: gsm.GsmState, pcm: np.ndarray) -> list[bytes]:
    return [state.encode(pcm[i : i + 160]) for i in range(0, len(pcm), 160)]


def test_frames_are_33_bytes_with_the_magic_nibble() -> None:
    frames = encode_all(gsm.GsmState(), SPEECHLIKE)
    assert {len(f) for f in frames} == {33}
    assert {f[0] >> 4 for f in frames} == {0xD}


def test_tone_survives_the_codec() -> None:
    pcm = tone(997, 8000, 8000)
    decoder = gsm.GsmState()
    out = np.concatenate([decoder.decode(f) for f in encode_all(gsm.GsmState(), pcm)])
    assert snr_db(out, 997, 8000) > 20


def test_decoder_refuses_bad_frames() -> None:
    state = gsm.GsmState()
    with pytest.raises(PayloadError, match="invalid GSM frame"):
        state.decode(b"\x00" * 33)
    with pytest.raises(PayloadError, match="expected 33"):
        state.decode(b"\xd0" * 32)
    with pytest.raises(ValueError, match="exactly 160"):
        state.encode(np.zeros(159, dtype=np.int16))


def test_repacking_matches_libgsm_wav49_both_ways() -> None:
    standard = b"".join(encode_all(gsm.GsmState(), SPEECHLIKE))
    msgsm = b"".join(encode_all(gsm.GsmState(wav49=True), SPEECHLIKE))
    assert len(msgsm) == 25 * gsm.MSGSM_BLOCK_BYTES
    assert gsm.frames_to_msgsm(standard) == msgsm
    assert gsm.msgsm_to_frames(msgsm) == standard
    # libgsm decodes the halves of a block as 33 then 32 bytes, to the same samples.
    wav49, plain = gsm.GsmState(wav49=True), gsm.GsmState()
    for block in range(25):
        data = msgsm[block * 65 : (block + 1) * 65]
        pair = standard[block * 66 : (block + 1) * 66]
        assert (wav49.decode(data[:33]) == plain.decode(pair[:33])).all()
        assert (wav49.decode(data[33:]) == plain.decode(pair[33:])).all()


def test_repacking_rejects_partial_blocks() -> None:
    with pytest.raises(PayloadError):
        gsm.msgsm_to_frames(b"\0" * 64)
    with pytest.raises(PayloadError):
        gsm.frames_to_msgsm(b"\xd0" * 33)


@given(
    st.lists(st.binary(min_size=33, max_size=33), min_size=0, max_size=6).map(
        lambda fs: fs[: len(fs) // 2 * 2]
    )
)
def test_repacking_is_lossless(frames: list[bytes]) -> None:
    standard = b"".join(bytes([0xD0 | (f[0] & 0x0F)]) + f[1:] for f in frames)
    assert gsm.msgsm_to_frames(gsm.frames_to_msgsm(standard)) == standard
