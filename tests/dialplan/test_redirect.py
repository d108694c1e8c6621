"""What the engine offers the manager interface: Redirect, one application run alone, the
variables of any channel, and the events of each priority."""

from __future__ import annotations

import trio

from dialplan.call import CallLocation
from dialplan.engine import Engine
from dialplan.loader import parse_dialplan_text
from pbxedge.events import EventBus, Newexten, NodeEvent, UserEvent, VarSet
from tests.dialplan.fakes import FakeChannel

PLAN = """
[c]
exten => s,1,Answer()
 same => n,Set(WHERE=start)
 same => n,Wait(100)
 same => n,Set(WHERE=fell-through)
exten => other,1,Set(WHERE=redirected)
 same => n(lbl),UserEvent(Moved,Where: ${WHERE},Empty)
 same => n,Hangup(17)
exten => h,1,NoOp(over)
"""


def engine_with_events() -> tuple[Engine, list[NodeEvent]]:
    engine = Engine(parse_dialplan_text(PLAN))
    engine.services.events = EventBus()
    heard: list[NodeEvent] = []
    engine.services.events.subscribe(heard.append)
    return engine, heard


async def test_redirect_stops_the_running_application_and_continues_there(
        autojump_clock: object) -> None:
    engine, heard = engine_with_events()
    channel = FakeChannel()
    outcomes = []
    async with trio.open_nursery() as nursery:
        async def run() -> None:
            outcomes.append(await engine.start(channel, "c", "s"))

        nursery.start_soon(run)
        await trio.sleep(5)
        assert engine.location(channel.name) == CallLocation("c", "s", 3, "Wait", "100")
        assert engine.redirect(channel.name, "c", "other", 1)
    assert trio.current_time() < 10  # Wait(100) did not run out
    [outcome] = outcomes
    assert [s.app for s in outcome.trace] == ["Answer", "Set", "Wait", "Set", "UserEvent",
                                              "Hangup", "NoOp"]
    assert channel.variables["WHERE"] == "redirected" and outcome.hangup_cause == 17
    places = [(e.context, e.exten, e.priority, e.app) for e in heard if isinstance(e, Newexten)]
    assert places[2:5] == [("c", "s", 3, "Wait"), ("c", "other", 1, "Set"),
                           ("c", "other", 2, "UserEvent")]
    [moved] = [e for e in heard if isinstance(e, UserEvent)]
    assert (moved.event, moved.headers, moved.channel) == (
        "Moved", (("Where", "redirected"),), channel)
    assert [(e.variable, e.value) for e in heard if isinstance(e, VarSet)] == [
        ("WHERE", "start"), ("WHERE", "redirected")]
    # Over: nothing to redirect any more.
    assert not engine.redirect(channel.name, "c", "other", 1)


async def test_run_application_runs_one_application_then_ends_the_call(
        autojump_clock: object) -> None:
    engine, heard = engine_with_events()
    channel = FakeChannel()
    outcome = await engine.run_application(channel, "Wait", "2")
    assert [s.app for s in outcome.trace] == ["Wait"]
    assert channel.events[-1] == ("hangup", "16")
    assert [(e.context, e.exten, e.app, e.data) for e in heard if isinstance(e, Newexten)] == [
        ("default", "s", "Wait", "2")]


async def test_a_redirected_application_run_continues_in_the_dialplan(
        autojump_clock: object) -> None:
    engine, _ = engine_with_events()
    channel = FakeChannel()
    async with trio.open_nursery() as nursery:
        outcomes = []

        async def run() -> None:
            outcomes.append(await engine.run_application(channel, "Wait", "100"))

        nursery.start_soon(run)
        await trio.sleep(1)
        assert engine.redirect(channel.name, "c", "other", 2)
    assert [s.app for s in outcomes[0].trace] == ["Wait", "UserEvent", "Hangup", "NoOp"]


async def test_call_for_reads_and_sets_the_variables_of_any_channel(
        autojump_clock: object) -> None:
    engine, heard = engine_with_events()
    outside = FakeChannel(name="IAX2/out-2")
    call = engine.call_for(outside)
    call.set_variable("FOO", "bar")
    assert call.lookup_variable("FOO") == "bar"
    assert call.read_function("CHANNEL", "name") == "IAX2/out-2"
    assert heard == [VarSet(outside, "FOO", "bar")]
