"""Runs channels through the dialplan, the way ``__ast_pbx_run`` does.

Per priority: look the extension up (with the caller ID), substitute the data, run the
application, then continue at the next priority or where a Goto sent the call.  When the
priorities run out the call ends (``autofallthrough=yes``) or waits for digits; an unknown
extension goes to ``i``; the ``h`` extension runs when the call is over.  A plan that spins
through priorities without ever waiting on the caller is stopped with a log line.

Each priority run is told on the node's event bus (``Newexten``); a Redirect (from the
manager interface) stops the running application and moves the call elsewhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import trio

from dialplan.apps_basic import (
    CAUSE_CONGESTION,
    CAUSE_NORMAL_CLEARING,
    CAUSE_USER_BUSY,
    indicate_and_wait,
)
from dialplan.builtins import default_registry
from dialplan.call import Call, CallLocation, EngineOptions, Services, Step
from dialplan.channel import Channel, Indication
from dialplan.dialer import Dialer
from dialplan.digits import collect_extension, goto_collected
from dialplan.plan import Dialplan
from dialplan.registry import AppResult, Registry
from dialplan.store import KeyValueStore
from pbxedge.events import Newexten

__all__ = ["CallOutcome", "Engine", "entry_extension"]

log = logging.getLogger("dialplan")


def entry_extension(called: str | None, immediate: bool) -> str | None:
    """Where a new call enters the plan; None means "wait for a DIAL" (IAX2 TBD state).

    ``immediate=yes`` users go to ``s`` at once, with or without a secret (Asterisk only
    does this for authenticated calls; pbxedge honours it for every hot-line).  A call
    without a number goes to ``s`` as in Asterisk.
    """
    if not called:
        return "s"
    if called == "TBD":
        return "s" if immediate else None
    return called


@dataclass
class CallOutcome:
    """How a call left the dialplan."""

    reason: str  # "hangup" (an app ended it), "fallthrough", "invalid", "timeout", "loop", "caller"
    # The cause the call is hung up with.  A plan that runs out (fall-through, an unknown
    # extension without ``i``, no digits) sets none: 0, as Asterisk sends it.
    hangup_cause: int
    trace: list[Step] = field(default_factory=list)
    ended_at: float = 0.0  # unix time the call left the dialplan, before any ``h`` extension

    @property
    def path(self) -> list[tuple[str, str, int, str]]:
        return [(s.context, s.exten, s.priority, s.app) for s in self.trace]


class _LoopDetected(Exception):
    pass


class Engine:
    """The dialplan runtime shared by every call of a node."""

    def __init__(self, plan: Dialplan, *, registry: Registry[Call] | None = None,
                 dialer: Dialer | None = None, store: KeyValueStore | None = None,
                 options: EngineOptions | None = None) -> None:
        self.plan = plan
        self.services = Services(registry or default_registry(), dialer, store,
                                 options or EngineOptions())
        # The calls running now, by channel name: what ``core show channels`` asks about.
        self._running: dict[str, Call] = {}
        plan.apply_globals()

    @property
    def registry(self) -> Registry[Call]:
        return self.services.registry

    def reload(self, plan: Dialplan) -> None:
        """Use *plan* for new calls; running calls keep the plan they started with.

        The run-time table (registrations' regcontext entries, globals) carries over to
        *plan*, which must not have been used yet.
        """
        plan.runtime = self.plan.runtime
        self.plan = plan
        plan.apply_globals()

    async def start(self, channel: Channel, context: str, exten: str, priority: int = 1) -> CallOutcome:
        """Run *channel* from ``exten@context`` until the call leaves the dialplan."""
        call = Call(channel, self.plan, self.services, context, exten, priority)
        with self._running_call(call):
            return await self._finish(call, await self._run(call))

    async def run_application(self, channel: Channel, app: str, data: str) -> CallOutcome:
        """Run one application on *channel*, then end the call (the manager's Originate
        with ``Application``); a Redirect meanwhile sends it into the dialplan instead."""
        call = Call(channel, self.plan, self.services, "default", "s", 1)
        with self._running_call(call):
            result: AppResult | None = None
            with call.interruptible():
                result = await self._execute(call, app, data)
            if call.redirect is not None:
                outcome = await self._run(call)
            else:
                reason = "hangup" if result is AppResult.HANGUP else "fallthrough"
                outcome = CallOutcome(reason, channel.hangup_cause or CAUSE_NORMAL_CLEARING)
            return await self._finish(call, outcome)

    @contextmanager
    def _running_call(self, call: Call) -> Iterator[None]:
        name = call.channel.name
        self._running[name] = call
        try:
            yield
        finally:
            # A newer call that reused the name keeps its entry.
            if self._running.get(name) is call:
                del self._running[name]

    async def _finish(self, call: Call, outcome: CallOutcome) -> CallOutcome:
        call.ended = True  # a Redirect can no longer move it
        outcome.ended_at = time.time()
        await self._run_h(call)
        if not call.channel.is_hungup:
            await call.channel.hangup(outcome.hangup_cause)
        outcome.trace = call.trace
        return outcome

    def call_for(self, channel: Channel) -> Call:
        """The call running *channel*, or a call made for it at ``s@default`` (to read or
        set its variables and functions from outside the dialplan)."""
        call = self._running.get(channel.name)
        if call is not None and call.channel is channel:
            return call
        return Call(channel, self.plan, self.services, "default", "s", 1)

    def redirect(self, channel_name: str, context: str, exten: str, priority: int) -> bool:
        """Move the running call of *channel_name* to ``exten@context:priority`` now; False
        when no such call runs the dialplan (or it is over)."""
        call = self._running.get(channel_name)
        if call is None or call.ended or call.channel.is_hungup:
            return False
        log.info("Redirecting '%s' to %s@%s:%d", channel_name, exten, context, priority)
        call.redirect_to(context, exten, priority)
        return True

    def location(self, channel_name: str) -> CallLocation | None:
        """Where the channel called *channel_name* is in the dialplan; None when it is not in it."""
        call = self._running.get(channel_name)
        return call.location() if call is not None else None

    def locations(self) -> dict[str, CallLocation]:
        """Every channel in the dialplan now, by name."""
        return {name: call.location() for name, call in self._running.items()}

    # -- the main loop -------------------------------------------------------------------
    async def _run(self, call: Call) -> CallOutcome:
        """Run priorities until the call leaves the dialplan; a Redirect stops whatever runs
        (one cancel scope per run, not per priority) and the call starts again there."""
        while True:
            if call.redirect is not None:
                call.context, call.exten, call.priority = call.redirect
                call.redirect = None
                call.steps_without_wait = 0  # an outside action moved it: not a loop
            with call.interruptible():
                return await self._run_priorities(call)

    async def _run_priorities(self, call: Call) -> CallOutcome:
        plan, channel = call.plan, call.channel
        try:
            while True:
                if channel.is_hungup:
                    return CallOutcome("caller", channel.hangup_cause)
                await plan.prepare(call.context, call.exten)
                found = plan.find(call.context, call.exten, channel.caller_num, priority=call.priority)
                if found is not None:
                    result = await self._execute(call, found.priority.app, found.priority.data)
                    if result is AppResult.HANGUP:
                        return CallOutcome("hangup", channel.hangup_cause or CAUSE_NORMAL_CLEARING)
                    continue
                if not plan.exists(call.context, call.exten, 1, channel.caller_num):
                    await plan.prepare(call.context, "i")
                    if not self._to_invalid(call):
                        return CallOutcome("invalid", channel.hangup_cause)
                    continue
                outcome = await self._priorities_ran_out(call)
                if outcome is not None:
                    return outcome
        except _LoopDetected:
            return CallOutcome("loop", CAUSE_NORMAL_CLEARING)

    async def _execute(self, call: Call, app_name: str, raw_data: str) -> AppResult | None:
        app = self.registry.app(app_name)
        data = call.substitute(raw_data)
        call.trace.append(Step(call.context, call.exten, call.priority, app_name, data))
        self._count_step(call)
        if app is None:
            log.warning("No application '%s' for extension (%s, %s, %d)",
                        app_name, call.context, call.exten, call.priority)
            return AppResult.HANGUP
        log.debug("Executing [%s@%s:%d] %s(\"%s\", \"%s\")", call.exten, call.context,
                  call.priority, app.name, call.channel.name, data)
        # The registered spelling, as Asterisk shows it whatever case the plan used.
        call.app, call.app_data = app.name, data
        events = self.services.events
        if events.active:
            events.publish(Newexten(call.channel, call.context, call.exten, call.priority,
                                    app.name, data))
        call.jump = None
        started = trio.current_time()
        try:
            result = await app.handler(call, data)
        except Exception:  # an admin's Python application must not take the node down
            log.exception("Application %s failed on channel '%s'; hanging up", app.name, call.channel.name)
            return AppResult.HANGUP
        if app.waits and trio.current_time() > started:
            call.steps_without_wait = 0  # the caller was waited on: not a runaway loop
        if call.jump is not None:
            call.context, call.exten, call.priority = call.jump
            call.jump = None
        else:
            call.priority += 1
        return result

    def _count_step(self, call: Call) -> None:
        call.steps_without_wait += 1
        limit = self.services.options.max_steps_without_wait
        if call.steps_without_wait > limit:
            log.error("Channel '%s' ran %d priorities without waiting (last %s,%s,%d): "
                      "the dialplan loops; hanging up", call.channel.name, limit,
                      call.context, call.exten, call.priority)
            raise _LoopDetected

    def _to_invalid(self, call: Call) -> bool:
        callerid = call.channel.caller_num
        if call.plan.exists(call.context, "i", 1, callerid):
            log.info("Channel '%s' sent to invalid extension '%s' in context '%s', going to 'i'",
                     call.channel.name, call.exten, call.context)
            call.set_variable("INVALID_EXTEN", call.exten)
            call.exten, call.priority = "i", 1
            return True
        log.warning("Channel '%s' sent to invalid extension '%s' in context '%s', but no invalid handler",
                    call.channel.name, call.exten, call.context)
        return False

    async def _priorities_ran_out(self, call: Call) -> CallOutcome | None:
        """The extension exists but has no more priorities."""
        channel = call.channel
        if call.plan.options.autofallthrough:
            status = call.lookup_variable("DIALSTATUS") or "UNKNOWN"
            log.info("Auto fallthrough, channel '%s' status is '%s'", channel.name, status)
            upper = status.upper()
            if upper == "BUSY":
                await indicate_and_wait(call, "10", Indication.BUSY, CAUSE_USER_BUSY)
            elif upper in ("CONGESTION", "CHANUNAVAIL"):
                await indicate_and_wait(call, "10", Indication.CONGESTION, CAUSE_CONGESTION)
            return CallOutcome("fallthrough", channel.hangup_cause)
        started = trio.current_time()
        digits = await collect_extension(call, call.response_timeout, call.digit_timeout)
        if trio.current_time() > started:
            call.steps_without_wait = 0
        if channel.is_hungup:
            return CallOutcome("caller", channel.hangup_cause)
        if not goto_collected(call, digits):
            return CallOutcome("timeout" if not digits else "invalid", channel.hangup_cause)
        assert call.jump is not None
        call.context, call.exten, call.priority = call.jump
        call.jump = None
        return None

    async def _run_h(self, call: Call) -> None:
        """Run ``h`` in the call's current context, stopping at the first app that ends."""
        callerid = call.channel.caller_num
        await call.plan.prepare(call.context, "h")
        if not call.plan.exists(call.context, "h", 1, callerid):
            return
        call.exten, call.priority = "h", 1
        try:
            while True:
                await call.plan.prepare(call.context, call.exten)
                found = call.plan.find(call.context, call.exten, callerid, priority=call.priority)
                if found is None:
                    return
                result = await self._execute(call, found.priority.app, found.priority.data)
                if result is AppResult.HANGUP:
                    return
        except _LoopDetected:
            return
