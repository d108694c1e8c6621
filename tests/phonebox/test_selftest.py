"""The periodic self test: a tone from the loudspeaker must reach the microphone, and the
result reaches the receiver as DTMF and TEXT (a wired loop on trio's clock)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from pbxedge.phonebox.box import FIRST_TEST_DELAY
from pbxedge.phonebox.selftest import run_self_test
from pbxedge.store import Store
from tests.phonebox.rig import EPOCH, Desk, Desks, make_box, sound_loop


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "state.db")[0]


@pytest.mark.parametrize("closed", [True, False])
async def test_the_loop_decides_and_the_receiver_hears_the_verdict(
        tmp_path: Path, store: Store, closed: bool, autojump_clock: trio.abc.Clock) -> None:
    receiver = Desk("silent", talk=30)
    desks = Desks({"IAX2/rx/200": receiver})
    async with trio.open_nursery() as nursery:
        box, _ = make_box(tmp_path, nursery, desks, store, alarm_targets=(),
                          test_target="IAX2/rx/200")
        nursery.start_soon(sound_loop, box.parts.phone, lambda: closed)
        await trio.sleep(0.1)
        result = await run_self_test(box.parts)
        nursery.cancel_scope.cancel()
    assert result.passed is closed and result.loop_ok is closed and result.reported
    verdict = "1" if closed else "0"
    assert receiver.digits == f"*42#{verdict}#"
    assert receiver.texts == [f"TEST 42 {'PASS' if closed else 'FAIL'}: {result.detail}"]
    if closed:
        assert result.detail.startswith("test tone heard on the microphone (1000 ms")
    else:
        assert result.detail == "test tone not heard on the microphone (0 ms of tone)"


async def test_a_box_without_its_device_fails_and_an_unanswered_report_fails(
        tmp_path: Path, store: Store, autojump_clock: trio.abc.Clock) -> None:
    desks = Desks({"IAX2/rx/200": Desk("noanswer")})
    async with trio.open_nursery() as nursery:
        box, _ = make_box(tmp_path, nursery, desks, store, alarm_targets=(),
                          test_target="IAX2/rx/200")
        result = await run_self_test(box.parts)
        nursery.cancel_scope.cancel()
    assert not result.passed and not result.reported
    assert result.detail == ("sound device not available (not opened yet); "
                             "report call to IAX2/rx/200: NOANSWER")


async def test_tests_are_scheduled_from_the_last_one_and_failures_retried(
        tmp_path: Path, store: Store, autojump_clock: trio.abc.Clock) -> None:
    receiver = Desk("silent", talk=30)
    desks = Desks({"IAX2/rx/200": receiver})
    heard = [False]
    async with trio.open_nursery() as nursery:
        box, events = make_box(tmp_path, nursery, desks, store, alarm_targets=(),
                               test_target="IAX2/rx/200", test_interval=3600.0,
                               test_retry=600.0)
        nursery.start_soon(sound_loop, box.parts.phone, lambda: heard[0])
        await nursery.start(box.run)
        # Never tested: the first test comes five minutes after the start; it fails.
        await trio.sleep(FIRST_TEST_DELAY + 30)
        assert [dict(e.fields())["Result"] for e in events] == ["Fail"]
        assert box.next_test_at == pytest.approx(EPOCH + FIRST_TEST_DELAY + 600, abs=30)
        heard[0] = True  # the loudspeaker is repaired; the retry passes
        await trio.sleep(600)
        assert [dict(e.fields())["Result"] for e in events] == ["Fail", "Pass"]
        last = store.last_box_test("lift")
        assert last is not None and last.passed
        assert box.next_test_at == pytest.approx(last.at + 3600)
        show = box.show()
        assert "Self test:  passed at" in show and "Next test:" in show
        nursery.cancel_scope.cancel()
    assert receiver.digits == "*42#0#*42#1#"
