"""Transfers of the node's IAX2 calls (reference iax2.md §7.6).

*Native*: when a ``Dial`` bridges two IAX2 legs whose ``transfer=`` both say ``yes`` (or
``mediaonly``), use the same codec and are not encrypted, the node asks their endpoints to
talk directly (the sans-IO endpoint runs TXREQ … TXREL/TXMEDIA). Asterisk no longer does
this; pbxedge does, but only when both sides opted in, because NAT often defeats it and
``transfer`` left unset must keep Asterisk's behaviour (answer, never start).

*Blind* (IAX TRANSFER, ``Transfer()`` at the far end): the leg that receives it leaves the
call, and the other side of its bridge goes to ``CALLED_NUMBER`` in the context of the
channel running the ``Dial`` (a ``CALLED_CONTEXT`` in the frame is ignored, as Asterisk
ignores it).
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from dialplan.channel import Channel
from pbxedge.channels.iax import IaxChannel
from pbxedge.iax2.events import CallTransferred, Event, TransferFailed, TransferReleased
from pbxedge.iaxservice.call_host import CallHost
from pbxedge.log import printable

__all__ = [
    "HandOver",
    "log_transfer_event",
    "native_transfer_mode",
    "start_native_transfer",
    "transfer_context",
]

logger = logging.getLogger("pbxedge.iax2")

_OPTED_IN = frozenset({"yes", "mediaonly"})


@runtime_checkable
class HandOver(Protocol):
    """A Dial's called leg that can leave the bridge alive and enter the dialplan (the
    transferee when the caller's side of the bridge got the blind transfer)."""

    def hand_over(self, context: str, exten: str) -> None: ...


def native_transfer_mode(a: IaxChannel, b: IaxChannel) -> bool | None:
    """None when the two legs may not be re-pathed; else whether only media may move
    (``mediaonly`` on either side, as Asterisk's bridge decided)."""
    policies = {a.transfer_policy, b.transfer_policy}
    if not policies <= _OPTED_IN or a.codec != b.codec:
        return None
    return "mediaonly" in policies


def start_native_transfer(svc: CallHost, caller: IaxChannel, callee: IaxChannel) -> bool:
    """Ask the endpoint to re-path the two bridged legs; False when it does not apply."""
    media_only = native_transfer_mode(caller, callee)
    if media_only is None:
        return False
    if not svc.iax.endpoint.start_transfer(caller.link.callno, callee.link.callno,
                                           svc.iax.now(), media_only=media_only):
        return False
    logger.info("Attempting %s transfer of '%s' and '%s'",
                "media" if media_only else "native", caller.name, callee.name)
    svc.iax.kick()
    return True


def transfer_context(svc: CallHost, dial_caller: Channel | None) -> str:
    """Where a blind transfer sends the transferee: the context the Dial runs in."""
    if dial_caller is not None:
        where = svc.engine.location(dial_caller.name)
        if where is not None:
            return where.context
    return svc.config.general.context


def log_transfer_event(name: str, event: Event) -> None:
    """The verbose lines Asterisk prints about transfers, for either role."""
    if isinstance(event, CallTransferred):
        what = "media now goes to" if event.media_only else "transferred to"
        logger.info("Channel '%s' %s %s:%d", name, what, event.addr[0], event.addr[1])
    elif isinstance(event, TransferReleased):
        logger.info("%s '%s'", "Media of" if event.media_only else "Releasing", name)
    elif isinstance(event, TransferFailed):
        logger.info("Channel '%s' unable to transfer (%s)", name, printable(event.reason))
