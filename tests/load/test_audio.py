"""Media sources, the G.711 frame marks, echo matching and the expectations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pbxedge.iax2.codecs import Codec
from pbxedge.load.audio import AudioSource, CallMeter, Expectation, mark, media_format
from pbxedge.media.dsp import dominant_frequency
from pbxedge.media.fileformats import SoundWriter
from pbxedge.media.formats import Format
from pbxedge.media.g711 import ulaw_decode


def test_sources_in_every_codec_pbxedge_encodes() -> None:
    for fmt in (Format.ULAW, Format.ALAW, Format.GSM, Format.G722, Format.SLIN):
        frames = AudioSource.parse("chirp").frames(fmt)
        assert len(frames) == 200 and all(len(f) == fmt.frame_bytes for f in frames)
    tone = b"".join(AudioSource.parse("tone:440").frames(Format.ULAW))
    assert dominant_frequency(ulaw_decode(tone)) == pytest.approx(440, abs=2)
    assert set(b"".join(AudioSource("silence").frames(Format.ULAW))) == {0xFF}


def test_a_wav_file_source(tmp_path: Path) -> None:
    path = tmp_path / "beep.wav"
    samples = (np.sin(np.arange(8000) * 2 * np.pi * 700 / 8000) * 9000).astype(np.int16)
    with SoundWriter(path) as writer:
        writer.write(samples.astype(">i2").tobytes())  # wire order: big-endian
    frames = AudioSource.parse(f"wav:{path}").frames(Format.ULAW)
    assert len(frames) in (49, 50)  # a second, less what Asterisk's reader trims
    assert dominant_frequency(ulaw_decode(b"".join(frames))) == pytest.approx(700, abs=3)


@pytest.mark.parametrize("spec", ["tone:9000", "tone:x", "noise", "wav:/nonexistent.wav"])
def test_bad_sources_are_refused_up_front(spec: str) -> None:
    with pytest.raises((ValueError, OSError)):
        AudioSource.parse(spec)


def test_marks_make_every_frame_unique_and_barely_change_it() -> None:
    payload = AudioSource("tone:1000").frames(Format.ULAW)[0]
    marked = {mark(payload, n, Format.ULAW) for n in range(1000)}
    assert len(marked) == 1000
    one = mark(payload, 0xFFFF, Format.ULAW)
    assert all(abs(a - b) <= 1 for a, b in zip(one, payload, strict=True))
    assert mark(payload, 5, Format.GSM) == payload


def test_echo_matching_round_trip_and_loss_each_way() -> None:
    meter = CallMeter(Format.ULAW, Codec.ULAW)
    frame = AudioSource("tone:1000").frames(Format.ULAW)[0]
    echo_ts = 0
    for n in range(100):
        sent = meter.sending(frame, n * 0.02)
        if n % 10 == 3:
            continue  # lost on the way out: the echo never sees it, its stamps do not skip
        if n % 25 == 7:
            echo_ts += 20
            continue  # lost on the way back: a gap in the echo's stamps
        meter.received(n * 0.02 + 0.030, echo_ts, Codec.ULAW, sent)
        echo_ts += 20
    assert meter.echo_ms() == pytest.approx(30.0)
    assert meter.round_trip_loss_pct() == pytest.approx(14.0)
    assert meter.stream.loss_pct == pytest.approx(100 * 4 / 90)
    assert meter.tx_loss_pct() == pytest.approx(10.0, abs=0.01)
    assert meter.check(Expectation.parse("echo")) is None
    mos = meter.mos()
    assert mos is not None and 1 <= mos < 4


def test_expectations() -> None:
    meter = CallMeter(Format.ULAW, Codec.ULAW)
    for n, payload in enumerate(AudioSource("tone:600").frames(Format.ULAW)[:60]):
        meter.received(n * 0.02, n * 20, Codec.ULAW, payload)
    assert meter.check(Expectation.parse("tone:600")) is None
    assert "heard 600 Hz" in (meter.check(Expectation.parse("tone:440")) or "")
    assert "not silent" in (meter.check(Expectation.parse("silence")) or "")
    assert "no echo" in (meter.check(Expectation.parse("echo")) or "")
    quiet = CallMeter(Format.ULAW, Codec.ULAW)
    for n in range(60):
        quiet.received(n * 0.02, n * 20, Codec.ULAW, b"\xff" * 160)
    assert quiet.check(Expectation.parse("silence")) is None
    assert CallMeter(Format.ULAW, Codec.ULAW).check(Expectation("tone", 440)) == (
        "no audio came back")
    with pytest.raises(ValueError):
        Expectation.parse("tone:")
    assert media_format(Codec.G729) is None and media_format(Codec.ALAW) is Format.ALAW
