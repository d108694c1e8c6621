"""Collecting dialled digits into an extension (WaitExten, Background, autofallthrough=no)."""

from __future__ import annotations

import logging

from dialplan.call import Call
from dialplan.patterns import MatchMode

__all__ = ["collect_extension", "goto_collected"]

log = logging.getLogger("dialplan")


async def collect_extension(call: Call, first_timeout: float, digit_timeout: float,
                            initial: str = "") -> str:
    """Digits typed by the caller: stop when no longer extension can match, or on timeout."""
    digits = initial
    callerid = call.channel.caller_num
    if not digits:
        first = await call.channel.wait_for_digit(first_timeout)
        if first is None:
            await call.plan.prepare(call.context, "t")
            return ""
        digits = first
    while True:
        await call.plan.prepare(call.context, digits, MatchMode.MATCHMORE)
        if not call.plan.match_more(call.context, digits, callerid):
            break
        more = await call.channel.wait_for_digit(digit_timeout)
        if more is None:
            break
        digits += more
    # What goto_collected() will look for, for Realtime switches.
    for exten in (digits, "i"):
        await call.plan.prepare(call.context, exten)
    return digits


def goto_collected(call: Call, digits: str) -> bool:
    """Send the call to what was dialled, to ``i``, or to ``t`` when nothing was dialled.

    Returns False when there is nowhere to go (the call should end).
    """
    callerid = call.channel.caller_num
    if not digits:
        if call.plan.exists(call.context, "t", 1, callerid):
            call.goto(call.context, "t", 1)
            return True
        log.info("Timeout, but no rule 't' in context '%s'", call.context)
        return False
    if call.plan.exists(call.context, digits, 1, callerid):
        call.goto(call.context, digits, 1)
        return True
    if call.plan.exists(call.context, "i", 1, callerid):
        call.set_variable("INVALID_EXTEN", digits)
        call.goto(call.context, "i", 1)
        return True
    log.info("Invalid extension '%s' in context '%s', but no rule 'i'", digits, call.context)
    return False
