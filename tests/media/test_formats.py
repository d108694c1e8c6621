import pytest

from pbxedge.media.formats import Format, PayloadError

# format, rate, 20 ms bytes, 20 ms samples, lossless, quality (media.md §1.4, §2.6)
TABLE = [
    (Format.ULAW, 8000, 160, 160, False, 100),
    (Format.ALAW, 8000, 160, 160, False, 100),
    (Format.SLIN, 8000, 320, 160, True, 115),
    (Format.SLIN16, 16000, 640, 320, True, 117),
    (Format.G722, 16000, 160, 320, False, 110),
    (Format.GSM, 8000, 33, 160, False, 40),
]


@pytest.mark.parametrize(
    ("fmt", "rate", "frame_bytes", "frame_samples", "lossless", "quality"), TABLE
)
def test_asterisk_figures(
    fmt: Format, rate: int, frame_bytes: int, frame_samples: int, lossless: bool, quality: int
) -> None:
    assert fmt.sample_rate == rate
    assert fmt.frame_bytes == frame_bytes
    assert fmt.frame_samples == frame_samples
    assert fmt.samples_in(frame_bytes) == frame_samples
    assert fmt.bytes_for(frame_samples) == frame_bytes
    assert fmt.ms_in(frame_bytes) == 20
    assert fmt.lossless is lossless
    assert fmt.quality == quality


def test_counts_round_down_to_whole_units() -> None:
    assert Format.GSM.samples_in(65) == 160
    assert Format.GSM.samples_in(66) == 320
    assert Format.GSM.bytes_for(319) == 33
    assert Format.SLIN.samples_in(321) == 160
    assert Format.G722.bytes_for(321) == 160
    # a 138-sample frame advances chan_iax2's timestamp by 17 ms (media.md §1.2)
    assert Format.ULAW.ms_in(138) == 17


def test_frame_sizes_for_other_durations() -> None:
    assert Format.ULAW.bytes_for_ms(10) == 80
    assert Format.SLIN16.bytes_for_ms(30) == 960
    assert Format.GSM.bytes_for_ms(40) == 66
    with pytest.raises(ValueError, match="whole number"):
        Format.GSM.bytes_for_ms(30)
    with pytest.raises(ValueError):
        Format.ULAW.bytes_for_ms(0)


def test_check_payload() -> None:
    Format.SLIN.check_payload(b"\0" * 4)
    Format.GSM.check_payload(b"")
    with pytest.raises(PayloadError, match="slin payload of 3 bytes"):
        Format.SLIN.check_payload(b"\0" * 3)
    with pytest.raises(PayloadError):
        Format.GSM.check_payload(b"\xd0" * 32)
    assert issubclass(PayloadError, ValueError)
