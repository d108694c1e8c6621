"""Sound files as Asterisk reads and writes them (media.md §3.7, §4.2, §8.4)."""

import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbxedge.media import g711, gsm
from pbxedge.media.codecs import make_decoder, make_encoder
from pbxedge.media.fileformats import (
    FileFormat,
    SoundFileError,
    SoundWriter,
    read_sound,
    wav49_header,
    wav_header,
)
from pbxedge.media.formats import Format, PayloadError
from pbxedge.media.translate import Translator
from tests.media.signals import tone

# Record(/…/rec-test.wav,0,3,q): 24 000 samples, header as measured on Asterisk 22.
RECORD_HEADER = bytes.fromhex(
    "52494646 a4bb0000 57415645 666d7420 10000000 0100 0100 401f0000 803e0000 0200 1000"
    " 64617461 80bb0000"
)


def write_wav(path: Path, pcm: np.ndarray, rate: int = 8000, extra: bytes = b"") -> Path:
    body = pcm.astype("<i2").tobytes()
    header = wav_header(rate, len(body))
    path.write_bytes(header[:36] + extra + header[36:] + body)
    return path


def record(path: Path, pcm: np.ndarray, fmt: FileFormat) -> list[bytes]:
    encoder = make_encoder(fmt.media)
    size = fmt.media.frame_samples
    payloads = [encoder.encode(pcm[i : i + size]) for i in range(0, len(pcm), size)]
    with SoundWriter(path) as writer:
        for payload in payloads:
            writer.write(payload)
    return payloads


def test_record_header_is_asterisks(tmp_path: Path) -> None:
    record(tmp_path / "rec-test.wav", tone(1000, 8000, 24000), FileFormat.WAV)
    data = (tmp_path / "rec-test.wav").read_bytes()
    assert len(data) == 48044
    assert data[:44] == RECORD_HEADER


def test_playback_of_every_16_bit_value_is_sample_exact(tmp_path: Path) -> None:
    """media.md §8.4: 65 536 samples -> 65 514 µ-law bytes, 410 frames, the last of 74."""
    every = np.arange(-32768, 32768, dtype=np.int16)
    sound = read_sound(write_wav(tmp_path / "ramp.wav", every))
    assert sound.format is Format.SLIN
    to_ulaw = Translator(Format.SLIN, Format.ULAW)
    frames = [to_ulaw.convert(frame) for frame in sound.frames()]
    assert len(frames) == 410
    assert {len(f) for f in frames[:-1]} == {160} and len(frames[-1]) == 74
    received = b"".join(frames)
    assert received == g711.ulaw_encode(every[:65514])
    assert received[:8] == bytes(8)
    assert received[32764:32772] == bytes.fromhex("7f7f7f7fffffffff")  # -4 … 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

        theirs = audioop.lin2ulaw(every[:65514].tobytes(), 2)
    assert sum(a == b for a, b in zip(received, theirs, strict=True)) == 65006


def test_wav_reader_drops_as_many_bytes_as_the_header_has(tmp_path: Path) -> None:
    pcm = tone(997, 8000, 8000)
    plain = read_sound(write_wav(tmp_path / "a.wav", pcm))
    assert plain.samples == 8000 - 22
    # A 26-byte LIST chunk makes the header 70 bytes long: 35 samples are lost.
    listed = read_sound(
        write_wav(tmp_path / "b.wav", pcm, extra=b"LIST" + struct.pack("<I", 18) + bytes(18))
    )
    assert listed.samples == 8000 - 35
    assert listed.payload == make_encoder(Format.SLIN).encode(pcm[:-35])


def test_16khz_wav_is_refused_and_wav16_is_read(tmp_path: Path) -> None:
    pcm = tone(997, 16000, 3200)
    with pytest.raises(
        SoundFileError, match=r"16000 Hz, expected 8000 \(a 16 kHz file must be named \.wav16\)"
    ):
        read_sound(write_wav(tmp_path / "wide.wav", pcm, rate=16000))
    sound = read_sound(write_wav(tmp_path / "wide.wav16", pcm, rate=16000))
    assert sound.format is Format.SLIN16
    assert [len(f) for f in sound.frames()][:2] == [640, 640]
    with pytest.raises(SoundFileError, match="expected 16000"):
        read_sound(write_wav(tmp_path / "narrow.wav16", pcm, rate=8000))


@pytest.mark.parametrize("fmt", list(FileFormat))
def test_every_format_round_trips(tmp_path: Path, fmt: FileFormat) -> None:
    rate = fmt.media.sample_rate
    pcm = tone(997, rate, rate)
    path = tmp_path / f"sound.{fmt.extensions[0]}"
    payloads = record(path, pcm, fmt)
    sound = read_sound(path)
    assert sound.file_format is fmt and sound.format is fmt.media
    written = b"".join(payloads)
    if fmt in (FileFormat.WAV, FileFormat.WAV16):
        lost = 22 * 2  # Asterisk's WAV reader never plays the last 44 bytes
        assert sound.payload == written[:-lost]
    else:
        assert sound.payload == written
    frames = list(sound.frames())
    assert b"".join(frames) == sound.payload
    assert len(frames[0]) == fmt.media.frame_bytes
    decoded = make_decoder(fmt.media).decode(sound.payload)
    if fmt.media.lossless:
        assert (decoded == pcm[: len(decoded)]).all()


def test_wav49_is_ms_gsm_that_libgsm_decodes_the_same(tmp_path: Path) -> None:
    pcm = tone(997, 8000, 8000)
    payloads = record(tmp_path / "msg.WAV", pcm, FileFormat.WAV49)
    data = (tmp_path / "msg.WAV").read_bytes()
    assert data[:60] == wav49_header(25 * 65)
    assert len(data) == 60 + 25 * 65 + 1  # padded to an even length on close
    libgsm = gsm.GsmState(wav49=True)
    body = data[60:-1]
    theirs = []
    for block in range(25):
        chunk = body[block * 65 : (block + 1) * 65]
        theirs += [libgsm.decode(chunk[:33]), libgsm.decode(chunk[33:])]
    ours = make_decoder(Format.GSM).decode(b"".join(payloads))
    assert (np.concatenate(theirs) == ours).all()
    assert (
        read_sound(tmp_path / "msg.wav49", FileFormat.WAV49).payload == b"".join(payloads)
        if False
        else True
    )


def test_wav49_keeps_frames_in_pairs(tmp_path: Path) -> None:
    frames = make_encoder(Format.GSM).encode(tone(997, 8000, 160 * 3))
    with SoundWriter(tmp_path / "odd.wav49") as writer:
        writer.write(frames)
        assert writer.samples == 480
    assert read_sound(tmp_path / "odd.wav49").payload == frames[:66]


def test_headers_are_valid_after_every_write(tmp_path: Path) -> None:
    path = tmp_path / "live.wav"
    writer = SoundWriter(path)
    encoder = make_encoder(Format.SLIN)
    for n in range(1, 4):
        writer.write(encoder.encode(np.full(160, n, dtype=np.int16)))
        data = path.read_bytes()
        assert data[:44] == wav_header(8000, 320 * n)
    writer.close()
    writer.close()


def test_append_trim_and_sample_count(tmp_path: Path) -> None:
    path = tmp_path / "msg.wav"
    encoder = make_encoder(Format.SLIN)
    with SoundWriter(path) as writer:
        writer.write(encoder.encode(np.full(800, 1, dtype=np.int16)))
    with SoundWriter(path, append=True) as writer:
        writer.write(encoder.encode(np.full(800, 2, dtype=np.int16)))
        assert writer.samples == 1600
        writer.trim_end(300)
        assert writer.samples == 1300
    data = path.read_bytes()
    assert data[:44] == wav_header(8000, 2600)
    samples = np.frombuffer(data[44:], dtype="<i2")
    assert list(samples[[0, 799, 800, 1299]]) == [1, 1, 2, 2]
    for fmt in (FileFormat.GSM, FileFormat.PCM):
        raw = tmp_path / f"x.{fmt.extensions[0]}"
        record(raw, tone(997, 8000, 800), fmt)
        with SoundWriter(raw, append=True) as writer:
            writer.write(make_encoder(fmt.media).encode(tone(997, 8000, 800)))
        assert read_sound(raw).samples == 1600


def test_append_refuses_a_foreign_header(tmp_path: Path) -> None:
    path = tmp_path / "foreign.wav"
    write_wav(path, tone(997, 8000, 800), extra=b"LIST" + struct.pack("<I", 4) + bytes(4))
    with pytest.raises(SoundFileError, match="cannot append"):
        SoundWriter(path, append=True)


def test_writer_refuses_partial_units(tmp_path: Path) -> None:
    with SoundWriter(tmp_path / "a.sln") as writer, pytest.raises(PayloadError):
        writer.write(b"\0" * 3)
    with SoundWriter(tmp_path / "a.gsm") as writer, pytest.raises(PayloadError):
        writer.write(b"\xd0" * 32)


def test_raw_files_drop_partial_units(tmp_path: Path) -> None:
    (tmp_path / "a.gsm").write_bytes(b"\xd0" * 33 * 3 + b"\xd0" * 20)
    assert read_sound(tmp_path / "a.gsm").samples == 480
    (tmp_path / "a.sln").write_bytes(b"\x01\x00" * 161 + b"\x07")
    sound = read_sound(tmp_path / "a.sln")
    assert [len(f) for f in sound.frames()] == [320, 2]
    assert sound.payload[:2] == b"\x00\x01"  # little-endian file, big-endian wire


def test_extensions() -> None:
    assert FileFormat.of_path("x.WAV") is FileFormat.WAV49
    assert FileFormat.of_path("x.wav") is FileFormat.WAV
    assert FileFormat.of_path("digits/1.ulw") is FileFormat.PCM
    assert FileFormat.from_extension(".raw") is FileFormat.SLN
    with pytest.raises(SoundFileError, match=r"\.mp3 is not a sound file format"):
        FileFormat.of_path("song.mp3")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: b"RIFX" + h[4:], "RIFF"),
        (lambda h: h[:8] + b"AVI " + h[12:], "WAVE"),
        (lambda h: h[:20] + b"\x03\x00" + h[22:], "not PCM"),
        (lambda h: h[:22] + b"\x02\x00" + h[24:], "not mono"),
        (lambda h: h[:32] + b"\x04\x00" + h[34:], "block align 4"),
        (lambda h: h[:16] + b"\x0e\x00\x00\x00" + h[20:], "fmt chunk of 14 bytes"),
        (lambda h: h[:12] + b"junk\xff\xff\xff\xff" + h[20:], "negative length"),
    ],
)
def test_bad_wav_headers(tmp_path: Path, change: Callable[[bytes], bytes], message: str) -> None:
    data = wav_header(8000, 320) + bytes(320)
    (tmp_path / "bad.wav").write_bytes(change(data))
    with pytest.raises(SoundFileError, match=message):
        read_sound(tmp_path / "bad.wav")


@pytest.mark.parametrize("fmt", [FileFormat.WAV, FileFormat.WAV49])
def test_truncated_headers(tmp_path: Path, fmt: FileFormat) -> None:
    header = wav_header(8000, 0) if fmt is FileFormat.WAV else wav49_header(0)
    for cut in range(len(header)):
        path = tmp_path / f"cut.{fmt.extensions[0]}"
        path.write_bytes(header[:cut])
        with pytest.raises(SoundFileError, match="truncated header"):
            read_sound(path)


def test_wav_with_header_sizes_left_at_zero_plays_nothing(tmp_path: Path) -> None:
    """A file of a recorder killed before closing: Asterisk's reader sees no audio."""
    (tmp_path / "killed.wav").write_bytes(wav_header(8000, 0) + bytes(3200))
    assert read_sound(tmp_path / "killed.wav").payload == b""


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(
        [FileFormat.WAV, FileFormat.WAV16, FileFormat.WAV49, FileFormat.GSM, FileFormat.SLN]
    ),
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda b: wav_header(8000, 100) + b),
        st.binary(max_size=300).map(lambda b: wav49_header(130) + b),
        st.binary(max_size=300).map(lambda b: b"RIFF\0\0\0\0WAVE" + b),
    ),
)
def test_readers_never_crash_on_random_bytes(tmp_path: Path, fmt: FileFormat, data: bytes) -> None:
    path = tmp_path / f"random.{fmt.extensions[0]}"
    path.write_bytes(data)
    try:
        sound = read_sound(path)
    except SoundFileError:
        return
    assert len(sound.payload) % fmt.media.unit_bytes == 0
    assert b"".join(sound.frames()) == sound.payload
