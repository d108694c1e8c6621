import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbxedge.media.formats import Format, PayloadError
from pbxedge.media.framing import Reframer


def test_byte_by_byte() -> None:
    reframer = Reframer(Format.ULAW)
    stream = bytes(i % 251 for i in range(1000))
    frames = [f for b in stream for f in reframer.feed(bytes([b]))]
    assert [len(f) for f in frames] == [160] * 6
    assert b"".join(frames) + reframer.flush() == stream
    assert reframer.pending == 0


def test_gsm_frames_and_other_durations() -> None:
    reframer = Reframer(Format.GSM, ms=40)
    assert reframer.frame_bytes == 66
    assert reframer.feed(b"\xd0" * 33) == []
    assert reframer.feed(b"\xd1" * 99) == [b"\xd0" * 33 + b"\xd1" * 33, b"\xd1" * 66]
    with pytest.raises(ValueError):
        Reframer(Format.GSM, ms=10)


def test_partial_units_are_refused_without_losing_alignment() -> None:
    reframer = Reframer(Format.SLIN)
    reframer.feed(b"\x01\x02" * 100)
    with pytest.raises(PayloadError):
        reframer.feed(b"\x03")
    assert reframer.pending == 200
    assert reframer.feed(b"\x01\x02" * 60) == [b"\x01\x02" * 160]


@given(
    st.sampled_from(list(Format)),
    st.lists(st.integers(0, 30), max_size=40),
    st.sampled_from([20, 40, 60]),
)
def test_any_sizes(fmt: Format, sizes: list[int], ms: int) -> None:
    reframer = Reframer(fmt, ms)
    stream = bytearray()
    out: list[bytes] = []
    for i, units in enumerate(sizes):
        payload = bytes([(i * 7) & 0xFF]) * (units * fmt.unit_bytes)
        stream += payload
        out += reframer.feed(payload)
    assert all(len(f) == fmt.bytes_for_ms(ms) for f in out)
    assert b"".join(out) + reframer.flush() == stream
