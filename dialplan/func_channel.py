"""TIMEOUT() and the parts of CHANNEL() the media applications rely on."""

from __future__ import annotations

import logging

from dialplan.call import Call
from dialplan.registry import DialplanFunction, Registry

__all__ = ["register_channel_functions"]

log = logging.getLogger("dialplan")


def _timeout_read(call: Call, args: str) -> str:
    kind = args.strip().lower()
    if kind.startswith("r"):
        return f"{call.response_timeout:.3f}"
    if kind.startswith("d"):
        return f"{call.digit_timeout:.3f}"
    if kind.startswith("a"):
        return "0.000"  # no absolute timeout is ever set
    log.error("Unknown timeout type specified.")
    return ""


def _timeout_write(call: Call, args: str, value: str) -> None:
    kind = args.strip().lower()
    try:
        seconds = max(0.0, float(value))
    except ValueError:
        log.error("Cannot set timeout to '%s'", value)
        return
    if kind.startswith("r"):
        call.response_timeout = seconds
    elif kind.startswith("d"):
        call.digit_timeout = seconds
    elif kind.startswith("a"):
        log.warning("TIMEOUT(absolute) is not supported; the call runs on")
    else:
        log.error("Unknown timeout type specified.")


def _channel_read(call: Call, args: str) -> str:
    item = args.strip().lower()
    channel = call.channel
    match item:
        case "name":
            return channel.name
        case "language":
            return channel.language
        case "tonezone":
            return call.tonezone or ""
        case "state":
            return {"down": "Down", "ring": "Ring", "ringing": "Ringing", "up": "Up"}[
                channel.state.value]
        case "uniqueid":
            return channel.uniqueid
    log.warning("CHANNEL(%s) is not available on this node", item)
    return ""


def _channel_write(call: Call, args: str, value: str) -> None:
    item = args.strip().lower()
    if item == "language":
        call.channel.language = value
    elif item == "tonezone":
        call.tonezone = value or None
    else:
        log.warning("CHANNEL(%s) cannot be set on this node", item)


def register_channel_functions(registry: Registry[Call]) -> None:
    registry.add_function(DialplanFunction(
        "TIMEOUT", _timeout_read, _timeout_write,
        "Gets or sets timeouts on the channel. Timeout values are in seconds.",
        "TIMEOUT(timeouttype)"))
    registry.add_function(DialplanFunction(
        "CHANNEL", _channel_read, _channel_write,
        "Gets/sets various pieces of information about the channel.", "CHANNEL(item)"))
