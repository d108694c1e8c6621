"""IaxChannel against a recording link: what the dialplan asks becomes frames."""

from __future__ import annotations

from functools import partial

import pytest
import trio

from dialplan.channel import ChannelState, Feature, Indication
from pbxedge.channels.iax import IaxChannel, MediaUnavailable
from pbxedge.iax2.enums import ControlSubclass


class RecordingLink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []

    def send_control(self, subclass: int) -> None:
        self.sent.append(("control", subclass))

    def send_text(self, text: str) -> None:
        self.sent.append(("text", text))

    def send_dtmf(self, digit: str) -> None:
        self.sent.append(("dtmf", digit))

    def hangup(self, cause: int) -> None:
        self.sent.append(("hangup", cause))


def _channel() -> tuple[IaxChannel, RecordingLink]:
    link = RecordingLink()
    return IaxChannel("IAX2/md5peer-42", link, caller_num="1001"), link


async def test_answer_sends_answer_then_stop_sounds_once() -> None:
    channel, link = _channel()
    await channel.answer()
    await channel.answer()
    assert link.sent == [("control", ControlSubclass.ANSWER),
                         ("control", ControlSubclass.STOP_SOUNDS)]
    assert channel.state is ChannelState.UP


@pytest.mark.parametrize(("indication", "subclass"), [
    (Indication.RINGING, ControlSubclass.RINGING), (Indication.PROGRESS, ControlSubclass.PROGRESS),
    (Indication.BUSY, ControlSubclass.BUSY), (Indication.CONGESTION, ControlSubclass.CONGESTION),
])
async def test_indications_are_control_frames(indication: Indication, subclass: int) -> None:
    channel, link = _channel()
    await channel.indicate(indication)
    assert link.sent == [("control", subclass)]


async def test_hangup_carries_the_cause_once_and_silences_the_channel() -> None:
    channel, link = _channel()
    await channel.hangup(21)
    await channel.hangup(16)
    await channel.indicate(Indication.BUSY)
    assert not await channel.send_text("late")
    assert link.sent == [("hangup", 21)]
    assert channel.hangup_cause == 21 and channel.is_hungup


async def test_remote_hangup_sets_the_cause_and_ends_waits(autojump_clock: object) -> None:
    channel, link = _channel()
    async with trio.open_nursery() as nursery:
        results: list[bool] = []

        async def waiter() -> None:
            results.append(await channel.wait(None))

        nursery.start_soon(waiter)
        await trio.sleep(5)
        channel.remote_hangup(17)
    assert results == [False]
    assert channel.hangup_cause == 17
    assert link.sent == []  # the peer already knows


async def test_digits_queue_and_wait_for_digit(autojump_clock: object) -> None:
    channel, _ = _channel()
    channel.remote_digit("4")
    channel.remote_digit("2")
    assert await channel.wait_for_digit(1) == "4"
    assert await channel.wait_for_digit(1) == "2"
    assert await channel.wait_for_digit(3) is None  # timeout
    async with trio.open_nursery() as nursery:
        got: list[str | None] = []

        async def reader() -> None:
            got.append(await channel.wait_for_digit(None))

        nursery.start_soon(reader)
        await trio.sleep(1)
        channel.remote_digit("#")
    assert got == ["#"]
    channel.remote_hangup(16)
    assert await channel.wait_for_digit(None) is None


async def test_text_and_dtmf_out() -> None:
    channel, link = _channel()
    assert await channel.send_text("hello")
    await channel.send_dtmf("12#")
    assert link.sent == [("text", "hello"), ("dtmf", "1"), ("dtmf", "2"), ("dtmf", "#")]


async def test_media_is_refused_clearly() -> None:
    channel, _ = _channel()
    assert channel.supports(Feature.DTMF_IN) and channel.supports(Feature.TEXT)
    for feature in (Feature.PLAY, Feature.RECORD, Feature.ECHO, Feature.TONES, Feature.MOH):
        assert not channel.supports(feature)
    with pytest.raises(MediaUnavailable):
        await channel.play("tt-monkeys", "")
    with pytest.raises(MediaUnavailable):
        await channel.echo()


async def test_bridged_channel_relays_dtmf_and_text_once_per_press(
    autojump_clock: object,
) -> None:
    channel, _ = _channel()
    other, other_link = _channel()
    channel.remote_digit("3")  # a called leg's digit from before the bridge started
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(channel.relay_to, other, queued_digits=True))
        await trio.sleep(1)
        channel.remote_digit("1", begin=True)  # Asterisk: BEGIN then END for each press
        channel.remote_digit("1")
        channel.remote_digit("2")  # END alone
        channel.remote_digit("4", begin=True)  # BEGIN alone
        channel.remote_text("hi")
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert other_link.sent == [("dtmf", "3"), ("dtmf", "1"), ("dtmf", "2"), ("dtmf", "4"),
                               ("text", "hi")]
    # The bridge is over: digits feed the plan again, BEGINs and TEXT go nowhere.
    channel.remote_digit("5", begin=True)
    channel.remote_digit("5")
    channel.remote_text("late")
    assert await channel.wait_for_digit(1) == "5"
    assert await channel.wait_for_digit(1) is None
    assert len(other_link.sent) == 5
