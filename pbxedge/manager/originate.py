"""The Originate action (reference ami.md §4): call a channel through the dialplan's
:class:`~dialplan.dialer.Dialer` and, once it answers, run it from ``Context``/``Exten``/
``Priority`` or through one ``Application``/``Data``.

Without ``Async`` the reply waits for the outcome: ``Originate successfully queued`` as soon
as the called leg answers, ``Originate failed`` (no detail) otherwise. With ``Async: true``
that reply comes at once and an ``OriginateResponse`` event with the request's ActionID
tells the outcome later (``Reason``: 4 answered, 5 busy, 8 congestion, 3 no answer, 1 hung
up, 0 no channel). Whatever technology the Dialer reaches (``IAX2/…``, local phones) is
reachable here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dialplan.args import separate_args
from dialplan.channel import Channel
from dialplan.dialer import DialStatus, Originated
from pbxedge.config.values import parse_callerid
from pbxedge.events import Category, Fields, NodeEvent
from pbxedge.iax2.newcall import shrink_phone_number
from pbxedge.manager.permissions import bit
from pbxedge.manager.session import Action, Session
from pbxedge.manager.wire import Message, integer, response

__all__ = ["ORIGINATE_ACTIONS", "OriginateResponse"]

logger = logging.getLogger("pbxedge.manager")

DEFAULT_TIMEOUT_MS = 30_000
MAX_TIMEOUT_MS = 86_400_000  # a day: any longer Timeout is taken as that
_TRUE = ("yes", "true", "y", "t", "1", "on")
# Applications that reach a shell, and data that could: they need the system class too.
_SHELL_APPS = ("system", "exec", "agi", "mixmonitor", "externalivr")
_SHELL_DATA = ("SHELL", "EVAL")
# AST_CONTROL_* that ended the attempt, as OriginateResponse reports it.
_REASONS = {
    DialStatus.ANSWER: 4,
    DialStatus.BUSY: 5,
    DialStatus.CONGESTION: 8,
    DialStatus.NOANSWER: 3,
    DialStatus.CANCEL: 1,
    DialStatus.CHANUNAVAIL: 0,
}
UNKNOWN = "<unknown>"


@dataclass(frozen=True, slots=True)
class OriginateResponse(NodeEvent):
    """How an ``Async`` Originate ended (``fast_originate``)."""

    name = "OriginateResponse"
    category = Category.CALL
    action_id: str
    success: bool
    channel: str
    application: str
    data: str
    context: str
    exten: str
    reason: int
    uniqueid: str
    caller_num: str | None
    caller_name: str | None

    def fields(self) -> Fields:
        out = [("ActionID", self.action_id)] if self.action_id else []
        out += [("Response", "Success" if self.success else "Failure"), ("Channel", self.channel)]
        if self.application:
            out += [("Application", self.application), ("Data", self.data)]
        else:
            out += [("Context", self.context), ("Exten", self.exten)]
        out += [("Reason", str(self.reason)), ("Uniqueid", self.uniqueid),
                ("CallerIDNum", self.caller_num or UNKNOWN),
                ("CallerIDName", self.caller_name or UNKNOWN)]
        return out


@dataclass(frozen=True)
class _Request:
    target: str
    timeout: float
    application: str
    data: str
    context: str
    exten: str
    priority: int
    caller_num: str | None
    caller_name: str | None
    account: str
    variables: tuple[tuple[str, str], ...]


def _variables(m: Message) -> list[tuple[str, str]]:
    """``Variable: a=b`` headers, each possibly a comma list (``astman_get_variables``)."""
    out = []
    for header in m.get_all("Variable"):
        for item in separate_args(header):
            name, equals, value = item.partition("=")
            if equals and name.strip():
                out.append((name.strip(), value))
    return out


def _parse(session: Session, m: Message) -> _Request | str:
    """The request, or the Error message Asterisk gives for it."""
    target = m.get("Channel")
    if not target:
        return "Channel not specified"
    context, exten, application, data = (m.get("Context"), m.get("Exten"),
                                         m.get("Application"), m.get("Data"))
    plan = session.state.context.engine.plan
    priority = 0
    text = m.get("Priority").strip()
    if text:
        number = integer(text)
        priority = number if number is not None else plan.find_label(context, exten, text) or 0
        if number is None and priority < 1:
            return "Invalid priority"
    timeout_text = m.get("Timeout")
    timeout_ms = integer(timeout_text) if timeout_text else DEFAULT_TIMEOUT_MS
    if timeout_ms is None:
        return "Invalid timeout"
    if "/" not in target:
        return "Invalid channel"
    caller_name, caller_num = parse_callerid(m.get("CallerID"))
    if caller_num is not None:
        caller_num = shrink_phone_number(caller_num) or None
    if application and not session.write & bit(Category.SYSTEM):
        if any(word in application.lower() for word in _SHELL_APPS):
            return "Originate Access Forbidden: Application"
        if any(word in data for word in _SHELL_DATA):
            return "Originate Access Forbidden: Data"
    if not application:
        if not priority:
            return "Originate with 'Exten' requires 'Context' and 'Priority'"
        if not plan.exists(context, exten, priority, caller_num):
            return "Extension does not exist."
    assert session.user is not None
    timeout = min(max(0, timeout_ms), MAX_TIMEOUT_MS) / 1000
    return _Request(target, timeout, application, data, context, exten, priority, caller_num,
                    caller_name, m.get("Account"), (*session.user.setvars, *_variables(m)))


async def _place(session: Session, request: _Request) -> Originated:
    """Dial; when answered, start the dialplan on the leg (it runs on its own)."""
    context = session.state.context
    dialer = context.engine.services.dialer
    if dialer is None:
        return Originated(DialStatus.CHANUNAVAIL)
    outcome = await dialer.originate(request.target, request.timeout, request.caller_num,
                                     request.caller_name)
    channel = outcome.channel
    if outcome.status is DialStatus.ANSWER and channel is not None:
        if request.account:
            channel.accountcode = request.account
        call = context.engine.call_for(channel)
        for name, value in request.variables:
            call.set_variable(name, value)
        tasks = session.state.tasks
        assert tasks is not None
        tasks.start_soon(_run, session, request, channel)
    return outcome


async def _run(session: Session, request: _Request, channel: Channel) -> None:
    engine = session.state.context.engine
    try:
        if request.application:
            await engine.run_application(channel, request.application, request.data)
        else:
            await engine.start(channel, request.context, request.exten, request.priority)
    except Exception:
        logger.exception("originated call on %s failed", channel.name)
        await channel.hangup(16)


async def _report(session: Session, m: Message, request: _Request) -> None:
    try:
        outcome = await _place(session, request)
    except Exception:  # the client still hears how it ended
        logger.exception("Originate to %s failed", request.target)
        outcome = Originated(DialStatus.CHANUNAVAIL)
    answered = outcome.status is DialStatus.ANSWER and outcome.channel is not None
    channel = outcome.channel if answered else None
    session.state.bus.publish(OriginateResponse(
        m.action_id, answered, channel.name if channel else request.target,
        request.application, request.data, request.context, request.exten,
        _REASONS.get(outcome.status, 0), channel.uniqueid if channel else UNKNOWN,
        request.caller_num, request.caller_name))


async def _originate(session: Session, m: Message) -> bool:
    request = _parse(session, m)
    if isinstance(request, str):
        session.send(response(m, "Error", request))
        return True
    if m.get("Async").strip().lower() in _TRUE:
        tasks = session.state.tasks
        assert tasks is not None
        session.send(response(m, "Success", "Originate successfully queued"))
        tasks.start_soon(_report, session, m, request)
        return True
    outcome = await _place(session, request)
    if outcome.status is DialStatus.ANSWER:
        session.send(response(m, "Success", "Originate successfully queued"))
    else:
        session.send(response(m, "Error", "Originate failed"))
    return True


ORIGINATE_ACTIONS = (
    Action("Originate", _originate, "Originate a call.", bit(Category.ORIGINATE)),
)
