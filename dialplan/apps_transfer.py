"""``Transfer([Tech/]destination[,options])``: ask the far end of the call to take its side
elsewhere (app_transfer). Sets ``TRANSFERSTATUS`` (SUCCESS, FAILURE, UNSUPPORTED) and
``TRANSFERSTATUSPROTOCOL`` (0: the technology reports no protocol code), and never ends
the call itself: whatever the far end does next (usually a hangup) ends it.
"""

from __future__ import annotations

import logging

from dialplan.args import separate_args
from dialplan.call import Call
from dialplan.channel import Transferable
from dialplan.registry import Application, AppResult, Registry

__all__ = ["register_transfer_app"]

log = logging.getLogger("dialplan")


async def _transfer(call: Call, data: str) -> AppResult | None:
    destination = (separate_args(data) or [""])[0].strip()
    status = await _try(call, destination)
    call.set_variable("TRANSFERSTATUS", status)
    call.set_variable("TRANSFERSTATUSPROTOCOL", "0")
    return None


async def _try(call: Call, destination: str) -> str:
    channel = call.channel
    if not destination:
        log.warning("Transfer requires an argument ([Tech/]destination)")
        return "FAILURE"
    tech, slash, rest = destination.partition("/")
    if slash and tech:
        ours = (channel.technology if isinstance(channel, Transferable)
                else channel.name.partition("/")[0])
        if tech.lower() != ours.lower():
            return "FAILURE"  # a destination for another technology than the channel's
        destination = rest
    if not isinstance(channel, Transferable):
        return "UNSUPPORTED"
    if channel.is_hungup:
        return "FAILURE"
    return "SUCCESS" if await channel.transfer(destination) else "FAILURE"


def register_transfer_app(registry: Registry[Call]) -> None:
    registry.add_app(Application("Transfer", _transfer, "Transfer caller to remote extension."))
