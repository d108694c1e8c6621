"""IaxChannel against a recording link: what the dialplan asks becomes frames."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from dialplan.channel import ChannelState, Feature, Indication
from pbxedge.channels.bridge import bridge
from pbxedge.channels.iax import IaxChannel
from pbxedge.channels.media import MediaEnv
from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.enums import ControlSubclass
from pbxedge.media.jitterbuffer import JitterBufferSettings


class RecordingLink:
    def __init__(self, callno: int = 42) -> None:
        self.callno = callno
        self.sent: list[tuple[str, object]] = []

    def send_control(self, subclass: int) -> None:
        self.sent.append(("control", subclass))

    def send_text(self, text: str) -> None:
        self.sent.append(("text", text))

    def send_dtmf(self, digit: str, begin: bool) -> None:
        self.sent.append(("dtmf-begin" if begin else "dtmf", digit))

    def send_voice(self, codec: int, payload: bytes, samples: int) -> None:
        self.sent.append(("voice", (codec, payload, samples)))

    def forward_voice(self, dst: int, codec: int, payload: bytes, timestamp: int,
                      samples: int) -> None:
        self.sent.append(("forward", (dst, codec, payload, timestamp)))

    def unbridge(self) -> None:
        self.sent.append(("unbridge", None))

    def set_jitterbuffer(self, settings: JitterBufferSettings | None) -> None:
        self.sent.append(("jitterbuffer", settings))

    def hangup(self, cause: int) -> None:
        self.sent.append(("hangup", cause))

    def of(self, kind: str) -> list[object]:
        return [value for what, value in self.sent if what == kind]


@pytest.fixture
async def nursery() -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as opened:
        yield opened
        opened.cancel_scope.cancel()


def _channel(nursery: trio.Nursery, codec: int = Codec.ULAW,
             callno: int = 42) -> tuple[IaxChannel, RecordingLink]:
    link = RecordingLink(callno)
    channel = IaxChannel(f"IAX2/md5peer-{callno}", link, env=MediaEnv(), nursery=nursery,
                         codec=codec, caller_num="1001")
    return channel, link


async def test_answer_sends_answer_then_stop_sounds_once(
        nursery: trio.Nursery, autojump_clock: object) -> None:
    channel, link = _channel(nursery)
    started = trio.current_time()
    await channel.answer()
    await channel.answer()
    assert link.sent == [("control", ControlSubclass.ANSWER),
                         ("control", ControlSubclass.STOP_SOUNDS)]
    assert channel.state is ChannelState.UP and channel.answered_at is not None
    # __ast_answer: no audio from the caller, so the answer waited its 500 ms.
    assert trio.current_time() - started == pytest.approx(0.5)


async def test_answer_returns_as_soon_as_the_callers_audio_starts(
        nursery: trio.Nursery, autojump_clock: object) -> None:
    channel, _ = _channel(nursery)
    started = trio.current_time()
    nursery.start_soon(channel.answer)
    await trio.sleep(0.1)
    channel.remote_voice(Codec.ULAW, b"\xff" * 160, 20)
    await trio.sleep(0)
    await trio.sleep(0)
    assert channel.state is ChannelState.UP
    assert trio.current_time() - started == pytest.approx(0.1)


@pytest.mark.parametrize(("indication", "subclass"), [
    (Indication.RINGING, ControlSubclass.RINGING), (Indication.PROGRESS, ControlSubclass.PROGRESS),
    (Indication.BUSY, ControlSubclass.BUSY), (Indication.CONGESTION, ControlSubclass.CONGESTION),
])
async def test_indications_are_control_frames(nursery: trio.Nursery, indication: Indication,
                                              subclass: int) -> None:
    channel, link = _channel(nursery)
    await channel.indicate(indication)
    assert link.sent == [("control", subclass)]


async def test_hangup_carries_the_cause_once_and_silences_the_channel(
        nursery: trio.Nursery) -> None:
    channel, link = _channel(nursery)
    await channel.hangup(21)
    await channel.hangup(16)
    await channel.indicate(Indication.BUSY)
    assert not await channel.send_text("late")
    assert link.sent == [("hangup", 21)]
    assert channel.hangup_cause == 21 and channel.is_hungup


async def test_remote_hangup_sets_the_cause_and_ends_waits(
        nursery: trio.Nursery, autojump_clock: object) -> None:
    channel, link = _channel(nursery)
    results: list[bool] = []

    async def waiter() -> None:
        results.append(await channel.wait(None))

    async with trio.open_nursery() as inner:
        inner.start_soon(waiter)
        await trio.sleep(5)
        channel.remote_hangup(17)
    assert results == [False]
    assert channel.hangup_cause == 17
    assert link.sent == []  # the peer already knows


async def test_digits_queue_and_wait_for_digit(nursery: trio.Nursery,
                                                autojump_clock: object) -> None:
    channel, _ = _channel(nursery)
    channel.remote_digit("4", begin=True)  # applications react to the END only
    channel.remote_digit("4")
    channel.remote_digit("2")
    assert await channel.wait_for_digit(1) == "4"
    assert await channel.wait_for_digit(1) == "2"
    assert await channel.wait_for_digit(3) is None  # timeout
    got: list[str | None] = []

    async def reader() -> None:
        got.append(await channel.wait_for_digit(None))

    async with trio.open_nursery() as inner:
        inner.start_soon(reader)
        await trio.sleep(1)
        channel.remote_digit("#")
    assert got == ["#"]
    channel.remote_hangup(16)
    assert await channel.wait_for_digit(None) is None


async def test_send_dtmf_is_begin_duration_end_gap(nursery: trio.Nursery,
                                                   autojump_clock: object) -> None:
    channel, link = _channel(nursery)
    times: list[float] = []
    original = link.send_dtmf

    def timed(digit: str, begin: bool) -> None:
        times.append(trio.current_time())
        original(digit, begin)

    link.send_dtmf = timed  # type: ignore[method-assign]
    start = trio.current_time()
    await channel.send_dtmf("1w2")
    assert link.sent == [("dtmf-begin", "1"), ("dtmf", "1"), ("dtmf-begin", "2"), ("dtmf", "2")]
    offsets = [round(t - start, 3) for t in times]
    # 100 ms quiet, BEGIN, 100 ms, END, 250 ms gap, 'w' 500 ms, BEGIN, 100 ms, END.
    assert offsets == [0.1, 0.2, 0.95, 1.05]


async def test_every_media_feature_with_a_known_codec_and_dtmf_only_without(
        nursery: trio.Nursery) -> None:
    channel, _ = _channel(nursery)
    assert all(channel.supports(feature) for feature in Feature)
    relay_only, _ = _channel(nursery, codec=Codec.G729)
    assert relay_only.supports(Feature.DTMF_IN) and relay_only.supports(Feature.TEXT)
    assert not relay_only.supports(Feature.PLAY) and not relay_only.supports(Feature.ECHO)


async def test_echo_returns_voice_digits_and_text_until_pound(
        nursery: trio.Nursery, autojump_clock: object) -> None:
    channel, link = _channel(nursery)
    done = trio.Event()

    async def echo() -> None:
        await channel.echo()
        done.set()

    nursery.start_soon(echo)
    await trio.sleep(0.1)
    channel.remote_voice(Codec.ULAW, b"\x01\x02" * 80, 20)
    channel.remote_text("hi")
    channel.remote_digit("5", begin=True)
    channel.remote_digit("5")
    assert not done.is_set()
    channel.remote_digit("#")
    await done.wait()
    assert link.sent == [("voice", (Codec.ULAW, b"\x01\x02" * 80, 160)), ("text", "hi"),
                         ("dtmf-begin", "5"), ("dtmf", "5"), ("dtmf", "#")]
    channel.remote_voice(Codec.ULAW, b"\x03" * 160, 40)
    assert len(link.of("voice")) == 1  # the echo is over: nobody reads the audio


async def test_voice_in_another_codec_is_translated_to_the_channels_own(
        nursery: trio.Nursery) -> None:
    channel, link = _channel(nursery, codec=Codec.ALAW)
    from pbxedge.channels.media import VoiceFrame
    from pbxedge.media.formats import Format
    channel.write(VoiceFrame(Format.ULAW, b"\xff" * 160, 160))
    [(codec, payload, samples)] = link.of("voice")  # type: ignore[misc]
    assert codec == Codec.ALAW and payload == b"\xd5" * 160 and samples == 160


async def test_two_iax_legs_relay_voice_in_the_endpoint_and_relay_signalling(
        nursery: trio.Nursery, autojump_clock: object) -> None:
    caller, caller_link = _channel(nursery, callno=1)
    callee, callee_link = _channel(nursery, codec=Codec.ALAW, callno=2)
    callee.remote_digit("3")  # a called leg's digit from before the bridge started

    async def run() -> None:
        await bridge(caller, callee)

    nursery.start_soon(run)
    await trio.sleep(0.1)
    caller.remote_voice(Codec.ULAW, b"\xff" * 160, 20)  # transcoded for the A-law leg
    callee.remote_voice(Codec.ALAW, b"\xd5" * 160, 60)
    caller.remote_digit("1", begin=True)
    caller.remote_digit("1")
    callee.remote_text("hi")
    await trio.sleep(0.1)
    assert caller_link.of("dtmf-begin") == ["3"] and caller_link.of("dtmf") == ["3"]
    assert caller_link.of("forward") == [(2, Codec.ALAW, b"\xd5" * 160, 20)]
    assert callee_link.of("forward") == [(1, Codec.ULAW, b"\xfe" * 160, 60)]  # a2mu(0xd5)
    assert callee_link.of("dtmf-begin") == ["1"] and callee_link.of("dtmf") == ["1"]
    assert caller_link.of("text") == ["hi"]
    callee.remote_hangup(16)
    await trio.sleep(0.1)
    assert caller_link.of("unbridge") == [None] and callee_link.of("unbridge") == [None]
    # The bridge is over: digits feed the plan again.
    caller.remote_digit("5")
    assert await caller.wait_for_digit(1) == "5"


async def test_jitter_buffer_is_off_across_an_iax_bridge_and_back_after(
        nursery: trio.Nursery, autojump_clock: object) -> None:
    settings = JitterBufferSettings()
    caller, caller_link = _channel(nursery, callno=1)
    callee, _ = _channel(nursery, callno=2)
    caller.jitterbuffer = settings
    caller.use_jitterbuffer(True)
    nursery.start_soon(bridge, caller, callee)
    await trio.sleep(0.1)
    await callee.hangup(16)
    await trio.sleep(0.1)
    assert caller_link.of("jitterbuffer") == [settings, None, settings]


async def test_hold_plays_moh_or_passes_through(nursery: trio.Nursery,
                                               autojump_clock: object) -> None:
    caller, caller_link = _channel(nursery, callno=1)
    callee, callee_link = _channel(nursery, callno=2)
    callee.mohinterpret = "passthrough"
    nursery.start_soon(bridge, caller, callee)
    await trio.sleep(0.1)
    caller.remote_hold(True)
    caller.remote_hold(False)
    assert callee_link.of("control") == [ControlSubclass.HOLD, ControlSubclass.UNHOLD]
    assert caller_link.of("control") == []
    await callee.hangup(16)
