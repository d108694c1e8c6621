"""A phone box: its button, its pending alarm, its test schedule, and what the console shows.

The box's task resumes an alarm the store still holds (the node was restarted or lost
power in the middle of one), then runs the self tests: the next one is due
``test_interval`` after the last recorded one (so restarts never postpone it), a failed one
is tried again after ``test_retry``, and a box that never tested does so five minutes after
start. A test due while the box is busy with an alarm or a call waits for ``test_retry``.
"""

from __future__ import annotations

import logging
import time

import trio

from pbxedge.iax2.enums import Cause
from pbxedge.phonebox.alarm import Alarm
from pbxedge.phonebox.events import AlarmStatus
from pbxedge.phonebox.parts import BoxParts
from pbxedge.phonebox.selftest import SelfTestResult, run_self_test
from pbxedge.store import StoredAlarm, StoreError

__all__ = ["FIRST_TEST_DELAY", "PhoneBox"]

logger = logging.getLogger("pbxedge.phonebox")

FIRST_TEST_DELAY = 300.0


def _when(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix))


class PhoneBox:
    def __init__(self, parts: BoxParts) -> None:
        self.parts = parts
        self.name = parts.name
        self.alarm: Alarm | None = None
        self.last_test: SelfTestResult | None = None
        self.testing = False
        self.next_test_at: float | None = None
        self._test_now = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._started = self.parts.clock()

    # -- the button -----------------------------------------------------------------------

    def press(self) -> str:
        """What one press does; returns a line for the console."""
        if not self.parts.config.alarm_targets:
            return "no alarm_targets"
        if self._nursery is None:
            return "not running"
        if self.alarm is not None and not self.alarm.done.is_set():
            logger.info("Alarm of '%s': button pressed again; the alarm is in progress",
                        self.name)
            return "alarm in progress"
        call = self.parts.phone.call
        if call is not None and not self.testing:
            logger.info("Alarm of '%s': button pressed during a call; no new alarm", self.name)
            return "in a call"
        if call is not None:
            call.end(Cause.NORMAL_CLEARING)  # the alarm does not wait for a test call
        try:
            stored = self.parts.store.open_alarm(self.name, self.parts.clock())
        except StoreError as exc:
            logger.error("Alarm of '%s' not saved (it goes on): %s", self.name, exc)
            stored = StoredAlarm(0, self.name, self.parts.clock(), "pending", 0, 0)
        logger.warning("Alarm of '%s' (%s): button pressed", self.name,
                       self.parts.config.location or "no location")
        self.parts.alarm_event(AlarmStatus.STARTED, started_at=stored.started_at, attempts=0)
        self._start(Alarm(self.parts, stored))
        return "alarm started"

    def _start(self, alarm: Alarm) -> None:
        assert self._nursery is not None
        self.alarm = alarm
        self._nursery.start_soon(alarm.run)

    # -- running --------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                nursery.start_soon(self.parts.location.prepare)
                self._resume()
                if self.parts.config.test_target:
                    nursery.start_soon(self._test_schedule)
                await trio.sleep_forever()  # the button may be pressed at any time
        finally:
            self._nursery = None

    def _resume(self) -> None:
        try:
            stored = self.parts.store.pending_alarm(self.name)
        except StoreError as exc:
            logger.error("phone box '%s': cannot read its pending alarm: %s", self.name, exc)
            return
        if stored is None:
            return
        logger.warning("Alarm of '%s' pressed at %s is not acknowledged yet: resuming it "
                       "(%d call%s so far)", self.name, _when(stored.started_at),
                       stored.attempts, "" if stored.attempts == 1 else "s")
        self.parts.alarm_event(AlarmStatus.RESUMED, started_at=stored.started_at,
                               attempts=stored.attempts)
        self._start(Alarm(self.parts, stored))

    def request_test(self) -> None:
        self._test_now.set()

    def _due(self) -> float:
        config = self.parts.config
        try:
            last = self.parts.store.last_box_test(self.name)
        except StoreError:
            last = None
        if last is None:
            return self._started + min(FIRST_TEST_DELAY, config.test_interval)
        return last.at + (config.test_interval if last.passed
                          else min(config.test_retry, config.test_interval))

    async def _test_schedule(self) -> None:
        config = self.parts.config
        due = self._due()
        while True:
            self.next_test_at = due
            with trio.move_on_after(max(0.0, due - self.parts.clock())):
                await self._test_now.wait()
            self._test_now = trio.Event()
            busy = self.parts.phone.call is not None or (
                self.alarm is not None and not self.alarm.done.is_set())
            if busy:
                logger.info("phone box '%s': self test postponed (busy)", self.name)
                due = self.parts.clock() + config.test_retry
                continue
            await self._self_test()
            due = self._due()

    async def _self_test(self) -> None:
        self.testing = True
        try:
            result = await run_self_test(self.parts)
        finally:
            self.testing = False
        self.last_test = result
        try:
            self.parts.store.save_box_test(self.name, result.at, result.passed, result.detail)
        except StoreError as exc:
            logger.error("phone box '%s': test result not saved: %s", self.name, exc)
        if result.passed:
            logger.info("phone box '%s': self test passed: %s", self.name, result.detail)
        else:
            logger.warning("phone box '%s': self test FAILED: %s; trying again in %.0f min",
                           self.name, result.detail, self.parts.config.test_retry / 60)
        self.parts.test_event(result.passed, result.detail)

    # -- the console ----------------------------------------------------------------------

    def show(self) -> str:
        parts, config = self.parts, self.parts.config
        lines = [f"Phone box '{self.name}': box {config.box_id or '-'}, "
                 f"location '{config.location or '-'}'"]
        if config.alarm_targets:
            lines.append(f"  Targets:    {', '.join(config.alarm_targets)} "
                         f"({config.alarm_ring_timeout:.0f} s each, acknowledge with "
                         f"{config.ack_digit} within {config.ack_timeout:.0f} s, give up "
                         f"after {config.alarm_give_up / 60:.0f} min)")
        alarm = self.alarm
        if alarm is None or alarm.done.is_set():
            lines.append("  Alarm:      none")
        elif alarm.state == "acknowledged":
            lines.append(f"  Alarm:      acknowledged by {alarm.closed_by}, in call")
        else:
            calling = f", calling {alarm.calling}" if alarm.calling else ""
            lines.append(f"  Alarm:      pending since {_when(alarm.started_at)}, "
                         f"{alarm.attempts} call{'s' if alarm.attempts != 1 else ''}{calling}")
        try:
            last = parts.store.last_alarm(self.name)
            test = parts.store.last_box_test(self.name)
        except StoreError:
            last, test = None, None
        if last is not None and last.state != "pending" and last.closed_at is not None:
            by = f" by {last.closed_by}" if last.closed_by else ""
            lines.append(f"  Last alarm: {last.state} at {_when(last.closed_at)}{by} "
                         f"(pressed {_when(last.started_at)}, {last.attempts} "
                         f"call{'s' if last.attempts != 1 else ''})")
        if config.test_target:
            if self.testing:
                lines.append("  Self test:  running")
            elif test is None:
                lines.append("  Self test:  never run")
            else:
                verdict = "passed" if test.passed else "FAILED"
                lines.append(f"  Self test:  {verdict} at {_when(test.at)}: {test.detail}")
            if self.next_test_at is not None:
                lines.append(f"  Next test:  {_when(self.next_test_at)} "
                             f"(to {config.test_target})")
        device = "open" if parts.phone.failure is None else f"unavailable ({parts.phone.failure})"
        lines.append(f"  Device:     {device}")
        return "\n".join(lines) + "\n"
