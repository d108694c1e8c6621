"""What a phone box tells the rest of the node: events anyone may subscribe to.

Each event is logged by the box already; subscribers (the manager interface, a test) get
the same facts as a :class:`BoxEvent` without reaching into the box's state. A subscriber
that raises is logged and kept; it cannot stop the box or the other subscribers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["BoxEvent", "BoxEvents"]

logger = logging.getLogger("pbxedge.phonebox")


@dataclass(frozen=True)
class BoxEvent:
    """``name`` is one of: AlarmStarted, AlarmResumed, AlarmCalling, AlarmAnswered,
    AlarmNotAcknowledged, AlarmAcknowledged, AlarmGivenUp, SelfTest (``Result`` Pass or
    Fail)."""

    name: str
    box: str
    fields: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


Subscriber = Callable[[BoxEvent], None]


class BoxEvents:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call *subscriber* with every event from now on; returns the unsubscribe."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def emit(self, event: BoxEvent) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                logger.exception("phone box event subscriber failed on %s", event.name)
