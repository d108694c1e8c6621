"""What the alarm and the self test of one box work with."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pbxedge.channels.dial import Dialer
from pbxedge.phonebox.events import BoxEvent, BoxEvents
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
    events: BoxEvents
    location: LocationPrompt
    clock: Callable[[], float] = field(default=time.time)  # unix time, for the records

    @property
    def caller_name(self) -> str | None:
        """The desk's display shows where the alarm comes from."""
        return self.config.location or self.phone.config.callerid_name

    @property
    def caller_num(self) -> str | None:
        return self.config.box_id or self.phone.config.callerid_num

    def emit(self, name: str, **fields: object) -> None:
        self.events.emit(BoxEvent(name, self.name, {k: str(v) for k, v in fields.items()},
                                  self.clock()))
