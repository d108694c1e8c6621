"""The dialer over technologies: the race, the events, the bridge's end, and Originate,
with scripted technologies whose legs are real (console) channels on trio's clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import trio

from dialplan.channel import Channel, ChannelState
from dialplan.dialer import DialResult, DialStatus
from pbxedge.channels.console import ConsoleChannel
from pbxedge.channels.dial import CallerId, Dialer
from pbxedge.channels.media import MediaEnv
from pbxedge.channels.voice import VoiceFrame
from pbxedge.events import EventBus, NodeEvent
from pbxedge.media.formats import Format
from tests.dialplan.fakes import FakeChannel


class _Phone:
    """The far side of a scripted leg: nothing to play to, no tones."""

    def to_speaker(self, frame: VoiceFrame) -> None:
        pass

    def tone(self, name: str) -> str | None:
        return None

    def digit_heard(self, channel: ConsoleChannel, digit: str, begin: bool) -> None:
        pass

    def call_ended(self, channel: ConsoleChannel) -> None:
        pass


@dataclass
class Leg:
    """A called party that answers (or fails) after *after* seconds."""

    channel: ConsoleChannel
    settled: trio.Event = field(default_factory=trio.Event)
    result: DialResult | None = None
    redirect: tuple[str, str] | None = None
    keep_alive: bool = False  # release() hands it over instead of hanging it up
    bridged_to: Channel | None = None

    def hangup(self, cause: int) -> None:
        self.channel.end(cause)

    def bridging(self, caller: Channel) -> None:
        self.bridged_to = caller

    def release(self, cause: int) -> bool:
        if self.keep_alive:
            return True
        self.channel.end(cause)
        return False


@dataclass
class Scripted:
    """A technology whose targets say what they do: ``answer``, ``busy`` or ``ring``."""

    nursery: trio.Nursery
    env: MediaEnv
    legs: dict[str, Leg] = field(default_factory=dict)
    callerids: list[CallerId] = field(default_factory=list)
    keep_alive: bool = False
    redirect: tuple[str, str] | None = None

    async def place(self, caller: Channel | None, target: str,
                    callerid: CallerId) -> Leg | DialResult:
        self.callerids.append(callerid)
        what = target.partition("/")[2]
        if what == "unknown":
            return DialResult(DialStatus.CHANUNAVAIL, 20)
        channel = ConsoleChannel(what, _Phone(), env=self.env, nursery=self.nursery,
                                 native=Format.SLIN, outgoing=False, state=ChannelState.RING)
        leg = Leg(channel, keep_alive=self.keep_alive, redirect=self.redirect)
        self.legs[what] = leg
        self.nursery.start_soon(self._play, leg, what)
        return leg

    async def _play(self, leg: Leg, what: str) -> None:
        await trio.sleep(1)
        if what == "answer":
            leg.channel.answer_local()
            leg.result = DialResult(DialStatus.ANSWER)
            leg.settled.set()
        elif what == "busy":
            leg.result = DialResult(DialStatus.BUSY, 17)
            leg.settled.set()
            leg.channel.end(17)


@pytest.fixture
def heard() -> list[NodeEvent]:
    return []


def _dialer(nursery: trio.Nursery, heard: list[NodeEvent], **script: object) -> tuple[
        Dialer, Scripted]:
    bus = EventBus()
    bus.subscribe(heard.append)
    tech = Scripted(nursery, MediaEnv(), **script)  # type: ignore[arg-type]
    dialer = Dialer(bus)
    dialer.add_technology("Test", tech)
    return dialer, tech


def _dial_events(heard: list[NodeEvent]) -> list[tuple[str, str, str]]:
    return [(e.name, dict(e.channels())["Dest"].name, dict(e.fields()).get("DialStatus", ""))
            for e in heard if e.name in ("DialBegin", "DialEnd")]


async def test_the_first_answer_wins_and_the_others_are_told_cancel(
        heard: list[NodeEvent], autojump_clock: trio.abc.Clock) -> None:
    caller = FakeChannel(hangs_up_after=5)
    async with trio.open_nursery() as nursery:
        dialer, tech = _dialer(nursery, heard)
        result = await dialer.dial(caller, ["test/ring", "TEST/answer", "Nope/x"], 20, "")
        nursery.cancel_scope.cancel()
    assert (result.status, result.peer) == (DialStatus.ANSWER, "Console/answer")
    assert tech.callerids == [("2001", "Test Caller")] * 2  # the caller's own
    assert tech.legs["answer"].bridged_to is caller
    assert tech.legs["ring"].channel.is_hungup  # given up once the other answered
    assert tech.legs["answer"].channel.is_hungup  # ended with the caller
    assert _dial_events(heard) == [
        ("DialBegin", "Console/ring", ""), ("DialBegin", "Console/answer", ""),
        ("DialEnd", "Console/ring", "CANCEL"), ("DialEnd", "Console/answer", "ANSWER")]


async def test_when_every_leg_fails_the_status_is_asterisk_s_choice(
        heard: list[NodeEvent], autojump_clock: trio.abc.Clock) -> None:
    async with trio.open_nursery() as nursery:
        dialer, _ = _dialer(nursery, heard)
        result = await dialer.dial(FakeChannel(), ["Test/unknown", "Test/busy"], 20, "")
        nursery.cancel_scope.cancel()
    assert (result.status, result.hangup_cause) == (DialStatus.BUSY, 17)
    assert _dial_events(heard)[-1] == ("DialEnd", "Console/busy", "BUSY")


async def test_a_cancelled_dial_hangs_up_its_ringing_legs(
        heard: list[NodeEvent], autojump_clock: trio.abc.Clock) -> None:
    async with trio.open_nursery() as nursery:
        dialer, tech = _dialer(nursery, heard)
        with trio.move_on_after(5):  # a Redirect of the caller
            await dialer.dial(FakeChannel(), ["Test/ring"], 20, "")
        assert tech.legs["ring"].channel.is_hungup
        nursery.cancel_scope.cancel()


async def test_a_caller_leaving_the_bridge_ends_the_callee(
        heard: list[NodeEvent], autojump_clock: trio.abc.Clock) -> None:
    async with trio.open_nursery() as nursery:
        dialer, tech = _dialer(nursery, heard)
        with trio.move_on_after(5):  # bridged from 1 s on; then the caller is redirected
            await dialer.dial(FakeChannel(), ["Test/answer"], 20, "")
        callee = tech.legs["answer"].channel
        assert callee.is_hungup and callee.hangup_cause == 16
        nursery.cancel_scope.cancel()


async def test_a_handed_over_callee_lives_on_and_a_redirect_reaches_the_result(
        heard: list[NodeEvent], autojump_clock: trio.abc.Clock) -> None:
    caller = FakeChannel(hangs_up_after=5)
    async with trio.open_nursery() as nursery:
        dialer, tech = _dialer(nursery, heard, keep_alive=True, redirect=("other", "300"))
        result = await dialer.dial(caller, ["Test/answer"], 20, "")
        assert not tech.legs["answer"].channel.is_hungup
        nursery.cancel_scope.cancel()
    assert result.redirect == ("other", "300")
    assert result.hangup_cause == 16  # the caller's: the callee is still up


async def test_originate_calls_one_target_of_any_technology_with_the_caller_id_given(
        heard: list[NodeEvent], autojump_clock: trio.abc.Clock) -> None:
    async with trio.open_nursery() as nursery:
        dialer, tech = _dialer(nursery, heard)
        answered = await dialer.originate("Test/answer", 10, "100", "Desk")
        assert answered.status is DialStatus.ANSWER and answered.channel is not None
        assert answered.channel.name == "Console/answer"
        assert tech.callerids == [("100", "Desk")]
        unanswered = await dialer.originate("Test/ring", 3, None, None)
        assert (unanswered.status, unanswered.hangup_cause) == (DialStatus.NOANSWER, 19)
        assert tech.legs["ring"].channel.is_hungup
        missing = await dialer.originate("Nope/x", 3, None, None)
        assert (missing.status, missing.channel) == (DialStatus.CHANUNAVAIL, None)
        nursery.cancel_scope.cancel()
