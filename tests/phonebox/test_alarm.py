"""An alarm goes from target to target, round after round, until a person acknowledges it,
and survives a restart (scripted desks, trio's clock)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from pbxedge.phonebox.box import PhoneBox
from pbxedge.store import Store
from tests.phonebox.rig import EPOCH, Desk, Desks, make_box


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened, problems = Store.open(tmp_path / "state.db")
    assert problems == []
    return opened


async def _until_done(box: PhoneBox, nursery: trio.Nursery) -> None:
    while box.alarm is None:
        await trio.sleep(0.1)
    await box.alarm.done.wait()
    nursery.cancel_scope.cancel()


async def test_busy_then_unacknowledged_then_acknowledged(
        tmp_path: Path, store: Store, autojump_clock: trio.abc.Clock) -> None:
    desks = Desks({"IAX2/a/1": Desk("busy"), "IAX2/b/2": Desk("silent"),
                   "IAX2/c/3": Desk("ack", ack_after=1.5, talk=4)})
    async with trio.open_nursery() as nursery:
        box, events = make_box(tmp_path, nursery, desks, store)
        await nursery.start(box.run)
        assert box.press() == "alarm started"
        assert box.press() == "alarm in progress"
        await _until_done(box, nursery)
    assert desks.calls == ["IAX2/a/1", "IAX2/b/2", "IAX2/c/3"]
    assert set(desks.callerids) == {("Building A, lift 2", "42")}
    silent, acking = desks.desks["IAX2/b/2"], desks.desks["IAX2/c/3"]
    # Each desk is told in TEXT and hears the location spoken; the silent one is dropped.
    assert silent.texts == acking.texts == ["ALARM 42: Building A, lift 2"]
    assert silent.heard_frames > 250  # 5 s of prompts, then "not acknowledged"
    assert acking.frames_before_ack > 0  # the digit came while the prompts played
    alarm = store.last_alarm("lift")
    assert alarm is not None and alarm.state == "acknowledged"
    assert (alarm.closed_by, alarm.attempts, alarm.next_target) == ("IAX2/c/3", 3, 2)
    assert [dict(e.fields())["Status"] for e in events] == [
        "Started", "Calling", "Calling", "Answered", "NotAcknowledged", "Calling", "Answered",
        "Acknowledged"]
    assert {e.name for e in events} == {"PhoneBoxAlarm"}
    # What a manager client reads, in this order.
    assert events[-1].fields() == [
        ("Box", "lift"), ("BoxID", "42"), ("Location", "Building A, lift 2"),
        ("Status", "Acknowledged"), ("Target", "IAX2/c/3"), ("Attempts", "3"),
        ("Elapsed", dict(events[-1].fields())["Elapsed"])]
    assert 10 < int(dict(events[-1].fields())["Elapsed"]) < 30
    assert box.parts.phone.call is None


async def test_rounds_go_on_until_the_alarm_is_given_up(
        tmp_path: Path, store: Store, autojump_clock: trio.abc.Clock) -> None:
    desks = Desks({"IAX2/a/1": Desk("noanswer"), "IAX2/b/2": Desk("busy")})
    async with trio.open_nursery() as nursery:
        box, events = make_box(tmp_path, nursery, desks, store, alarm_give_up=120.0)
        await nursery.start(box.run)
        started = trio.current_time()
        box.press()
        await _until_done(box, nursery)
        took = trio.current_time() - started
    # A round: 10 s of ringing, 1 s pause, busy, 5 s pause: 7 rounds in 112 s, then the
    # first target rings only for the 8 s left.
    assert desks.calls[:4] == ["IAX2/a/1", "IAX2/b/2", "IAX2/a/1", "IAX2/b/2"]
    assert len(desks.calls) == 15 and 120 <= took <= 120.5
    alarm = store.last_alarm("lift")
    assert alarm is not None and alarm.state == "given-up" and alarm.attempts == 15
    assert dict(events[-1].fields())["Status"] == "GivenUp"


async def test_a_pending_alarm_is_resumed_with_its_deadline(
        tmp_path: Path, store: Store, autojump_clock: trio.abc.Clock) -> None:
    stored = store.open_alarm("lift", EPOCH - 30)  # pressed 30 s before the restart
    store.update_alarm(stored.id, 1, 1)  # the first desk was tried already
    desks = Desks({"IAX2/a/1": Desk("silent"), "IAX2/b/2": Desk("ack", talk=3)})
    async with trio.open_nursery() as nursery:
        box, events = make_box(tmp_path, nursery, desks, store)
        await nursery.start(box.run)
        await _until_done(box, nursery)
    assert desks.calls == ["IAX2/b/2"]
    assert [dict(e.fields())["Status"] for e in events][:2] == ["Resumed", "Calling"]
    assert dict(events[0].fields())["Elapsed"] == "30"  # pressed before the restart
    alarm = store.last_alarm("lift")
    assert alarm is not None and alarm.id == stored.id and alarm.state == "acknowledged"

    late = store.open_alarm("lift", EPOCH - 3600 - 1)  # pressed more than alarm_give_up ago
    async with trio.open_nursery() as nursery:
        box, events = make_box(tmp_path, nursery, desks, store)
        await nursery.start(box.run)
        await _until_done(box, nursery)
    assert desks.calls == ["IAX2/b/2"]  # no call: it was already too late
    closed = store.last_alarm("lift")
    assert closed is not None and closed.id == late.id and closed.state == "given-up"
