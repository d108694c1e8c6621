"""Local phones on real nodes, with ALSA file devices (no sound card) and PulseAudio.

* A phone whose microphone reads tone bursts from a file calls Echo on another node over
  IAX2: its loudspeaker file holds the same bursts, delayed by the whole loop.
* Two nodes, a phone on each, talk through IAX2: a tone each way; ``console dial``,
  ``answer``, ``mute``, ``send text``, keypad digits, ``hangup`` act and print as
  chan_console does.
* A phone on a clocked device (a PulseAudio null sink) produces 60 s of audio in 60 s.
* A device that fails mid-call ends that call only, and the phone works again once the
  device is back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.integration.conftest import free_udp_port
from tests.integration.nodes import stop, wait_for_log
from tests.integration.phonenodes import far_node, phone_node, rx, stat, wait_until
from tests.phones.soundcards import (
    RATE,
    FilePhone,
    PulseServer,
    delay_of,
    needs_portaudio,
    needs_pulseaudio,
    read_raw,
    tone,
    tone_bursts,
    tone_level,
    write_raw,
)

pytestmark = needs_portaudio

ECHO = """[from-phone]
exten => 600,1,Answer()
 same => n,Verbose(1,ECHO START)
 same => n,Echo()
"""
DIAL_FAR = """[default]
exten => _X.,1,Dial(IAX2/far/${EXTEN})
 same => n,Hangup()
"""


def _console(name: str, phone: FilePhone | None = None, extra: str = "", *,
             inp: str = "", out: str = "") -> str:
    return f"""[general]
context = default
callerid = "Front desk" <200>

[{name}]
input_device = {phone.input_device if phone else inp}
output_device = {phone.output_device if phone else out}
{extra}
"""


@pytest.fixture
def file_phone(node_dir: Path) -> FilePhone:
    return FilePhone("desk", node_dir / "in.raw", node_dir / "play.raw")


def test_echo_over_iax2_brings_the_microphone_back_to_the_loudspeaker(
        node_dir: Path, file_phone: FilePhone, record_property: pytest.RecordProperty) -> None:
    signal = tone_bursts(60.0)
    write_raw(file_phone.infile, signal)
    echo = far_node(node_dir / "echo", ECHO)
    node = phone_node(node_dir / "phone", _console("desk", file_phone, "active = yes\n"
                                                   "extension = 600"),
                      DIAL_FAR, phones=[file_phone], far_port=echo.port)
    try:
        wait_for_log(node, "Console/desk: sound device open")
        assert rx(node, "console dial") == ""
        wait_for_log(echo, "ECHO START")
        wait_for_log(node, "Call from Console has been Answered")
        wait_until(lambda: len(read_raw(file_phone.outfile)) > 0 and np.abs(
            read_raw(file_phone.outfile)[-RATE * 3:]).max() > 2000, "the echo", 20)
        # Three seconds of echo after it started.
        started = len(read_raw(file_phone.outfile))
        wait_until(lambda: len(read_raw(file_phone.outfile)) > started + 3 * RATE, "3 s")
        assert rx(node, "console hangup") == ""
        wait_for_log(node, "Hangup on Console")
    finally:
        stop(node)
        stop(echo)
    played = read_raw(file_phone.outfile)
    loud = np.flatnonzero(np.abs(played) > 2000)
    chunk = played[loud[0] + RATE: loud[0] + 2 * RATE]  # one second, past the start
    lag, correlation = delay_of(chunk, signal)
    position = loud[0] + RATE
    delay_ms = (position - lag) * 1000 / RATE
    expected = signal[lag: lag + len(chunk)].astype(np.float64)
    error = chunk.astype(np.float64) - expected
    snr = 10 * np.log10(np.dot(expected, expected) / max(np.dot(error, error), 1.0))
    record_property("echo_delay_ms", round(delay_ms))
    record_property("echo_snr_db", round(snr, 1))
    print(f"echo loop: delay {delay_ms:.0f} ms, correlation {correlation:.4f}, "
          f"SNR {snr:.1f} dB")
    assert correlation > 0.99  # the same bursts, through µ-law twice
    assert snr > 25  # µ-law twice is about 36 dB on these bursts
    assert 20 < delay_ms < 1000


def test_two_nodes_talk_through_their_local_phones(node_dir: Path) -> None:
    a_phone = FilePhone("desk", node_dir / "a-in.raw", node_dir / "a-play.raw")
    b_phone = FilePhone("lobby", node_dir / "b-in.raw", node_dir / "b-play.raw")
    write_raw(a_phone.infile, tone(1000, 90))
    write_raw(b_phone.infile, tone(1500, 90))
    a_port, b_port = free_udp_port(), free_udp_port()
    b = phone_node(node_dir / "b", _console("lobby", b_phone, "active = yes"),
                   "[from-far]\nexten => 100,1,Dial(Console/lobby,20)\n same => n,Hangup()\n",
                   phones=[b_phone], far_port=a_port, port=b_port)
    a = phone_node(node_dir / "a", _console("desk", a_phone, "active = yes"), DIAL_FAR,
                   phones=[a_phone], far_port=b_port, port=a_port)
    try:
        for node, name in ((a, "desk"), (b, "lobby")):
            wait_for_log(node, f"Console/{name}: sound device open")
        # Idle: chan_console's refusals, with the CLI core's failure line.
        assert rx(b, "console answer") == ("No one is calling us\n"
                                          "Command 'console answer' failed.\n")
        assert rx(a, "console hangup") == ("No call to hang up\n"
                                          "Command 'console hangup' failed.\n")
        assert rx(a, "console send text hi") == "Not in a call\nCommand 'console send text hi' failed.\n"
        assert rx(a, "console flash") == "No call to flash\nCommand 'console flash' failed.\n"
        assert rx(a, "console dial 999@nowhere") == "No such extension '999' in context 'nowhere'\n"
        assert rx(a, "console show active") == "The active console device is 'desk'.\n"
        available = rx(a, "console list available")
        assert "=== Device Name: desk_cap\n=== ---> Input Device\n" in available

        assert rx(a, "console dial 100") == ""
        wait_for_log(b, "Call to device 'lobby' on console from 'Front desk' <200>")
        wait_for_log(b, "Type 'console answer' to answer, or use the 'autoanswer' option "
                        "for future calls")
        assert rx(a, "console dial") == ("Already in a call. You can only dial digits until "
                                         "you hangup.\nCommand 'console dial' failed.\n")
        assert rx(b, "console answer") == ""
        wait_for_log(a, "Call from Console has been Answered")

        def hears(phone: FilePhone, freq: float) -> bool:
            tail = read_raw(phone.outfile)[-RATE // 2:]
            return len(tail) == RATE // 2 and tone_level(tail, freq) > -30

        wait_until(lambda: hears(b_phone, 1000) and hears(a_phone, 1500), "a tone each way")
        calls = rx(a, "console show calls")
        assert "Console/desk" in calls and "Up" in calls and "1 active console call" in calls

        assert rx(a, "console mute") == ""
        wait_for_log(a, "The Console is now Muted")
        wait_until(lambda: not hears(b_phone, 1000), "silence once muted")
        assert hears(a_phone, 1500)  # muting the desk does not deafen it
        assert rx(a, "console unmute") == ""
        wait_until(lambda: hears(b_phone, 1000), "the tone once unmuted")

        assert rx(a, "console send text hello there") == ""
        wait_for_log(b, "Console Received Text 'hello there")
        assert rx(a, "console dial 5") == ""
        wait_for_log(b, "Console Received End of Digit 5 (duration")
        assert rx(a, "console flash") == ""
        wait_for_log(b, "Console Received Flash")

        assert rx(a, "console hangup") == ""
        for node in (a, b):
            wait_for_log(node, "Hangup on Console")
        assert "0 active console calls" in rx(b, "console show calls")
    finally:
        stop(a)
        stop(b)


# -- PulseAudio: a clocked device --------------------------------------------------------

@pytest.fixture
def pulse(node_dir: Path) -> Iterator[PulseServer]:
    server = PulseServer(node_dir / "pa")
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _stats(node_text: str) -> dict[str, int]:
    return {
        "read": stat(node_text, r"Microphone:\s+(\d+) blocks read"),
        "sent": stat(node_text, r"blocks read, (\d+) sent"),
        "dropped": stat(node_text, r"(\d+) dropped"),
        "overflows": stat(node_text, r"(\d+) overflows \(device\)"),
        "played": stat(node_text, r"Loudspeaker:\s+(\d+) blocks played"),
    }


@needs_pulseaudio
def test_a_clocked_device_gives_60_s_of_audio_in_60_s(
        node_dir: Path, pulse: PulseServer, record_property: pytest.RecordProperty) -> None:
    echo = far_node(node_dir / "echo", ECHO)
    node = phone_node(node_dir / "phone", _console("desk", None, "active = yes\n"
                                                   "extension = 600", inp="pulse", out="pulse"),
                      DIAL_FAR, phones=[], far_port=echo.port, env=pulse.env)
    try:
        wait_for_log(node, "Console/desk: sound device open")
        assert rx(node, "console dial") == ""
        wait_for_log(node, "Call from Console has been Answered")
        wait_until(lambda: _stats(rx(node, "console show stats"))["sent"] > 50, "audio")
        before, t0 = _stats(rx(node, "console show stats")), time.monotonic()
        time.sleep(60)
        after, t1 = _stats(rx(node, "console show stats")), time.monotonic()
        rx(node, "console hangup")
    finally:
        stop(node)
        stop(echo)
    seconds = t1 - t0
    sent = (after["sent"] - before["sent"]) * 0.020
    played = (after["played"] - before["played"]) * 0.020
    record_property("pacing_sent_s", round(sent, 3))
    record_property("pacing_played_s", round(played, 3))
    print(f"{seconds:.3f} s of call: microphone sent {sent:.3f} s, loudspeaker played "
          f"{played:.3f} s; overflows {after['overflows']}, dropped {after['dropped']}")
    assert abs(sent - seconds) <= 0.01 * seconds
    assert abs(played - seconds) <= 0.01 * seconds
    assert after["overflows"] == 0 and after["dropped"] == 0


@needs_pulseaudio
def test_a_failing_device_ends_its_call_only_and_comes_back(
        node_dir: Path, pulse: PulseServer) -> None:
    other = FilePhone("desk", node_dir / "in.raw", node_dir / "play.raw")
    write_raw(other.infile, tone(1000, 120))
    echo = far_node(node_dir / "echo", ECHO)
    console_conf = f"""[general]
context = default
extension = 600

[lift]
input_device = pulse
output_device = pulse
active = yes

[desk]
input_device = {other.input_device}
output_device = {other.output_device}
"""
    node = phone_node(node_dir / "phone", console_conf, DIAL_FAR, phones=[other],
                      far_port=echo.port, env=pulse.env)
    try:
        for name in ("lift", "desk"):
            wait_for_log(node, f"Console/{name}: sound device open")
        assert rx(node, "console dial") == ""
        assert rx(node, "console active desk") == "The active console device has been set to 'desk'\n"
        assert rx(node, "console dial") == ""
        wait_until(lambda: rx(node, "console show calls").count(" Up ") == 2, "two calls")

        pulse.kill()
        wait_for_log(node, "Console/lift: sound device failed")
        wait_until(lambda: "1 active console call" in rx(node, "console show calls"),
                   "the lift's call to end")
        calls = rx(node, "console show calls")
        assert "Console/desk" in calls and "Console/lift" not in calls
        assert "Console/lift: device unavailable" in rx(node, "console show stats")

        pulse.start()
        wait_until(lambda: node.stderr().count("Console/lift: sound device open") == 2,
                   "the device to come back")
        rx(node, "console active lift")
        assert rx(node, "console dial") == ""
        wait_until(lambda: rx(node, "console show calls").count(" Up ") == 2, "two calls again")
        stats = rx(node, "console show stats")
        assert re.search(r"Console/lift: in 'pulse'", stats)
    finally:
        stop(node)
        stop(echo)


def test_a_missing_device_is_named_and_the_node_runs_without_it(node_dir: Path) -> None:
    phone = FilePhone("desk", node_dir / "in.raw", node_dir / "play.raw")
    node = phone_node(node_dir / "phone", _console("desk", None, "active = yes\n"
                                                   "extension = 600",
                                                   inp="lift_mic", out="desk_play"),
                      "[default]\nexten => 600,1,Answer()\n same => n,Verbose(1,NO AUDIO)\n",
                      phones=[phone])
    try:
        line = wait_for_log(node, "Console/desk: cannot open the sound device")
        assert "no input device 'lift_mic'; devices: " in line and "'desk_cap'" in line
        assert "device unavailable (no input device 'lift_mic'" in rx(node, "console show stats")
        assert rx(node, "console dial") == ""  # the dialplan still runs, without audio
        wait_for_log(node, "NO AUDIO")
        time.sleep(4)  # retries at 1, 2 and 4 s
        assert node.stderr().count("cannot open the sound device") == 1  # said once
        assert rx(node, "core show uptime")  # the node serves on
    finally:
        stop(node)


# -- operations: the manager, the console's channel list, reload ------------------------

async def test_a_local_phone_on_the_manager_in_core_show_channels_and_reloaded(
        node_dir: Path, file_phone: FilePhone) -> None:
    import trio

    from tests.integration.amiclient import AmiClient, event_is, free_tcp_port

    write_raw(file_phone.infile, np.zeros(RATE * 90, dtype=np.int16))
    ami_port = free_tcp_port()
    conf = _console("desk", file_phone, "active = yes\nautoanswer = yes")
    node = phone_node(node_dir / "phone", conf,
                      "[default]\nexten => 700,1,Answer()\n same => n,Wait(30)\n",
                      phones=[file_phone], manager_port=ami_port)

    async def console(command: str) -> str:
        return await trio.to_thread.run_sync(rx, node, command)

    try:
        await trio.to_thread.run_sync(wait_for_log, node, "Console/desk: sound device open")
        ami = await AmiClient.connect(ami_port)
        assert dict(await ami.login())["Response"] == "Success"
        # Originate reaches the phone like any other technology: autoanswer takes the call.
        await ami.send(("Action", "Originate"), ("Channel", "Console/desk"),
                       ("Context", "default"), ("Exten", "700"), ("Priority", "1"),
                       ("Async", "true"), ("ActionID", "o1"))
        queued = dict(await ami.until(lambda found: ("ActionID", "o1") in found))
        assert queued["Response"] == "Success"
        new = dict(await ami.until(event_is("Newchannel", Channel="Console/desk")))
        assert (new["CallerIDNum"], new["CallerIDName"]) == ("<unknown>", "<unknown>")
        await ami.until(event_is("Newstate", Channel="Console/desk", ChannelStateDesc="Up"))
        await ami.until(event_is("OriginateResponse", Channel="Console/desk",
                                 Response="Success", Reason="4"))
        await ami.send(("Action", "CoreShowChannels"), ("ActionID", "c1"))
        listed = dict(await ami.until(event_is("CoreShowChannel")))
        assert (listed["Channel"], listed["ChannelStateDesc"]) == ("Console/desk", "Up")

        shown = await console("core show channels")
        assert re.search(r"^Console/desk +700@default:\d +Up +", shown, re.MULTILINE), shown
        assert "1 active channel\n1 active call\n" in shown

        # A key on the phone's keypad: DTMF received on the Console channel.
        assert await console("console dial 5") == ""
        await ami.until(event_is("DTMFBegin", Channel="Console/desk", Digit="5",
                                 Direction="Received"))
        await ami.until(event_is("DTMFEnd", Channel="Console/desk", Digit="5"))

        assert await console("channel request hangup Console/desk") == (
            "Requested Hangup on channel 'Console/desk'\n")
        ended = dict(await ami.until(event_is("Hangup", Channel="Console/desk")))
        assert ended["Cause"] == "16"
        assert "0 active channels" in await console("core show channels")

        # console.conf reloads: the caller ID applies at once, a new device at the next start.
        (node_dir / "phone" / "console.conf").write_text(
            conf.replace('"Front desk" <200>', '"Night desk" <201>')
                .replace(file_phone.input_device, "somewhere_else"))
        assert await console("module reload chan_console") == (
            "Module 'chan_console.so' reloaded successfully.\n")
        await ami.until(event_is("Reload", Module="chan_console.so", Status="0"))
        await trio.to_thread.run_sync(
            wait_for_log, node, "console: 'desk': input_device change at the next start")
        devices = await console("console list devices")
        assert "CallerID Num:     201\n" in devices and "CallerID Name:    Night desk\n" in devices
        assert f"Input Device:     {file_phone.input_device}\n" in devices
        await ami.close()
    finally:
        stop(node)
