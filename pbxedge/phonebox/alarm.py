"""One alarm, from the press to a person's acknowledgement (or to giving up).

The box dials ``alarm_targets`` in order, each for ``alarm_ring_timeout``, round after round,
through the node's dialer (any dial string: IAX2 peers, trunks, another node). While it
dials, the passenger hears ``connecting_prompt``. A desk that answers is joined to the
box's microphone and loudspeaker, gets the location as TEXT and hears it spoken in a loop
(``alarm-intro``, ``alarm-location-is``, the location, ``alarm-press-to-ack`` and the digit)
until someone presses ``ack_digit``, accepted from the moment the desk answers. An answer
without acknowledgement within ``ack_timeout`` is not a delivered alarm: the box tells the
desk (``alarm-not-acked``), hangs up and calls the next target. Once acknowledged the alarm
is closed, the passenger hears ``helping_prompt`` and the call goes on until the desk hangs
up. After ``alarm_give_up`` from the press the box stops and raises a warning.

Every step is written to the store first, so a node restarted in the middle resumes the
same alarm with the target after the last one tried, and never extends ``alarm_give_up``.
"""

from __future__ import annotations

import logging

import trio

from dialplan.dialer import DialStatus
from pbxedge.channels.console import ConsoleChannel
from pbxedge.iax2.enums import Cause
from pbxedge.phonebox.events import AlarmStatus
from pbxedge.phonebox.parts import BoxParts
from pbxedge.store import StoredAlarm, StoreError

__all__ = ["Alarm"]

logger = logging.getLogger("pbxedge.phonebox")

ATTEMPT_PAUSE = 1.0  # between two targets
ROUND_PAUSE = 5.0  # after the last target, before the first one again
PROMPT_PAUSE = 1.0  # between two readings of the location to the desk
_DIGIT_PROMPTS = {**{d: f"digits/{d}" for d in "0123456789"}, "*": "digits/star",
                  "#": "digits/pound"}


class Alarm:
    def __init__(self, parts: BoxParts, stored: StoredAlarm) -> None:
        self.parts = parts
        self.id = stored.id
        self.started_at = stored.started_at
        self.attempts = stored.attempts
        self.next_target = stored.next_target
        self.calling = ""  # the target being called now
        self.state = "pending"
        self.closed_by: str | None = None
        self.done = trio.Event()

    @property
    def give_up_at(self) -> float:
        return self.started_at + self.parts.config.alarm_give_up

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            self.calling = ""
            self.done.set()

    async def _run(self) -> None:
        targets = self.parts.config.alarm_targets
        while True:
            remaining = self.give_up_at - self.parts.clock()
            if remaining <= 0:
                self._give_up()
                return
            target = targets[self.next_target % len(targets)]
            self.attempts += 1
            self.calling = target
            self._save()
            logger.info("Alarm of '%s': calling %s (call %d, round %d)", self.parts.name,
                        target, self.attempts, self.next_target // len(targets) + 1)
            self._event(AlarmStatus.CALLING, target)
            if await self._attempt(target, min(self.parts.config.alarm_ring_timeout,
                                               remaining)):
                return
            self.next_target += 1
            self.calling = ""
            self._save()
            pause = ROUND_PAUSE if self.next_target % len(targets) == 0 else ATTEMPT_PAUSE
            await trio.sleep(max(0.0, min(pause, self.give_up_at - self.parts.clock())))

    # -- one call -------------------------------------------------------------------------

    async def _attempt(self, target: str, ring_seconds: float) -> bool:
        """Call *target*; True once a person there acknowledged the alarm."""
        parts = self.parts
        phone = parts.phone
        if phone.call is not None:
            phone.call.end(Cause.NORMAL_CLEARING)  # the alarm takes the phone from a test
        channel = phone.outgoing_channel(parts.caller_name, parts.caller_num)
        acknowledged = trio.Event()
        ack_digit = parts.config.ack_digit

        def digit(call: ConsoleChannel, value: str, begin: bool) -> None:
            if call is channel and value == ack_digit and not begin:
                acknowledged.set()

        forget_digits = phone.on_digit(digit)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._reassure, channel)
                nursery.start_soon(self._at_the_desk, channel, target, acknowledged)
                result = await parts.dialer.dial(channel, [target], ring_seconds, "")
                nursery.cancel_scope.cancel()
        finally:
            forget_digits()
            channel.end(Cause.NORMAL_CLEARING)
        if not acknowledged.is_set() and result.status is not DialStatus.ANSWER:
            logger.warning("Alarm of '%s': %s did not answer (%s)", parts.name, target,
                           result.status.value)
        return acknowledged.is_set()

    async def _reassure(self, channel: ConsoleChannel) -> None:
        """While the box dials, the passenger hears that help is being called."""
        if not channel.answered.is_set():
            await self.parts.phone.play_to_speaker(self.parts.config.connecting_prompt)

    async def _at_the_desk(self, channel: ConsoleChannel, target: str,
                           acknowledged: trio.Event) -> None:
        parts = self.parts
        await channel.joined.wait()
        logger.info("Alarm of '%s': %s answered; waiting for '%s'", parts.name, target,
                    parts.config.ack_digit)
        self._event(AlarmStatus.ANSWERED, target)
        channel.receive_text(f"ALARM {parts.config.box_id or parts.name}: "
                             f"{parts.config.location or parts.name}")
        with trio.move_on_after(parts.config.ack_timeout):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._identify, channel, acknowledged)
                await acknowledged.wait()
                nursery.cancel_scope.cancel()
        if acknowledged.is_set():
            self._acknowledged(target)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(parts.phone.play_to_far_end, channel, "alarm-acknowledged")
                nursery.start_soon(parts.phone.play_to_speaker, parts.config.helping_prompt)
            return
        if channel.is_hungup:
            return
        logger.warning("Alarm of '%s': %s answered but did not acknowledge within %.0f s; "
                       "calling the next number", parts.name, target, parts.config.ack_timeout)
        self._event(AlarmStatus.NOT_ACKNOWLEDGED, target)
        await parts.phone.play_to_far_end(channel, "alarm-not-acked")
        channel.end(Cause.NORMAL_CLEARING)

    async def _identify(self, channel: ConsoleChannel, acknowledged: trio.Event) -> None:
        """The location, spoken to the desk again and again until acknowledged."""
        parts = self.parts
        prompts = ["alarm-intro"]
        if parts.location.sound is not None:
            prompts += ["alarm-location-is", parts.location.sound]
        prompts.append("alarm-press-to-ack")
        if parts.config.ack_digit in _DIGIT_PROMPTS:
            prompts.append(_DIGIT_PROMPTS[parts.config.ack_digit])
        while not channel.is_hungup:
            for prompt in prompts:
                await parts.phone.play_to_far_end(channel, prompt, acknowledged.is_set)
                if acknowledged.is_set():
                    return
            await trio.sleep(PROMPT_PAUSE)

    # -- the record -----------------------------------------------------------------------

    def _acknowledged(self, target: str) -> None:
        self.state = "acknowledged"
        self.closed_by = target
        seconds = self.parts.clock() - self.started_at
        self._close("acknowledged", target)
        logger.info("Alarm of '%s' acknowledged by %s after %.0f s and %d call%s: closed",
                    self.parts.name, target, seconds, self.attempts,
                    "" if self.attempts == 1 else "s")
        self._event(AlarmStatus.ACKNOWLEDGED, target)

    def _give_up(self) -> None:
        self.state = "given-up"
        self._close("given-up", None)
        logger.warning("Alarm of '%s' given up after %.0f min and %d calls: nobody "
                       "acknowledged it", self.parts.name, self.parts.config.alarm_give_up / 60,
                       self.attempts)
        self._event(AlarmStatus.GIVEN_UP)

    def _event(self, status: AlarmStatus, target: str = "") -> None:
        self.parts.alarm_event(status, started_at=self.started_at, attempts=self.attempts,
                               target=target)

    def _save(self) -> None:
        try:
            self.parts.store.update_alarm(self.id, self.attempts, self.next_target)
        except StoreError as exc:
            logger.error("Alarm of '%s' not saved (it goes on): %s", self.parts.name, exc)

    def _close(self, state: str, by: str | None) -> None:
        try:
            self.parts.store.close_alarm(self.id, state, self.parts.clock(), by)
        except StoreError as exc:
            logger.error("Alarm of '%s': closing not saved: %s", self.parts.name, exc)
