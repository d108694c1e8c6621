"""Audio through a real node: Echo, Milliwatt, Playback in every codec, Record, Read,
Background + WaitExten, SendDTMF and the CDR file, called by the load tool's agent."""

from __future__ import annotations

import csv
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import trio

from pbxedge.channels.codecmap import format_of
from pbxedge.iax2.codecs import Codec
from pbxedge.load.agent import AgentCall, CallAgent
from pbxedge.media.codecs import make_decoder
from pbxedge.media.dsp import dominant_frequency
from pbxedge.media.fileformats import SoundWriter, read_sound
from pbxedge.media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from tests.integration.conftest import RunningNode, free_udp_port, start_node
from tests.integration.nodes import stop, wait_for_log, write_node

CODECS = "disallow = all\nallow = ulaw\nallow = alaw\nallow = slin\nallow = g722\nallow = gsm\n"
LIMIT = 20.0  # seconds a test may wait for what must come; only reached when broken


def _media_conf(port: int) -> str:
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
{CODECS}
[guest]
type = user
context = media
requirecalltoken = no
"""


def _extensions(recordings: Path) -> str:
    return f"""[media]
exten => 700,1,Answer()
 same => n,Echo()
 same => n,Verbose(1,ECHO DONE)
exten => 701,1,Answer()
 same => n,Milliwatt()
exten => 702,1,Answer()
 same => n,Playback(ramp&nosuchfile)
 same => n,Verbose(1,PLAYBACKSTATUS ${{PLAYBACKSTATUS}})
 same => n,Hangup()
exten => 703,1,Answer()
 same => n,Record({recordings}/take.wav,0,2,q)
 same => n,Verbose(1,RECORD_STATUS ${{RECORD_STATUS}} ${{RECORDED_FILE}})
 same => n,Hangup()
exten => 704,1,Answer()
 same => n,Read(DIGITS,,3,,1,5)
 same => n,Verbose(1,READ ${{DIGITS}} ${{READSTATUS}})
 same => n,Hangup()
exten => 705,1,Answer()
 same => n,Background(ramp)
 same => n,WaitExten(5)
exten => 1,1,Verbose(1,MENU ONE)
 same => n,Hangup()
exten => 707,1,Answer()
 same => n,MusicOnHold(default,3)
 same => n,Hangup()
exten => 708,1,Answer()
 same => n,Set(CHANNEL(tonezone)=cn)
 same => n,Playtones(busy)
 same => n,Wait(2)
 same => n,Hangup()
exten => 706,1,Answer()
 same => n,Wait(0.2)
 same => n,SendDTMF(12#)
 same => n,Wait(5)
"""


def _ramp() -> np.ndarray:
    """0.5 s that exercises every µ-law segment: a rising chirp under a growing envelope."""
    t = np.arange(4000) / 8000.0
    signal_ = np.sin(2 * np.pi * (200 + 1600 * t) * t) * (np.linspace(0.02, 0.95, 4000))
    return np.round(signal_ * 32000).astype(np.int16)


@pytest.fixture(scope="module")
def media_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    folder = tmp_path_factory.mktemp("media")
    port = free_udp_port()
    config = write_node(folder, _media_conf(port), _extensions(folder / "rec"))
    (folder / "sounds").mkdir()
    with SoundWriter(folder / "sounds" / "ramp.wav") as sound:
        sound.write(_ramp().astype(">i2").tobytes())
    (folder / "moh").mkdir()
    (folder / "musiconhold.conf").write_text("[default]\nmode=files\ndirectory=moh\nsort=alpha\n")
    for name, hz in (("b-second", 700), ("a-first", 500)):
        tone = np.sin(2 * np.pi * hz * np.arange(8000) / 8000.0) * 8000
        with SoundWriter(folder / "moh" / f"{name}.wav") as sound:
            sound.write(np.round(tone).astype(">i2").tobytes())
    node = start_node(folder, config, port, "-vvv")
    try:
        wait_for_log(node, "pbxedge Ready.")
        yield node
    finally:
        stop(node)


async def _answered(agent: CallAgent, node: RunningNode, exten: str,
                    codec: int = Codec.ULAW) -> AgentCall:
    call = agent.call(("127.0.0.1", node.port), exten, codec=codec)
    with trio.fail_after(LIMIT):
        await call.answered.wait()
    return call


async def _collect(call: AgentCall, count: int) -> bytes:
    with trio.fail_after(LIMIT):
        while len(call.voice) < count and not call.ended.is_set():
            await trio.sleep(0.02)
    frames = sorted(call.voice, key=lambda v: v.timestamp)
    return b"".join(v.payload for v in frames)


async def test_echo_returns_every_frame_byte_for_byte(media_node: RunningNode,
                                                      agent: CallAgent) -> None:
    call = await _answered(agent, media_node, "700")
    sent = [ulaw_encode(_ramp()[i * 160:(i + 1) * 160]) for i in range(25)]
    for payload in sent:
        agent.send_voice(call, payload, 160)
        agent.flush()
        await trio.sleep(0.02)
    assert await _collect(call, len(sent)) == b"".join(sent)
    assert [v.payload for v in call.voice] == sent  # and in order
    agent.send_dtmf(call, "#")  # Echo() returns after echoing '#', and the plan goes on
    with trio.fail_after(LIMIT):
        while "#" not in call.digits:
            await trio.sleep(0.02)
    wait_for_log(media_node, "ECHO DONE")
    agent.hangup(call)


async def test_milliwatt_is_1004_hz_at_asterisks_level(media_node: RunningNode,
                                                       agent: CallAgent) -> None:
    call = await _answered(agent, media_node, "701")
    audio = await _collect(call, 50)
    agent.hangup(call)
    assert audio[:32].hex(" ") == ("ff 8f 89 8f 65 0f 09 10 d9 8f 89 90 50 0f 09 11 "
                                   "cb 8e 89 91 47 0e 09 12 c2 8e 89 92 3e 0e 09 12")
    samples = ulaw_decode(audio[:8000])
    assert abs(dominant_frequency(samples) - 1004) <= 2
    assert int(np.abs(samples).max()) == 22908


def _expected_playback(codec: int) -> bytes:
    # Asterisk's WAV reader never plays the last 44 bytes (22 samples) of a file.
    samples = _ramp()[:-22]
    if codec == Codec.ULAW:
        return ulaw_encode(samples)
    if codec == Codec.ALAW:
        return alaw_encode(samples)
    return samples.astype(">i2").tobytes()


@pytest.mark.parametrize("codec", [Codec.ULAW, Codec.ALAW, Codec.SLIN])
async def test_playback_arrives_sample_exact(media_node: RunningNode, agent: CallAgent,
                                             codec: int) -> None:
    call = await _answered(agent, media_node, "702", codec)
    with trio.fail_after(LIMIT):
        await call.ended.wait()
    audio = b"".join(v.payload for v in sorted(call.voice, key=lambda v: v.timestamp))
    assert audio == _expected_playback(codec)
    assert call.voice[0].timestamp % 20 == 0  # stamped on the answered channel's grid
    wait_for_log(media_node, "PLAYBACKSTATUS FAILED")  # nosuchfile: warned, the list went on


@pytest.mark.parametrize("codec", [Codec.G722, Codec.GSM])
async def test_playback_within_codec_error(media_node: RunningNode, agent: CallAgent,
                                           codec: int) -> None:
    call = await _answered(agent, media_node, "702", codec)
    with trio.fail_after(LIMIT):
        await call.ended.wait()
    fmt = format_of(codec)
    assert fmt is not None
    decoder = make_decoder(fmt, 8000 if codec == Codec.G722 else None)
    heard = np.concatenate([decoder.decode(v.payload)
                            for v in sorted(call.voice, key=lambda v: v.timestamp)])
    reference = _ramp()[:-22].astype(np.float64)
    best = max(_snr(reference, heard, lag) for lag in range(0, 80))
    assert best > 8.0, f"SNR {best:.1f} dB"


def _snr(reference: np.ndarray, heard: np.ndarray, lag: int) -> float:
    n = min(len(reference), len(heard) - lag)
    ref = reference[:n]
    got = heard[lag:lag + n].astype(np.float64)
    noise = float(np.sum((ref - got) ** 2)) or 1e-9
    return 10 * float(np.log10(float(np.sum(ref ** 2)) / noise))


async def test_record_writes_what_was_sent_across_a_codec_change(
        media_node: RunningNode, agent: CallAgent) -> None:
    call = await _answered(agent, media_node, "703")
    tone = np.round(np.sin(2 * np.pi * 440 * np.arange(24000) / 8000.0) * 12000).astype(np.int16)
    chunks = [tone[i * 160:(i + 1) * 160] for i in range(150)]
    expected: list[np.ndarray] = []
    for index, chunk in enumerate(chunks):
        if call.ended.is_set():
            break
        if index == 50:
            call.codec = Codec.ALAW  # the caller switches codec mid-call: a new full frame
        payload = (alaw_encode if call.codec == Codec.ALAW else ulaw_encode)(chunk)
        expected.append((alaw_decode if call.codec == Codec.ALAW else ulaw_decode)(payload))
        agent.send_voice(call, payload, 160)
        agent.flush()
        await trio.sleep(0.02)
    line = wait_for_log(media_node, "RECORD_STATUS")
    assert "RECORD_STATUS TIMEOUT" in line
    recorded = read_sound(Path(line.split()[-1] + ".wav"))
    samples = np.frombuffer(recorded.payload, dtype=">i2")
    assert 15000 <= len(samples) <= 16800  # 2 s of the call, within a frame or two
    assert np.array_equal(samples, np.concatenate(expected)[:len(samples)])


async def test_read_collects_dtmf(media_node: RunningNode, agent: CallAgent) -> None:
    call = await _answered(agent, media_node, "704")
    for digit in "123":
        agent.send_dtmf(call, digit)
        await trio.sleep(0.05)
    wait_for_log(media_node, "READ 123 OK")


async def test_background_and_waitexten_route_on_a_digit(media_node: RunningNode,
                                                         agent: CallAgent) -> None:
    call = await _answered(agent, media_node, "705")
    await _collect(call, 3)  # the prompt is playing
    agent.send_dtmf(call, "1")
    wait_for_log(media_node, "MENU ONE")
    with trio.fail_after(LIMIT):
        await call.ended.wait()


async def test_music_on_hold_plays_the_class_files_in_order(media_node: RunningNode,
                                                            agent: CallAgent) -> None:
    call = await _answered(agent, media_node, "707")
    with trio.fail_after(LIMIT):
        await call.ended.wait()
    audio = ulaw_decode(b"".join(v.payload for v in sorted(call.voice, key=lambda v: v.timestamp)))
    seconds = [audio[i * 8000 + 1000:(i + 1) * 8000 - 1000] for i in range(2)]
    # sort=alpha: a-first (500 Hz), then b-second (700 Hz), then round again.
    assert [round(dominant_frequency(part) / 100) * 100 for part in seconds] == [500, 700]


async def test_playtones_takes_named_tones_from_the_channels_zone(media_node: RunningNode,
                                                                 agent: CallAgent) -> None:
    call = await _answered(agent, media_node, "708")
    with trio.fail_after(LIMIT):
        await call.ended.wait()
    frames = sorted(call.voice, key=lambda v: v.timestamp)
    loud = [max(abs(int(x)) for x in ulaw_decode(v.payload)) > 1000 for v in frames]
    # China's busy tone: 450 Hz, 350 ms on and off, quantised to 20 ms frames: 18 + 18.
    first_off = loud.index(False)
    assert first_off == 18 and loud[first_off:first_off + 18] == [False] * 18
    assert abs(dominant_frequency(ulaw_decode(frames[2].payload + frames[3].payload)) - 450) < 30


async def test_senddtmf_arrives_as_digits(media_node: RunningNode, agent: CallAgent) -> None:
    call = await _answered(agent, media_node, "706")
    with trio.fail_after(LIMIT):
        while len(call.digits) < 3:
            await trio.sleep(0.02)
    assert call.digits == ["1", "2", "#"]
    agent.hangup(call)


async def test_cdr_rows_are_on_disk_at_hangup_even_after_kill_9(
        media_node: RunningNode, agent: CallAgent) -> None:
    """Runs last in this module: it kills the node."""
    played = await _answered(agent, media_node, "702")  # ends by itself, in Hangup()
    echo = await _answered(agent, media_node, "700")
    agent.send_voice(echo, b"\xff" * 160, 160)
    agent.flush()
    await _collect(echo, 1)  # Echo() is running: hang up in it
    agent.hangup(echo)
    with trio.fail_after(LIMIT):
        await played.ended.wait()
        await echo.ended.wait()
    # The row is written before the node logs the hangup; kill -9 at once after that line.
    wait_for_log(media_node, f"-{played.peer_callno}' (cause")
    wait_for_log(media_node, f"-{echo.peer_callno}' (cause")
    os.kill(media_node.process.pid, signal.SIGKILL)
    media_node.process.wait()
    rows = [next(csv.reader([row]))
            for row in (media_node.state / "cdr-csv" / "Master.csv").read_text().splitlines()]
    for row in rows:
        assert len(row) == 16
        assert (row[1], row[3], row[14], row[15]) == ("2001", "media", "ANSWERED",
                                                      "DOCUMENTATION")
        assert row[9] <= row[10] <= row[11]  # start, answer, end
    by_channel = {row[5]: row for row in rows}
    [played_row] = [r for c, r in by_channel.items() if c.endswith(f"-{played.peer_callno}")]
    [echo_row] = [r for c, r in by_channel.items() if c.endswith(f"-{echo.peer_callno}")]
    assert (played_row[2], played_row[7]) == ("702", "Hangup")
    assert (echo_row[2], echo_row[7]) == ("700", "Echo")
