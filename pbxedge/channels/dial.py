"""``Dial()`` over every technology of a node: the race of the legs and the bridge.

A dial string is ``TECH/resource``; each technology (``IAX2``, ``Console``…) places legs
through its :class:`Technology`, and :class:`Dialer` runs them together, whatever their
kind: ``Dial(IAX2/desk/100&Console/lobby,20)`` rings both, the first to answer is bridged
to the caller and the others are hung up. When every leg fails, the status is Asterisk's
choice among them (BUSY, then CONGESTION, then CHANUNAVAIL, then NOANSWER). Each leg
placed is told on the event bus (``DialBegin``) and so is what became of it (``DialEnd``).

The bridge lasts until either side hangs up, which ends the other with its cause; a caller
that leaves the bridge otherwise (a Redirect cancels its Dial) ends the callee too. A leg's
technology may act on the bridge (:meth:`DialLeg.bridging`: IAX2 re-paths two of its own
legs), send the caller elsewhere (:attr:`DialLeg.redirect`, a blind transfer from the far
end) or keep the callee alive after the caller left (:meth:`DialLeg.release`).

:meth:`Dialer.originate` calls one target of any technology alone, for the manager's
Originate.

Options: ``r`` tells the caller it rings at once, ``m[(class)]`` plays music on hold to the
caller until the answer instead; ``t``/``T`` (transfer keys) are accepted and have no keys
to act on; ``g`` is the dialplan's (continue after the bridge).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import replace
from typing import Protocol, cast

import trio

from dialplan.channel import Channel, ChannelState, Indication
from dialplan.dialer import DialResult, DialStatus, Originated
from pbxedge.channels.bridge import bridge
from pbxedge.channels.iax import IaxChannel
from pbxedge.channels.media import MediaChannel
from pbxedge.events import DialBegin, DialEnd, EventBus
from pbxedge.iax2.enums import Cause

__all__ = ["CallerId", "DialLeg", "Dialer", "Technology", "combine_failures"]

logger = logging.getLogger("pbxedge.dial")

CallerId = tuple[str | None, str | None]  # (number, name)


class DialLeg(Protocol):
    """One called party while it rings: settled once it answers or fails."""

    @property
    def settled(self) -> trio.Event: ...

    @property
    def result(self) -> DialResult | None: ...

    @property
    def channel(self) -> MediaChannel | None:
        """The called channel, once there is one."""
        ...

    @property
    def redirect(self) -> tuple[str, str] | None:
        """Where the far end sent the caller (context, exten) by a blind transfer."""
        ...

    def hangup(self, cause: int) -> None:
        """Give up on the leg (another answered, the caller left, the time ran out)."""
        ...

    def bridging(self, caller: Channel) -> None:
        """The answered leg is about to be bridged to *caller*."""
        ...

    def release(self, cause: int) -> bool:
        """The caller left the bridge: end the leg with *cause*, unless it lives on without
        the caller (True: a transfer handed it to the dialplan)."""
        ...


class Technology(Protocol):
    async def place(self, caller: Channel | None, target: str,
                    callerid: CallerId) -> DialLeg | DialResult:
        """Start calling *target* (the whole ``TECH/resource`` text) for *caller* (None for
        a call placed from nowhere, the manager's Originate), showing *callerid*; a
        DialResult when it cannot be called at all."""
        ...


class Dialer:
    """The dialplan's :class:`~dialplan.dialer.Dialer`: legs of any technology, in parallel;
    the first to answer wins."""

    def __init__(self, events: EventBus | None = None) -> None:
        self._technologies: dict[str, Technology] = {}
        self._events = events or EventBus()

    def add_technology(self, name: str, technology: Technology) -> None:
        """Dial strings starting with ``name/`` (any case) go to *technology*."""
        self._technologies[name.lower()] = technology

    async def dial(self, channel: Channel, targets: list[str], timeout: float | None,
                   options: str) -> DialResult:
        started = trio.current_time()
        result = await self._dial(channel, targets, timeout, options)
        result = replace(result, dialed_seconds=trio.current_time() - started)
        if isinstance(channel, MediaChannel) and result.peer:
            channel.dial_peer = result.peer
        logger.info("Dial(%s) on '%s': DIALSTATUS %s (cause %d)", "&".join(targets),
                    channel.name, result.status.value, result.hangup_cause)
        return result

    async def originate(self, target: str, timeout: float | None, caller_num: str | None,
                        caller_name: str | None) -> Originated:
        """One leg, not bridged: the manager's Originate runs it once answered."""
        placed = await self._place(None, target, (caller_num, caller_name))
        if isinstance(placed, DialResult):
            return Originated(placed.status, None, placed.hangup_cause)
        try:
            with trio.move_on_after(_seconds(timeout)):
                await placed.settled.wait()
        except BaseException:
            placed.hangup(Cause.NORMAL_CLEARING)
            raise
        result = placed.result
        if result is None:
            placed.hangup(Cause.NO_ANSWER)
            return Originated(DialStatus.NOANSWER, _called(placed), Cause.NO_ANSWER)
        return Originated(result.status, _called(placed), result.hangup_cause)

    async def _place(self, caller: Channel | None, text: str,
                     callerid: CallerId) -> DialLeg | DialResult:
        tech, _, _ = text.partition("/")
        technology = self._technologies.get(tech.lower())
        if technology is None:
            logger.warning("Dial: technology of '%s' is not available on this node", text)
            return DialResult(DialStatus.CHANUNAVAIL, Cause.SUBSCRIBER_ABSENT)
        return await technology.place(caller, text, callerid)

    async def _dial(self, channel: Channel, targets: list[str], timeout: float | None,
                    options: str) -> DialResult:
        legs: list[DialLeg] = []
        failures: list[DialResult] = []
        try:
            for text in targets:
                placed = await self._place(channel, text,
                                           (channel.caller_num, channel.caller_name))
                if isinstance(placed, DialResult):
                    failures.append(placed)
                    continue
                legs.append(placed)
                self._publish_begin(channel, placed, text.partition("/")[2])
            if not legs:
                return combine_failures(failures)
            moh = re.search(r"m(?:\(([^)]*)\))?", options)
            if moh is not None:
                await channel.start_moh(moh.group(1) or "default")
            elif "r" in options and channel.state is not ChannelState.UP:
                await channel.indicate(Indication.RINGING)
            try:
                winner = await _race(channel, legs, timeout)
            finally:
                if moh is not None:
                    await channel.stop_moh()
        except BaseException:
            # Cancelled (a Redirect moved the caller, the node stops): nobody waits for
            # these legs any more.
            for leg in legs:
                leg.hangup(Cause.NORMAL_CLEARING)
            raise
        self._publish_end(channel, legs, winner)
        for leg in legs:
            if leg is not winner:
                leg.hangup(channel.hangup_cause if channel.is_hungup else Cause.NORMAL_CLEARING)
        if winner is not None:
            return await _bridge(channel, winner)
        last_channel = legs[-1].channel
        last = last_channel.name if last_channel is not None else ""
        if channel.is_hungup:
            return DialResult(DialStatus.CANCEL, channel.hangup_cause or Cause.NORMAL_CLEARING,
                              peer=last)
        results = [leg.result for leg in legs if leg.result is not None]
        if len(results) < len(legs):
            return DialResult(DialStatus.NOANSWER, Cause.NO_ANSWER, peer=last)
        return replace(combine_failures([*failures, *results]), peer=last)

    def _publish_begin(self, caller: Channel, leg: DialLeg, dialstring: str) -> None:
        called = _called(leg)
        if self._events.active and called is not None:
            self._events.publish(DialBegin(caller, called, dialstring))

    def _publish_end(self, caller: Channel, legs: list[DialLeg],
                     winner: DialLeg | None) -> None:
        if not self._events.active:
            return
        for leg in legs:
            called = _called(leg)
            if called is None:
                continue
            if leg is winner:
                status = DialStatus.ANSWER
            elif winner is not None or caller.is_hungup:
                status = DialStatus.CANCEL
            else:
                status = leg.result.status if leg.result is not None else DialStatus.NOANSWER
            self._events.publish(DialEnd(caller, called, status.value))


def _called(leg: DialLeg) -> Channel | None:
    """The leg's channel as the dialplan sees it: every technology's channel (IaxChannel,
    ConsoleChannel) is both a MediaChannel and a dialplan Channel, which a type cannot say."""
    return cast(Channel | None, leg.channel)


def _seconds(timeout: float | None) -> float:
    return math.inf if timeout is None else max(0.0, timeout)


async def _race(channel: Channel, legs: list[DialLeg], timeout: float | None) -> DialLeg | None:
    winner: DialLeg | None = None
    with trio.move_on_after(_seconds(timeout)):
        async with trio.open_nursery() as nursery:
            remaining = len(legs)

            async def watch(leg: DialLeg) -> None:
                nonlocal winner, remaining
                await leg.settled.wait()
                remaining -= 1
                if leg.result is not None and leg.result.status is DialStatus.ANSWER:
                    winner = leg
                    nursery.cancel_scope.cancel()
                elif remaining == 0:
                    nursery.cancel_scope.cancel()

            async def caller_gone() -> None:
                await channel.wait(None)
                nursery.cancel_scope.cancel()

            for leg in legs:
                nursery.start_soon(watch, leg)
            nursery.start_soon(caller_gone)
    return winner


async def _bridge(channel: Channel, leg: DialLeg) -> DialResult:
    """Whichever side hangs up first ends the other with its cause; meanwhile voice,
    DTMF, TEXT, hold and hook flashes cross (:func:`pbxedge.channels.bridge.bridge`)."""
    callee = leg.channel
    assert callee is not None
    if channel.state is not ChannelState.UP and not channel.is_hungup:
        if isinstance(channel, IaxChannel):
            channel.answer_now()  # the callee is there already: no wait for the caller's audio
        else:
            await channel.answer()
    answered = trio.current_time()
    leg.bridging(channel)
    handed_over = False
    try:
        if isinstance(channel, MediaChannel):
            await bridge(channel, callee)
        else:
            await _signalling_bridge(channel, callee)
    finally:
        # The caller hung up, or left the bridge (a Redirect): the callee ends too, unless
        # a transfer gave it a life of its own.
        if not callee.is_hungup:
            handed_over = leg.release(channel.hangup_cause or Cause.NORMAL_CLEARING)
    if handed_over:
        cause = channel.hangup_cause or Cause.NORMAL_CLEARING
    else:
        cause = callee.hangup_cause or Cause.NORMAL_CLEARING
    return DialResult(DialStatus.ANSWER, cause,
                      answered_seconds=trio.current_time() - answered, peer=callee.name,
                      redirect=leg.redirect)


async def _signalling_bridge(caller: Channel, callee: MediaChannel) -> None:
    """A caller that carries no media (a plan-only channel, a test double) hears the
    callee's digits and text, and either hangup ends the call."""
    async with trio.open_nursery() as nursery:
        def digit(value: str, begin: bool) -> None:
            if not begin:
                nursery.start_soon(caller.send_dtmf, value)

        def text(value: str) -> None:
            nursery.start_soon(caller.send_text, value)

        async def ends(side: Channel | MediaChannel) -> None:
            await side.wait(None)
            nursery.cancel_scope.cancel()

        callee.take_audio(None, digit, text)
        try:
            nursery.start_soon(ends, caller)
            nursery.start_soon(ends, callee)
        except BaseException:
            callee.take_audio(None)
            raise
    callee.take_audio(None)


def combine_failures(results: list[DialResult]) -> DialResult:
    """Asterisk's priority when every leg failed: BUSY, CONGESTION, CHANUNAVAIL, NOANSWER."""
    for status in (DialStatus.BUSY, DialStatus.CONGESTION, DialStatus.CHANUNAVAIL):
        for result in results:
            if result.status is status:
                return result
    return results[0] if results else DialResult(DialStatus.CHANUNAVAIL,
                                                 Cause.SUBSCRIBER_ABSENT)
