"""A node event as manager text (``__manager_event_sessions_va``): ``Event``,
``Privilege``, [``Timestamp``], the channel blocks, the event's own keys, the blank line."""

from __future__ import annotations

import time

from pbxedge.events import NodeEvent
from pbxedge.manager.channels import LiveChannels, channel_block
from pbxedge.manager.permissions import bit, privilege

__all__ = ["render"]


def render(event: NodeEvent, channels: LiveChannels, *, timestamp: bool = False,
           channelvars: tuple[str, ...] = ()) -> str:
    pairs = [("Event", event.name), ("Privilege", privilege(bit(event.category)))]
    if timestamp:
        pairs.append(("Timestamp", f"{time.time():.6f}"))
    for prefix, channel in event.channels():
        pairs += channel_block(prefix, channel, channels.get(channel), channelvars)
    pairs += event.fields()
    return "".join(f"{key}: {value}\r\n" for key, value in pairs) + "\r\n"
