"""The node's live channels as the manager sees them, and their block of keys.

The manager learns channels from the event bus alone (``Newchannel`` to ``Hangup``), so any
kind of channel that publishes those events (IAX2 legs, local phones) is listed by
CoreShowChannels and reachable by Hangup, Redirect, Getvar and Setvar. Each entry keeps
what the channel itself does not know: where it is in the dialplan, its last application,
the call it belongs to (``Linkedid``) and when it appeared.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dialplan.channel import Channel, ChannelState
from pbxedge.events import Hangup, Newchannel, Newexten, NodeEvent

__all__ = ["STATES", "LiveChannel", "LiveChannels", "channel_block"]

# ChannelState -> Asterisk's number and ChannelStateDesc (ast_state2str).
STATES = {
    ChannelState.DOWN: (0, "Down"),
    ChannelState.RING: (4, "Ring"),
    ChannelState.RINGING: (5, "Ringing"),
    ChannelState.UP: (6, "Up"),
}
UNKNOWN = "<unknown>"


@dataclass
class LiveChannel:
    channel: Channel
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    app: str = ""
    data: str = ""
    linkedid: str = ""
    created: float = field(default_factory=time.monotonic)


class LiveChannels:
    """Channels between their ``Newchannel`` and their ``Hangup``, oldest first."""

    def __init__(self) -> None:
        self._live: dict[str, LiveChannel] = {}  # by uniqueid
        self.processed = 0  # channels that ran the dialplan (CoreProcessedCalls)

    def before(self, event: NodeEvent) -> None:
        """Learn from *event* before it is shown (its block shows the new place)."""
        if isinstance(event, Newchannel):
            linked = self._live.get(event.linked.uniqueid) if event.linked else None
            self._live[event.channel.uniqueid] = LiveChannel(
                event.channel, event.context, event.exten,
                linkedid=linked.linkedid if linked else event.channel.uniqueid)
        elif isinstance(event, Newexten):
            live = self._live.get(event.channel.uniqueid)
            if live is not None:
                if not live.app:
                    self.processed += 1
                live.context, live.exten, live.priority = event.context, event.exten, event.priority
                live.app, live.data = event.app, event.data

    def after(self, event: NodeEvent) -> None:
        """Forget a channel once its Hangup has been shown."""
        if isinstance(event, Hangup):
            self._live.pop(event.channel.uniqueid, None)

    def get(self, channel: Channel) -> LiveChannel | None:
        return self._live.get(channel.uniqueid)

    def named(self, name: str) -> LiveChannel | None:
        """The newest live channel called *name* (names may be reused, uniqueids not)."""
        found = None
        for live in self._live.values():
            if live.channel.name == name:
                found = live
        return found

    def all(self) -> list[LiveChannel]:
        return list(self._live.values())

    def __len__(self) -> int:
        return len(self._live)


def channel_block(prefix: str, channel: Channel, live: LiveChannel | None,
                  channelvars: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """``ast_manager_build_channel_state_string_prefix``: the keys that describe a channel."""
    number, desc = STATES.get(channel.state, (0, "Down"))
    if live is None:
        live = LiveChannel(channel, linkedid=channel.uniqueid)
    block = [
        (f"{prefix}Channel", channel.name),
        (f"{prefix}ChannelState", str(number)),
        (f"{prefix}ChannelStateDesc", desc),
        (f"{prefix}CallerIDNum", channel.caller_num or UNKNOWN),
        (f"{prefix}CallerIDName", channel.caller_name or UNKNOWN),
        (f"{prefix}ConnectedLineNum", UNKNOWN),
        (f"{prefix}ConnectedLineName", UNKNOWN),
        (f"{prefix}Language", channel.language),
        (f"{prefix}AccountCode", channel.accountcode),
        (f"{prefix}Context", live.context),
        (f"{prefix}Exten", live.exten),
        (f"{prefix}Priority", str(live.priority)),
        (f"{prefix}Uniqueid", channel.uniqueid),
        (f"{prefix}Linkedid", live.linkedid),
    ]
    for name in channelvars:
        block.append((f"{prefix}ChanVariable", f"{name}={channel.variables.get(name, '')}"))
    return block
