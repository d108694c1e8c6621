"""Overlap dialling over IAX2 (reference iax2.md §7.3, the client end of a "TBD" call).

``Dial(IAX2/peer/TBD)`` opens the call with ``CALLED_NUMBER=TBD``; once the peer has
accepted it, every digit the caller dials goes out as a DPREQ for the number so far, and the
peer's DPREP (its dialplan's verdict) decides:

==========================  ==============================================================
EXISTS, no MATCHMORE        DIAL the number at once
EXISTS and MATCHMORE        DIAL after ``DIGIT_TIMEOUT`` without a further digit
CANEXIST (MATCHMORE)        wait for more digits
NONEXISTENT                 give up: the number cannot be reached there
==========================  ==============================================================

As Asterisk's ``iax2_dprequest`` does, each DPREQ arms a 30 s inactivity timer: a call that
sits in TBD that long is hung up with cause 18 (no user response). A DPREP that answers an
older number than the one now dialled is ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from dialplan.channel import Channel
from pbxedge.iax2.enums import IE, Cause, DpStatus, IaxSubclass
from pbxedge.iax2.ies import IEList
from pbxedge.log import printable

__all__ = ["DIGIT_TIMEOUT", "TBD_IDLE_SECONDS", "TBD_TIMEOUT_TEXT", "Overlap"]

logger = logging.getLogger("pbxedge.iax2")

TBD_IDLE_SECONDS = 30.0  # chan_iax2 auto_hangup after the last DPREQ
TBD_TIMEOUT_TEXT = "Timeout"  # the CAUSE of that HANGUP, with CAUSECODE 18
DIGIT_TIMEOUT = 5.0  # TIMEOUT(digit): how long a number that could go on waits for more

SendIax = Callable[[IaxSubclass, IEList], None]
Give = Callable[[int, str], None]  # (cause, reason): end the leg


class Overlap:
    """The caller's digits toward one TBD call, until it is dialled or given up."""

    def __init__(self, caller: Channel, send_iax: SendIax, give_up: Give, idle_hangup: Give,
                 describe: Callable[[], str]) -> None:
        self._caller = caller
        self._send_iax = send_iax
        self._give_up = give_up
        self._idle_hangup = idle_hangup
        self._describe = describe
        self.number = ""
        self.dialed: str | None = None
        self._idle_at: float | None = None
        self._complete_at: float | None = None
        self._wait: trio.CancelScope | None = None
        self._done = False

    def stop(self) -> None:
        self._done = True
        if self._wait is not None:
            self._wait.cancel()

    async def run(self) -> None:
        """Read the caller's digits until the call is dialled, given up or idle too long."""
        caller = self._caller
        while not self._done and not caller.is_hungup:
            now = trio.current_time()
            if self._complete_at is not None and now >= self._complete_at:
                self._dial()
                return
            if self._idle_at is not None and now >= self._idle_at:
                self.stop()
                self._idle_hangup(Cause.NO_USER_RESPONSE, "no DIAL within "
                                  f"{TBD_IDLE_SECONDS:g} s of the last DPREQ")
                return
            due = min((t for t in (self._complete_at, self._idle_at) if t is not None),
                      default=None)
            digit = None  # stays None when a DPREP cancels the wait to rethink the timers
            with trio.CancelScope() as self._wait:
                digit = await caller.wait_for_digit(None if due is None else due - now)
            self._wait = None
            if digit is not None and not self._done:
                self._more(digit)

    def _more(self, digit: str) -> None:
        self.number += digit
        self._complete_at = None
        self._idle_at = trio.current_time() + TBD_IDLE_SECONDS
        self._send_iax(IaxSubclass.DPREQ, IEList().add_str(IE.CALLED_NUMBER, self.number))

    def on_dprep(self, ies: IEList) -> None:
        if self._done or ies.get_str(IE.CALLED_NUMBER) != self.number:
            return  # the caller has dialled on since this question
        status = DpStatus(ies.get_u16(IE.DPSTATUS) or 0)
        if status & DpStatus.EXISTS:
            if status & DpStatus.MATCHMORE:
                self._complete_at = trio.current_time() + DIGIT_TIMEOUT
                self._rethink()
            else:
                self._dial()
        elif not status & DpStatus.CANEXIST:
            self.stop()
            self._give_up(Cause.UNALLOCATED,
                          f"'{printable(self.number)}' does not exist at the far end")

    def _rethink(self) -> None:
        if self._wait is not None:
            self._wait.cancel()

    def _dial(self) -> None:
        self.stop()
        self.dialed = self.number
        logger.info("Overlap dialling on %s: DIAL %s", self._describe(), printable(self.number))
        self._send_iax(IaxSubclass.DIAL, IEList().add_str(IE.CALLED_NUMBER, self.number))
