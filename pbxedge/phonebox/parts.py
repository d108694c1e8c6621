"""What the alarm and the self test of one box work with."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pbxedge.channels.dial import Dialer
from pbxedge.events import EventBus
from pbxedge.phonebox.events import AlarmStatus, PhoneBoxAlarm, PhoneBoxTest
from pbxedge.phonebox.location import LocationPrompt
from pbxedge.phones.config import BoxConfig
from pbxedge.phones.phone import LocalPhone
from pbxedge.store import Store

__all__ = ["BoxParts"]

logger = logging.getLogger("pbxedge.phonebox")


@dataclass
class BoxParts:
    name: str
    config: BoxConfig
    phone: LocalPhone
    dialer: Dialer
    store: Store
    events: EventBus  # the node's
    location: LocationPrompt
    clock: Callable[[], float] = field(default=time.time)  # unix time, for the records

    @property
    def caller_name(self) -> str | None:
        """The desk's display shows where the alarm comes from."""
        return self.config.location or self.phone.config.callerid_name

    @property
    def caller_num(self) -> str | None:
        return self.config.box_id or self.phone.config.callerid_num

    def alarm_event(self, status: AlarmStatus, *, started_at: float, attempts: int,
                    target: str = "") -> None:
        if self.events.active:
            self.events.publish(PhoneBoxAlarm(
                self.name, self.config.box_id, self.config.location, status, target, attempts,
                max(0.0, self.clock() - started_at)))

    def test_event(self, passed: bool, detail: str) -> None:
        if self.events.active:
            self.events.publish(PhoneBoxTest(self.name, self.config.box_id, passed, detail))
