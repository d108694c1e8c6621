"""Flow control: Goto, GotoIf, GotoIfTime, Gosub, GosubIf, Return, ExecIf."""

from __future__ import annotations

import logging
import re

from dialplan.args import separate_args, split_app_call
from dialplan.call import Call, GosubFrame
from dialplan.functions import check_condition
from dialplan.registry import Application, AppResult, Registry
from dialplan.timing import TimeSpec

__all__ = ["GotoError", "parse_goto", "register_flow_apps", "run_app"]

log = logging.getLogger("dialplan")
_RELATIVE = re.compile(r"\s*([+-])(\d+)\s*$")
_ABSOLUTE = re.compile(r"\s*(\d+)")


class GotoError(ValueError):
    """A Goto target whose priority is neither a number nor a known label."""


def parse_goto(call: Call, target: str) -> tuple[str, str, int]:
    """``pbx_parseable_goto``: ``[[context,]exten,]priority`` with labels and ``+N``/``-N``."""
    parts = [p.strip() for p in target.split(",")]
    if not target.strip() or len(parts) > 3:
        raise GotoError(f"Goto requires an argument ([[context,]extension,]priority), got '{target}'")
    context = parts[-3] if len(parts) == 3 else call.context
    exten = parts[-2] if len(parts) >= 2 else call.exten
    priority_text = parts[-1]
    relative = _RELATIVE.match(priority_text)
    if relative:
        step = int(relative.group(2))
        return context, exten, call.priority + (step if relative.group(1) == "+" else -step)
    absolute = _ABSOLUTE.match(priority_text)
    if absolute:
        return context, exten, int(absolute.group(1))
    number = call.plan.find_label(context, exten, priority_text, call.channel.caller_num)
    if number is None or number < 1:
        raise GotoError(f"Priority '{priority_text}' must be a number > 0, or valid label")
    return context, exten, number


def _jump(call: Call, target: str) -> AppResult | None:
    try:
        context, exten, priority = parse_goto(call, target)
    except GotoError as exc:
        log.warning("%s", exc)
        return AppResult.HANGUP
    call.goto(context, exten, priority)
    return None


async def _goto(call: Call, data: str) -> AppResult | None:
    return _jump(call, data)


def _branches(text: str) -> tuple[str, str]:
    when_true, _, when_false = text.partition(":")
    return when_true, when_false


async def _gotoif(call: Call, data: str) -> AppResult | None:
    condition, question, rest = data.partition("?")
    if not question:
        log.warning("GotoIf requires an argument (condition?label1[:label2])")
        return None
    when_true, when_false = _branches(rest)
    branch = when_true if check_condition(condition.strip()) else when_false
    return _jump(call, branch) if branch.strip() else None


async def _gotoiftime(call: Call, data: str) -> AppResult | None:
    spec_text, question, rest = data.partition("?")
    if not question:
        log.warning("GotoIfTime requires an argument (<time range>,<days of week>,<days of month>,"
                    "<months>[,<timezone>]?'labeliftrue':'labeliffalse')")
        return None
    spec = TimeSpec.parse([p.strip() for p in re.split(r"[,|]", spec_text)])
    when_true, when_false = _branches(rest)
    branch = when_true if spec.matches(call.plan.clock()) else when_false
    return _jump(call, branch) if branch.strip() else None


def _split_label_args(text: str) -> tuple[str, list[str]]:
    label, paren, rest = text.partition("(")
    if not paren:
        return text.strip(), []
    end = rest.rfind(")")
    return label.strip(), separate_args(rest[:end] if end >= 0 else rest)


def _enter_gosub(call: Call, target: str) -> AppResult | None:
    label, arguments = _split_label_args(target)
    try:
        context, exten, priority = parse_goto(call, label)
    except GotoError as exc:
        log.warning("%s", exc)
        return AppResult.HANGUP
    if call.plan.find(context, exten, call.channel.caller_num, priority=priority) is None:
        log.error("Attempt to reach a non-existent destination for Gosub: (Context:%s, Extension:%s, "
                  "Priority:%d)", context, exten, priority)
        return AppResult.HANGUP
    frame = GosubFrame(call.context, call.exten, call.priority + 1)
    call.gosub_stack.append(frame)
    previous_count = int(call.channel.variables.get("ARGC", "0") or 0)
    values = {"ARGC": str(len(arguments))}
    values.update({f"ARG{n}": value for n, value in enumerate(arguments, start=1)})
    # Arguments of an outer Gosub must not leak into this one.
    values.update({f"ARG{n}": "" for n in range(len(arguments) + 1, previous_count + 1)})
    for name, value in values.items():
        frame.saved.setdefault(name, call.channel.variables.get(name))
        call.set_variable(name, value)
    call.goto(context, exten, priority)
    return None


async def _gosub(call: Call, data: str) -> AppResult | None:
    return _enter_gosub(call, data)


async def _gosubif(call: Call, data: str) -> AppResult | None:
    condition, question, rest = data.partition("?")
    if not question:
        log.warning("GosubIf requires an argument: GosubIf(cond?label1(args):label2(args)")
        return None
    branches = [*separate_args(rest, ":", remove_chars=False, max_args=2), ""]
    branch = branches[0] if check_condition(condition.strip()) else branches[1]
    return _enter_gosub(call, branch) if branch.strip() else None


async def _return(call: Call, data: str) -> AppResult | None:
    if not call.gosub_stack:
        log.error("Return without Gosub: stack is empty")
        return AppResult.HANGUP
    frame = call.gosub_stack.pop()
    for name, value in frame.saved.items():
        if value is None:
            call.channel.variables.pop(name, None)
        else:
            call.channel.variables[name] = value
    call.set_variable("GOSUB_RETVAL", data)
    call.goto(frame.context, frame.exten, frame.priority)
    return None


async def run_app(call: Call, name: str, data: str) -> AppResult | None:
    """Run another application by name (ExecIf, AGI EXEC)."""
    app = call.services.registry.app(name)
    if app is None:
        log.warning("Could not find application (%s)", name)
        return AppResult.HANGUP
    return await app.handler(call, data)


async def _execif(call: Call, data: str) -> AppResult | None:
    condition, question, rest = data.partition("?")
    if not question:
        log.warning("ExecIf requires an argument: ExecIf(expression?appiftrue(args)[:appiffalse(args)])")
        return None
    branches = [*separate_args(rest, ":", remove_chars=False, max_args=2), ""]
    branch = branches[0] if check_condition(condition.strip()) else branches[1]
    if not branch.strip():
        return None
    name, app_data = split_app_call(branch)
    return await run_app(call, name, app_data)


def register_flow_apps(registry: Registry[Call]) -> None:
    for app in (
        Application("Goto", _goto, "Jump to a particular priority, extension, or context."),
        Application("GotoIf", _gotoif, "Conditional goto."),
        Application("GotoIfTime", _gotoiftime, "Conditional Goto based on the current time."),
        Application("Gosub", _gosub, "Jump to label, saving return address."),
        Application("GosubIf", _gosubif, "Conditionally jump to label, saving return address."),
        Application("Return", _return, "Return from gosub routine."),
        Application("ExecIf", _execif, "Executes dialplan application, conditionally."),
    ):
        registry.add_app(app)
