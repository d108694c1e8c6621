"""``Dial()`` over every technology of a node: the race of the legs and the bridge.

A dial string is ``TECH/resource``; each technology (``IAX2``, ``Console``…) places legs
through its :class:`Technology`, and :class:`Dialer` runs them together, whatever their
kind: ``Dial(IAX2/desk/100&Console/lobby,20)`` rings both, the first to answer is bridged
to the caller and the others are hung up. When every leg fails, the status is Asterisk's
choice among them (BUSY, then CONGESTION, then CHANUNAVAIL, then NOANSWER).

Options: ``r`` tells the caller it rings at once, ``m[(class)]`` plays music on hold to the
caller until the answer instead; ``t``/``T`` (transfer keys) are accepted and have no keys
to act on; ``g`` is the dialplan's (continue after the bridge).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import replace
from typing import Protocol

import trio

from dialplan.channel import Channel, ChannelState, Indication
from dialplan.dialer import DialResult, DialStatus
from pbxedge.channels.bridge import bridge
from pbxedge.channels.iax import IaxChannel
from pbxedge.channels.media import MediaChannel
from pbxedge.iax2.enums import Cause

__all__ = ["DialLeg", "Dialer", "Technology", "combine_failures"]

logger = logging.getLogger("pbxedge.dial")


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

    def hangup(self, cause: int) -> None:
        """Give up on the leg (another answered, the caller left, the time ran out)."""
        ...


class Technology(Protocol):
    async def place(self, caller: Channel, target: str) -> DialLeg | DialResult:
        """Start calling *target* (the whole ``TECH/resource`` text); a DialResult when
        it cannot be called at all."""
        ...


class Dialer:
    """The dialplan's :class:`~dialplan.dialer.Dialer`: legs of any technology, in parallel;
    the first to answer wins."""

    def __init__(self) -> None:
        self._technologies: dict[str, Technology] = {}

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

    async def _place(self, channel: Channel, text: str) -> DialLeg | DialResult:
        tech, _, _ = text.partition("/")
        technology = self._technologies.get(tech.lower())
        if technology is None:
            logger.warning("Dial: technology of '%s' is not available on this node", text)
            return DialResult(DialStatus.CHANUNAVAIL, Cause.SUBSCRIBER_ABSENT)
        return await technology.place(channel, text)

    async def _dial(self, channel: Channel, targets: list[str], timeout: float | None,
                    options: str) -> DialResult:
        legs: list[DialLeg] = []
        failures: list[DialResult] = []
        for text in targets:
            placed = await self._place(channel, text)
            if isinstance(placed, DialResult):
                failures.append(placed)
            else:
                legs.append(placed)
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


async def _race(channel: Channel, legs: list[DialLeg], timeout: float | None) -> DialLeg | None:
    winner: DialLeg | None = None
    with trio.move_on_after(math.inf if timeout is None else max(0.0, timeout)):
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
    DTMF, TEXT and hold cross (:func:`pbxedge.channels.bridge.bridge`)."""
    callee = leg.channel
    assert callee is not None
    if channel.state is not ChannelState.UP and not channel.is_hungup:
        if isinstance(channel, IaxChannel):
            channel.answer_now()  # the callee is there already: no wait for the caller's audio
        else:
            await channel.answer()
    answered = trio.current_time()
    if isinstance(channel, MediaChannel):
        await bridge(channel, callee)
    else:
        await _signalling_bridge(channel, callee)
    if callee.is_hungup:
        cause = callee.hangup_cause or Cause.NORMAL_CLEARING
    else:
        cause = channel.hangup_cause or Cause.NORMAL_CLEARING
        leg.hangup(cause)
    return DialResult(DialStatus.ANSWER, cause,
                      answered_seconds=trio.current_time() - answered, peer=callee.name)


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
