"""The engine: flow control, special extensions, fall-through, loops, applications."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import trio
import trio.testing

from dialplan.call import Call, CallLocation, EngineOptions
from dialplan.channel import Feature
from dialplan.dialer import DialStatus
from dialplan.engine import CallOutcome, Engine, entry_extension
from dialplan.loader import parse_dialplan_text
from tests.dialplan.fakes import FakeChannel, FakeDialer


async def run(text: str, exten: str = "s", context: str = "c", *, channel: FakeChannel | None = None,
              options: EngineOptions | None = None, dialer: FakeDialer | None = None) -> tuple[CallOutcome, FakeChannel]:
    plan = parse_dialplan_text(text)
    assert [str(d) for d in plan.diagnostics] == []
    channel = channel or FakeChannel()
    engine = Engine(plan, options=options, dialer=dialer)
    outcome = await engine.start(channel, context, exten)
    return outcome, channel


def apps(outcome: CallOutcome) -> list[str]:
    return [f"{step.app}({step.data})" for step in outcome.trace]


async def test_gosub_passes_arguments_and_restores_them(autojump_clock: object) -> None:
    outcome, _channel = await run("""
[c]
exten => s,1,Set(ARG1=outer)
 same => n,Gosub(sub,s,1(one,two))
 same => n,NoOp(${GOSUB_RETVAL} ${ARG1} ${ARGC})
[sub]
exten => s,1,NoOp(${ARG1} ${ARG2} ${ARGC})
 same => n,Gosub(inner,s,1(x))
 same => n,Return(done-${ARG2})
[inner]
exten => s,1,NoOp(${ARG1}-${ARG2}-${ARGC})
 same => n,Return()
""")
    assert apps(outcome) == [
        "Set(ARG1=outer)", "Gosub(sub,s,1(one,two))", "NoOp(one two 2)", "Gosub(inner,s,1(x))",
        "NoOp(x--1)", "Return()", "Return(done-two)", "NoOp(done-two outer )",
    ]
    assert outcome.reason == "fallthrough"


async def test_return_without_gosub_ends_the_call(autojump_clock: object) -> None:
    outcome, _ = await run("[c]\nexten => s,1,Return()\n same => n,NoOp(never)\n")
    assert apps(outcome) == ["Return()"]
    assert outcome.reason == "hangup"


async def test_gosub_to_nowhere_ends_the_call(autojump_clock: object) -> None:
    outcome, _ = await run("[c]\nexten => s,1,Gosub(nowhere,s,1)\n same => n,NoOp(never)\n")
    assert outcome.reason == "hangup"


async def test_goto_forms(autojump_clock: object) -> None:
    outcome, _ = await run("""
[c]
exten => s,1,Goto(target)
 same => n,NoOp(skipped)
 same => n(target),Goto(+2)
 same => n,NoOp(skipped)
 same => n,Goto(2,1)
exten => 2,1,Goto(other,3,first)
[other]
exten => 3,1,NoOp(no)
 same => n(first),NoOp(yes)
""")
    assert [s.app + ":" + s.exten for s in outcome.trace] == [
        "Goto:s", "Goto:s", "Goto:s", "Goto:2", "NoOp:3"]
    assert outcome.trace[-1].data == "yes"


async def test_goto_to_unknown_label_hangs_up(autojump_clock: object) -> None:
    outcome, _ = await run("[c]\nexten => s,1,Goto(nolabel)\n same => n,NoOp()\n")
    assert outcome.reason == "hangup"


async def test_gotoif_branches(autojump_clock: object) -> None:
    outcome, _ = await run("""
[c]
exten => s,1,GotoIf($[1 = 2]?no:yes)
 same => n(no),NoOp(no)
 same => n(yes),GotoIf(0?no)
 same => n,GotoIf(1?:no)
 same => n,NoOp(end)
""")
    assert [s.data for s in outcome.trace][-1] == "end"
    assert "no" not in [s.data for s in outcome.trace]


async def test_gotoiftime(autojump_clock: object) -> None:
    text = "[c]\nexten => s,1,GotoIfTime(9:00-17:00,mon-fri,*,*?open:closed)\n same => n(open),Hangup(16)\n same => n(closed),Hangup(17)\n"
    plan = parse_dialplan_text(text)
    engine = Engine(plan)
    plan.clock = lambda: dt.datetime(2026, 11, 25, 12, 0)
    assert (await engine.start(FakeChannel(), "c", "s")).hangup_cause == 16
    plan.clock = lambda: dt.datetime(2026, 11, 29, 12, 0)
    assert (await engine.start(FakeChannel(), "c", "s")).hangup_cause == 17


async def test_gosubif_and_execif(autojump_clock: object) -> None:
    _outcome, channel = await run("""
[c]
exten => s,1,GosubIf($[1 = 1]?sub,s,1(a):sub,s,1(b))
 same => n,ExecIf(1?Set(X=yes):Set(X=no))
 same => n,ExecIf(0?Set(Y=yes):Set(Y=no))
 same => n,ExecIf(0?Set(Z=yes))
 same => n,GosubIf(0?sub,s,1(c))
[sub]
exten => s,1,Set(GOT=${ARG1})
 same => n,Return()
""")
    assert channel.variables["GOT"] == "a"
    assert (channel.variables["X"], channel.variables["Y"]) == ("yes", "no")
    assert "Z" not in channel.variables


async def test_invalid_extension_goes_to_i(autojump_clock: object) -> None:
    outcome, _channel = await run("[c]\nexten => i,1,NoOp(${INVALID_EXTEN})\n same => n,Hangup(1)\n", "555")
    assert apps(outcome) == ["NoOp(555)", "Hangup(1)"]
    assert outcome.hangup_cause == 1


async def test_invalid_without_i_ends(autojump_clock: object) -> None:
    outcome, channel = await run("[c]\nexten => 1,1,NoOp()\n", "555")
    assert outcome.reason == "invalid"
    assert channel.is_hungup


async def test_h_runs_after_hangup_and_sees_the_cause(autojump_clock: object) -> None:
    outcome, _ = await run("[c]\nexten => s,1,Hangup(17)\nexten => h,1,NoOp(${HANGUPCAUSE} ${EXTEN})\n")
    assert apps(outcome) == ["Hangup(17)", "NoOp(17 h)"]


async def test_caller_hanging_up_during_wait_runs_h(autojump_clock: object) -> None:
    channel = FakeChannel()

    async def hang_up_later() -> None:
        await trio.sleep(5)
        channel.caller_hangs_up()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hang_up_later)
        outcome, _ = await run("[c]\nexten => s,1,Wait(60)\n same => n,NoOp(never)\nexten => h,1,NoOp(bye)\n",
                               channel=channel)
    assert apps(outcome) == ["Wait(60)", "NoOp(bye)"]


async def test_wait_is_instant_with_the_autojump_clock(autojump_clock: object) -> None:
    start = trio.current_time()
    outcome, _ = await run("[c]\nexten => s,1,Wait(60)\n same => n,Wait(1.5)\n")
    assert trio.current_time() - start == pytest.approx(61.5)
    assert outcome.reason == "fallthrough"


async def test_runaway_loop_is_stopped(autojump_clock: object, caplog: pytest.LogCaptureFixture) -> None:
    outcome, channel = await run("[c]\nexten => s,1,NoOp()\n same => n,Goto(1)\n",
                                 options=EngineOptions(max_steps_without_wait=100))
    assert outcome.reason == "loop"
    assert channel.is_hungup
    assert "the dialplan loops" in caplog.text


async def test_fallthrough_after_busy_dial_indicates_busy(autojump_clock: object) -> None:
    outcome, channel = await run("[c]\nexten => s,1,Dial(IAX2/x)\n",
                                 dialer=FakeDialer(results={"IAX2/x": DialStatus.BUSY}))
    assert outcome.reason == "fallthrough"
    assert ("indicate", "busy") in channel.events
    assert outcome.hangup_cause == 17


H_SHOWS_CAUSE = "exten => h,1,NoOp(${HANGUPCAUSE})\n"
NO_FALLTHROUGH = "[general]\nautofallthrough=no\n"


@pytest.mark.parametrize(
    ("text", "exten", "digits", "reason"),
    [
        ("[c]\nexten => s,1,Answer()\n same => n,NoOp()\n", "s", "", "fallthrough"),
        ("[c]\nexten => s,1,Answer()\n same => n,Goto(nowhere,1)\n", "s", "", "invalid"),
        ("[c]\nexten => s,1,Goto(other,nowhere,1)\n[other]\nexten => 1,1,NoOp()\n", "s", "", "invalid"),
        ("[c]\nexten => 1,1,NoOp()\n", "555", "", "invalid"),
        (NO_FALLTHROUGH + "[c]\nexten => s,1,Answer()\n", "s", "", "timeout"),
        (NO_FALLTHROUGH + "[c]\nexten => s,1,Answer()\n", "s", "9", "invalid"),
    ],
    ids=["fallthrough", "goto-missing", "goto-other-context", "unknown-entry", "no-digits",
         "unknown-digits"],
)
async def test_a_plan_that_runs_out_hangs_up_with_no_cause(
    text: str, exten: str, digits: str, reason: str, autojump_clock: object,
) -> None:
    """Nothing set a cause, so the HANGUP carries 0 (Asterisk's CAUSECODE 0), and h sees 0."""
    outcome, channel = await run(text + H_SHOWS_CAUSE, exten, channel=FakeChannel(digits=digits))
    assert (outcome.reason, outcome.hangup_cause) == (reason, 0)
    assert apps(outcome)[-1] == "NoOp(0)"
    assert channel.events[-1] == ("hangup", "0")


async def test_a_plan_that_runs_out_keeps_a_cause_set_earlier(autojump_clock: object) -> None:
    channel = FakeChannel()
    channel.hangup_cause = 31
    outcome, _ = await run("[c]\nexten => s,1,NoOp()\n", channel=channel)
    assert (outcome.reason, outcome.hangup_cause) == ("fallthrough", 31)


async def test_fallthrough_after_busy_dial_on_an_answered_call_sets_no_cause(
    autojump_clock: object,
) -> None:
    outcome, channel = await run("[c]\nexten => s,1,Answer()\n same => n,Dial(IAX2/x)\n",
                                 dialer=FakeDialer(results={"IAX2/x": DialStatus.BUSY}))
    assert ("indicate", "busy") in channel.events
    assert (outcome.reason, outcome.hangup_cause) == ("fallthrough", 0)


async def test_autofallthrough_no_waits_for_digits(autojump_clock: object) -> None:
    text = """
[general]
autofallthrough = no
[c]
exten => s,1,Answer()
exten => 12,1,Hangup(21)
exten => t,1,Hangup(19)
"""
    outcome, _ = await run(text, channel=FakeChannel(digits="12"))
    assert apps(outcome)[-1] == "Hangup(21)"
    outcome, _ = await run(text, channel=FakeChannel())
    assert apps(outcome)[-1] == "Hangup(19)"


async def test_autofallthrough_no_without_t_times_out(autojump_clock: object) -> None:
    outcome, _ = await run("[general]\nautofallthrough=no\n[c]\nexten => s,1,Answer()\n")
    assert outcome.reason == "timeout"


async def test_wait_exten_collects_an_extension(autojump_clock: object) -> None:
    text = "[c]\nexten => s,1,WaitExten(5)\nexten => 123,1,Hangup(21)\nexten => i,1,Hangup(1)\nexten => t,1,Hangup(19)\n"
    dtmf = {Feature.DTMF_IN}
    assert (await run(text, channel=FakeChannel(digits="123", features=dtmf)))[0].hangup_cause == 21
    assert (await run(text, channel=FakeChannel(digits="9", features=dtmf)))[0].hangup_cause == 1
    assert (await run(text, channel=FakeChannel(features=dtmf)))[0].hangup_cause == 19


async def test_background_jumps_on_a_digit(autojump_clock: object) -> None:
    text = "[c]\nexten => s,1,Background(menu)\n same => n,Hangup(16)\nexten => 1,1,Hangup(21)\n"
    features = {Feature.PLAY, Feature.DTMF_IN}
    outcome, channel = await run(text, channel=FakeChannel(digits="1", features=features))
    assert outcome.hangup_cause == 21 and channel.played == ["menu"]
    outcome, _ = await run(text, channel=FakeChannel(features=features))
    assert outcome.hangup_cause == 16


async def test_read_sets_the_variable(autojump_clock: object) -> None:
    _outcome, channel = await run("[c]\nexten => s,1,Read(PIN,,4)\n same => n,Hangup()\n",
                                 channel=FakeChannel(digits="12345", features={Feature.DTMF_IN}))
    assert (channel.variables["PIN"], channel.variables["READSTATUS"]) == ("1234", "OK")


@pytest.mark.parametrize(
    ("line", "feature"),
    [
        ("Playback(hello)", Feature.PLAY),
        ("Echo()", Feature.ECHO),
        ("Milliwatt()", Feature.TONES),
        ("Record(x.wav,3,10)", Feature.RECORD),
        ("SendDTMF(123)", Feature.DTMF_OUT),
        ("MusicOnHold(default,5)", Feature.MOH),
        ("WaitExten(3)", Feature.DTMF_IN),
        ("Playtones(440/100)", Feature.TONES),
    ],
)
async def test_media_apps_fail_the_call_without_media(line: str, feature: Feature, autojump_clock: object,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    text = f"[c]\nexten => s,1,{line}\n same => n,NoOp(after)\n"
    outcome, _ = await run(text)
    app = line.split("(")[0]
    assert outcome.reason == "hangup"
    assert f"{app}: channel IAX2/test-1 cannot do {feature.value}" in caplog.text
    # With the capability, the application runs and the call goes on (or ends by hangup).
    caplog.clear()
    outcome, channel = await run(text, channel=FakeChannel(features={feature}, hangs_up_after=5))
    assert "cannot do" not in caplog.text
    assert channel.events or channel.played


async def test_dial_without_a_dialer_fails_clearly(autojump_clock: object, caplog: pytest.LogCaptureFixture) -> None:
    outcome, channel = await run("[c]\nexten => s,1,Dial(IAX2/x,20)\n same => n,NoOp(after)\n")
    assert outcome.reason == "hangup"
    assert channel.variables["DIALSTATUS"] == "CHANUNAVAIL"
    assert "Dial: no dialer is configured" in caplog.text


async def test_dial_sets_dialstatus_and_continues(autojump_clock: object) -> None:
    dialer = FakeDialer(results={"IAX2/b": DialStatus.BUSY})
    outcome, _channel = await run("[c]\nexten => s,1,Dial(IAX2/a&IAX2/b,20,tT)\n same => n,NoOp(${DIALSTATUS})\n",
                                 dialer=dialer)
    assert dialer.dialled == [(["IAX2/a", "IAX2/b"], 20.0, "tT")]
    assert apps(outcome)[-1] == "NoOp(BUSY)"


async def test_answered_dial_with_g_continues(autojump_clock: object) -> None:
    dialer = FakeDialer(default=DialStatus.ANSWER)
    outcome, _ = await run("[c]\nexten => s,1,Dial(IAX2/a,,g)\n same => n,NoOp(after)\n", dialer=dialer)
    assert apps(outcome)[-1] == "NoOp(after)"


async def test_basic_apps(autojump_clock: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dialplan")
    outcome, channel = await run("""
[c]
exten => s,1,Ringing()
 same => n,Progress()
 same => n,Answer()
 same => n,MSet(A=1,B=two words)
 same => n,Set(C=x=y)
 same => n,Verbose(2,hello, world)
 same => n,Log(WARNING,careful)
 same => n,SendText(hi)
 same => n,NoOp(${A}${B}${C})
 same => n,Congestion(1)
""", channel=FakeChannel(features={Feature.TEXT}))
    assert channel.events[:3] == [("indicate", "ringing"), ("indicate", "progress"), ("answer",)]
    assert channel.variables["C"] == "x=y"
    assert outcome.trace[-2].data == "1two wordsx=y"
    assert channel.texts == ["hi"] and channel.variables["SENDTEXTSTATUS"] == "SUCCESS"
    assert "hello, world" in caplog.text and "careful" in caplog.text
    # An answered channel keeps its cause: Congestion only indicates.
    assert ("indicate", "congestion") in channel.events and outcome.hangup_cause == 16


async def test_sendtext_reports_unsupported(autojump_clock: object) -> None:
    _, channel = await run("[c]\nexten => s,1,SendText(hi)\n")
    assert channel.variables["SENDTEXTSTATUS"] == "UNSUPPORTED"


async def test_unknown_application_ends_the_call(autojump_clock: object) -> None:
    outcome, _ = await run("[c]\nexten => s,1,NoSuchApp(x)\n same => n,NoOp()\n")
    assert outcome.reason == "hangup" and len(outcome.trace) == 1


async def test_system_is_off_by_default(autojump_clock: object, caplog: pytest.LogCaptureFixture) -> None:
    outcome, channel = await run("[c]\nexten => s,1,System(true)\n same => n,NoOp()\n")
    assert outcome.reason == "hangup"
    assert channel.variables["SYSTEMSTATUS"] == "FAILURE"
    assert "allow_system" in caplog.text


async def test_system_when_allowed() -> None:
    options = EngineOptions(allow_system=True)
    _, channel = await run("[c]\nexten => s,1,System(true)\n", options=options)
    assert channel.variables["SYSTEMSTATUS"] == "SUCCESS"
    _, channel = await run("[c]\nexten => s,1,System(exit 3)\n", options=options)
    assert channel.variables["SYSTEMSTATUS"] == "APPERROR"


async def test_running_calls_keep_their_plan_across_reload(autojump_clock: object) -> None:
    old = parse_dialplan_text("[c]\nexten => s,1,Wait(10)\n same => n,Hangup(16)\n")
    engine = Engine(old)
    results: dict[str, CallOutcome] = {}

    async def call(name: str) -> None:
        results[name] = await engine.start(FakeChannel(), "c", "s")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call, "before")
        await trio.sleep(1)
        engine.reload(parse_dialplan_text("[c]\nexten => s,1,Wait(10)\n same => n,Hangup(17)\n",
                                          runtime=old.runtime))
        nursery.start_soon(call, "after")
    assert results["before"].hangup_cause == 16
    assert results["after"].hangup_cause == 17


def test_reload_keeps_globals_unless_cleared() -> None:
    old = parse_dialplan_text("[globals]\nA=1\n")
    engine = Engine(old)
    old.globals["RUNTIME"] = "x"
    engine.reload(parse_dialplan_text("[globals]\nA=2\n", runtime=old.runtime))
    assert engine.plan.globals == {"A": "2", "RUNTIME": "x"}
    engine.reload(parse_dialplan_text("[general]\nclearglobalvars=yes\n[globals]\nB=3\n", runtime=old.runtime))
    assert engine.plan.globals == {"B": "3"}


@pytest.mark.parametrize(
    ("called", "immediate", "entry"),
    [
        (None, False, "s"),
        ("", False, "s"),
        (None, True, "s"),
        ("TBD", True, "s"),
        ("TBD", False, None),
        ("100", False, "100"),
        ("100", True, "100"),
    ],
)
def test_entry_extension(called: str | None, immediate: bool, entry: str | None) -> None:
    assert entry_extension(called, immediate) == entry


async def test_a_failing_python_application_only_ends_its_call(autojump_clock: object,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    from dialplan.builtins import default_registry
    from dialplan.registry import Application

    async def explode(call: object, data: str) -> None:
        raise ValueError("bug in an admin's hook")

    registry = default_registry()
    registry.add_app(Application("Explode", explode))
    plan = parse_dialplan_text("[c]\nexten => s,1,Explode()\n same => n,NoOp()\nexten => h,1,NoOp(cleanup)\n")
    outcome = await Engine(plan, registry=registry).start(FakeChannel(), "c", "s")
    assert apps(outcome) == ["Explode()", "NoOp(cleanup)"]
    assert "Application Explode failed" in caplog.text


async def test_loop_without_time_passing_is_stopped(autojump_clock: object) -> None:
    # Wait(0) "waits" without time passing: still a runaway loop.
    outcome, _ = await run("[c]\nexten => s,1,Wait(0)\n same => n,Goto(1)\n",
                           options=EngineOptions(max_steps_without_wait=50))
    assert outcome.reason == "loop"


async def test_a_waiting_loop_is_not_a_runaway(autojump_clock: object) -> None:
    channel = FakeChannel(hangs_up_after=None)
    outcome, _ = await run("[c]\nexten => s,1,Set(N=$[${N} + 1])\n same => n,GotoIf($[${N} > 200]?done)\n"
                           " same => n,Wait(1)\n same => n,Goto(1)\n same => n(done),Hangup(16)\n",
                           channel=channel, options=EngineOptions(max_steps_without_wait=10))
    assert outcome.reason == "hangup"


@pytest.mark.parametrize(("line", "cause"), [("Hangup()", 16), ("Hangup(21)", 21), ("Hangup(USER_BUSY)", 17),
                                             ("Hangup(AST_CAUSE_NO_ANSWER)", 19), ("Hangup(bogus)", 16)])
async def test_hangup_causes(line: str, cause: int, autojump_clock: object) -> None:
    outcome, _ = await run(f"[c]\nexten => s,1,{line}\n")
    assert outcome.hangup_cause == cause


async def test_hangup_keeps_an_earlier_cause(autojump_clock: object) -> None:
    dialer = FakeDialer(default=DialStatus.ANSWER)
    outcome, _ = await run("[c]\nexten => s,1,Dial(IAX2/a,,g)\n same => n,Hangup()\n", dialer=dialer)
    assert outcome.hangup_cause == 16
    channel = FakeChannel()
    channel.hangup_cause = 31
    outcome, _ = await run("[c]\nexten => s,1,Hangup()\n", channel=channel)
    assert outcome.hangup_cause == 31


async def test_location_of_a_running_call(autojump_clock: object) -> None:
    from dialplan.builtins import default_registry
    from dialplan.registry import Application

    seen: list[tuple[str, str] | None] = []

    async def peek(call: Call, data: str) -> None:
        where = engine.location(call.channel.name)
        seen.append((where.location, where.application) if where is not None else None)

    registry = default_registry()
    registry.add_app(Application("Peek", peek))
    plan = parse_dialplan_text("[c]\nexten => s,1,Set(X=1)\n same => n,peek(at ${X})\n"
                               " same => n,Goto(d,7,1)\n[d]\nexten => 7,1,Peek()\n"
                               "exten => h,1,Peek(gone)\n")
    engine = Engine(plan, registry=registry)
    channel = FakeChannel(name="IAX2/peek-1")
    assert engine.location(channel.name) is None
    await engine.start(channel, "c", "s")
    # The registered spelling of the application, its substituted data, the running priority.
    assert seen == [("s@c:2", "Peek(at 1)"), ("7@d:1", "Peek()"), ("h@d:1", "Peek(gone)")]
    assert engine.location(channel.name) is None
    assert engine.locations() == {}


async def test_locations_while_calls_wait(autojump_clock: object) -> None:
    plan = parse_dialplan_text("[c]\nexten => s,1,Answer()\n same => n,Wait(30)\n"
                               "exten => 5,1,Wait(${EXTEN})\n")
    engine = Engine(plan)
    first, second = FakeChannel(name="IAX2/a-1"), FakeChannel(name="IAX2/b-2")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(engine.start, first, "c", "s")
        nursery.start_soon(engine.start, second, "c", "5")
        await trio.testing.wait_all_tasks_blocked()
        where = engine.locations()
        assert sorted(where) == ["IAX2/a-1", "IAX2/b-2"]
        assert (where["IAX2/a-1"].location, where["IAX2/a-1"].application) == ("s@c:2", "Wait(30)")
        assert where["IAX2/b-2"] == CallLocation("c", "5", 1, "Wait", "5")
        first.caller_hangs_up()
        second.caller_hangs_up()
    assert engine.locations() == {}


def test_location_before_any_application() -> None:
    assert CallLocation("c", "s", 1, "", "").application == "(None)"
