"""What a phone box tells the rest of the node, on the node's event bus.

Each step is logged by the box already; subscribers (the manager interface, a test) get the
same facts as events without reaching into the box's state. Manager clients receive them
as ``PhoneBoxAlarm`` and ``PhoneBoxTest`` (class ``system``), keys in this order::

    Event: PhoneBoxAlarm          Event: PhoneBoxTest
    Box: lift                     Box: lift
    BoxID: 42                     BoxID: 42
    Location: Building A, lift 2  Result: Pass
    Status: Calling               Detail: tone heard (-12 dBFS)
    Target: IAX2/lobby/100
    Attempts: 1
    Elapsed: 3
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pbxedge.events import Category, Fields, NodeEvent

__all__ = ["AlarmStatus", "PhoneBoxAlarm", "PhoneBoxTest"]


class AlarmStatus(StrEnum):
    STARTED = "Started"  # the button was pressed
    RESUMED = "Resumed"  # the node started again with the alarm still pending
    CALLING = "Calling"  # a target is being dialled
    ANSWERED = "Answered"  # it answered; waiting for the acknowledgement digit
    NOT_ACKNOWLEDGED = "NotAcknowledged"  # it answered without acknowledging: next target
    ACKNOWLEDGED = "Acknowledged"  # a person there took the alarm: closed
    GIVEN_UP = "GivenUp"  # alarm_give_up ran out: closed without anyone


@dataclass(frozen=True, slots=True)
class PhoneBoxAlarm(NodeEvent):
    """A step of a box's alarm: *attempts* calls so far, *elapsed* seconds since the press."""

    name = "PhoneBoxAlarm"
    category = Category.SYSTEM
    box: str
    box_id: str
    location: str
    status: AlarmStatus
    target: str = ""
    attempts: int = 0
    elapsed: float = 0.0

    def fields(self) -> Fields:
        return [("Box", self.box), ("BoxID", self.box_id), ("Location", self.location),
                ("Status", self.status.value), ("Target", self.target),
                ("Attempts", str(self.attempts)), ("Elapsed", f"{self.elapsed:.0f}")]


@dataclass(frozen=True, slots=True)
class PhoneBoxTest(NodeEvent):
    """The outcome of a box's periodic self test."""

    name = "PhoneBoxTest"
    category = Category.SYSTEM
    box: str
    box_id: str
    passed: bool
    detail: str

    def fields(self) -> Fields:
        return [("Box", self.box), ("BoxID", self.box_id),
                ("Result", "Pass" if self.passed else "Fail"), ("Detail", self.detail)]
