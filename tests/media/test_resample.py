import numpy as np
import pytest

from pbxedge.media.resample import Resampler
from tests.media.signals import snr_db, tone


@pytest.mark.parametrize(
    ("src", "dst"),
    [(8000, 16000), (16000, 8000), (8000, 48000), (48000, 8000), (44100, 8000), (8000, 44100)],
)
def test_20ms_in_gives_20ms_out_and_the_tone_is_clean(src: int, dst: int) -> None:
    resampler = Resampler(src, dst)
    pcm = tone(997, src, src)
    frames = [resampler.process(pcm[i : i + src // 50]) for i in range(0, src, src // 50)]
    sizes = {len(f) for f in frames}
    assert sizes <= {dst // 50 - 1, dst // 50, dst // 50 + 1}
    out = np.concatenate(frames)
    assert abs(len(out) - dst) <= 1
    assert snr_db(out, 997, dst) > 70


def test_silence_and_empty_chunks() -> None:
    resampler = Resampler(8000, 16000)
    assert len(resampler.process(np.zeros(0, dtype=np.int16))) == 0
    assert not resampler.process(np.zeros(160, dtype=np.int16)).any()


def test_bad_rates() -> None:
    with pytest.raises(ValueError):
        Resampler(0, 8000)
