"""Applications that need no media: call state, indications, logging, variables, System."""

from __future__ import annotations

import logging
import re

import trio

from dialplan.args import separate_args
from dialplan.call import Call
from dialplan.channel import ChannelState, Feature, Indication
from dialplan.registry import Application, AppResult, Registry
from pbxedge.events import UserEvent

__all__ = ["register_basic_apps"]

log = logging.getLogger("dialplan")

CAUSE_NORMAL_CLEARING = 16
CAUSE_USER_BUSY = 17
CAUSE_CONGESTION = 34
# The cause names ast_str2cause accepts most often in dialplans.
_CAUSE_NAMES = {
    "UNALLOCATED": 1, "NO_ROUTE_DESTINATION": 3, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "CALL_REJECTED": 21, "NUMBER_CHANGED": 22,
    "INVALID_NUMBER_FORMAT": 28, "NORMAL_UNSPECIFIED": 31, "CONGESTION": 34,
    "NORMAL_CIRCUIT_CONGESTION": 34, "NETWORK_OUT_OF_ORDER": 38, "UNREGISTERED": 20,
}
_NUMBER = re.compile(r"\s*(\d+(?:\.\d*)?)")
_LOG_LEVELS = {
    "ERROR": logging.ERROR, "WARNING": logging.WARNING, "NOTICE": logging.INFO,
    "VERBOSE": logging.INFO, "DEBUG": logging.DEBUG, "DTMF": logging.DEBUG,
}


def parse_seconds(text: str) -> float | None:
    """A non-negative number of seconds, or None when absent or invalid."""
    found = _NUMBER.match(text)
    return float(found.group(1)) if found else None


async def _answer(call: Call, data: str) -> AppResult | None:
    if call.channel.state is not ChannelState.UP:
        await call.channel.answer()
    return None


async def _hangup(call: Call, data: str) -> AppResult | None:
    """``Hangup([cause])``: a number or a name; without one an earlier cause is kept."""
    text = data.strip()
    cause = _CAUSE_NAMES.get(text.upper().removeprefix("AST_CAUSE_"), 0)
    number = re.match(r"(\d+)", text)
    if not cause and number:
        cause = int(number.group(1))
    if text and cause <= 0:
        log.warning('Invalid cause given to Hangup(): "%s"', text)
    call.channel.hangup_cause = cause or call.channel.hangup_cause or CAUSE_NORMAL_CLEARING
    return AppResult.HANGUP


async def indicate_and_wait(call: Call, data: str, indication: Indication, cause: int) -> AppResult:
    """Busy/Congestion (and fall-through after a failed Dial): tell the caller, keep the
    line up for *timeout* (or until they hang up), then end the call.  The cause is only
    set on a call not yet answered."""
    await call.channel.indicate(indication)
    if call.channel.state is not ChannelState.UP:
        call.channel.hangup_cause = cause
    await call.channel.wait(parse_seconds(data))
    return AppResult.HANGUP


async def _busy(call: Call, data: str) -> AppResult | None:
    return await indicate_and_wait(call, data, Indication.BUSY, CAUSE_USER_BUSY)


async def _congestion(call: Call, data: str) -> AppResult | None:
    return await indicate_and_wait(call, data, Indication.CONGESTION, CAUSE_CONGESTION)


async def _ringing(call: Call, data: str) -> AppResult | None:
    await call.channel.indicate(Indication.RINGING)
    return None


async def _progress(call: Call, data: str) -> AppResult | None:
    await call.channel.indicate(Indication.PROGRESS)
    return None


async def _wait(call: Call, data: str) -> AppResult | None:
    seconds = parse_seconds(data) or 0.0
    return None if await call.channel.wait(seconds) else AppResult.HANGUP


async def _noop(call: Call, data: str) -> AppResult | None:
    log.debug("NoOp(%s)", data)
    return None


async def _verbose(call: Call, data: str) -> AppResult | None:
    parts = separate_args(data, remove_chars=False, max_args=2)
    message = parts[1] if len(parts) == 2 else data
    log.info("%s", message)
    return None


async def _log(call: Call, data: str) -> AppResult | None:
    parts = separate_args(data, remove_chars=False, max_args=2)
    if len(parts) < 2:
        log.warning("Log requires a level and a message")
        return None
    log.log(_LOG_LEVELS.get(parts[0].strip().upper(), logging.INFO), "%s", parts[1])
    return None


async def _set(call: Call, data: str) -> AppResult | None:
    name, equals, value = data.partition("=")
    if not equals or not name.strip():
        log.warning("Set requires an argument (variable=value)")
        return None
    call.set_variable(name, value)
    return None


async def _mset(call: Call, data: str) -> AppResult | None:
    for pair in separate_args(data):
        name, equals, value = pair.partition("=")
        if not equals:
            log.warning("MSet: ignoring entry '%s' with no '='", pair)
            continue
        call.set_variable(name, value)
    return None


async def _send_text(call: Call, data: str) -> AppResult | None:
    if not call.channel.supports(Feature.TEXT):
        call.set_variable("SENDTEXTSTATUS", "UNSUPPORTED")
        return None
    sent = await call.channel.send_text(data)
    call.set_variable("SENDTEXTSTATUS", "SUCCESS" if sent else "FAILURE")
    return None


async def _system(call: Call, data: str) -> AppResult | None:
    if not call.services.options.allow_system:
        log.error("System: running commands is disabled on this node (engine option allow_system)")
        call.set_variable("SYSTEMSTATUS", "FAILURE")
        return AppResult.HANGUP
    if not data.strip():
        log.warning("System requires an argument(command)")
        call.set_variable("SYSTEMSTATUS", "FAILURE")
        return AppResult.HANGUP
    try:
        completed = await trio.run_process(data, shell=True, check=False)
    except OSError as exc:
        log.warning("Unable to execute '%s': %s", data, exc)
        call.set_variable("SYSTEMSTATUS", "FAILURE")
        return AppResult.HANGUP
    if completed.returncode == 127:
        call.set_variable("SYSTEMSTATUS", "FAILURE")
        return AppResult.HANGUP
    call.set_variable("SYSTEMSTATUS", "SUCCESS" if completed.returncode == 0 else "APPERROR")
    return None


async def _user_event(call: Call, data: str) -> AppResult | None:
    """``UserEvent(name[,key: value[,...]])``: a manager event of the ``user`` class."""
    parts = separate_args(data)
    if not parts or not parts[0].strip():
        log.warning("UserEvent requires an argument (eventname[,body])")
        return None
    headers = []
    for item in parts[1:]:
        key, colon, value = item.partition(":")
        if colon and key.strip():
            headers.append((key.strip(), value.strip()))
    call.services.events.publish(UserEvent(parts[0].strip(), tuple(headers), call.channel))
    return None


def register_basic_apps(registry: Registry[Call]) -> None:
    for app in (
        Application("Answer", _answer, "Answer a channel if ringing."),
        Application("Hangup", _hangup, "Hang up the calling channel."),
        Application("Busy", _busy, "Indicate the Busy condition.", waits=True),
        Application("Congestion", _congestion, "Indicate the Congestion condition.", waits=True),
        Application("Ringing", _ringing, "Indicate ringing tone."),
        Application("Progress", _progress, "Indicate progress."),
        Application("Wait", _wait, "Waits for some time.", waits=True),
        Application("NoOp", _noop, "Do Nothing (No Operation)."),
        Application("Verbose", _verbose, "Send arbitrary text to verbose output."),
        Application("Log", _log, "Send arbitrary text to a selected log level."),
        Application("Set", _set, "Set channel variable or function value."),
        Application("MSet", _mset, "Set channel variable(s) or function value(s)."),
        Application("SendText", _send_text, "Send a Text Message on a channel."),
        Application("System", _system, "Execute a system command.", waits=True),
        Application("UserEvent", _user_event, "Send an arbitrary user-defined event to "
                    "parties interested in a channel (AMI users)."),
    ):
        registry.add_app(app)
