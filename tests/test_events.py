"""The event bus and the manager form every event spells out."""

from __future__ import annotations

import logging

import pytest

from pbxedge.cdr.record import AmaFlags, CdrRecord, Disposition
from pbxedge.events import (
    Category,
    Cdr,
    DialBegin,
    DtmfEnd,
    EventBus,
    Hangup,
    NodeEvent,
    PeerStatus,
    Registry,
    UserEvent,
    VarSet,
)
from tests.dialplan.fakes import FakeChannel


def test_subscribers_hear_every_event_in_order_until_they_unsubscribe() -> None:
    bus = EventBus()
    assert not bus.active
    heard: list[tuple[str, str]] = []
    first = bus.subscribe(lambda e: heard.append(("first", e.name)))
    bus.subscribe(lambda e: heard.append(("second", e.name)))
    assert bus.active
    bus.publish(UserEvent("A"))
    first()
    bus.publish(UserEvent("B"))
    assert heard == [("first", "UserEvent"), ("second", "UserEvent"), ("second", "UserEvent")]


def test_a_failing_subscriber_is_logged_and_the_others_still_hear(
        caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    heard: list[NodeEvent] = []

    def broken(event: NodeEvent) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(heard.append)
    with caplog.at_level(logging.ERROR, logger="pbxedge.events"):
        bus.publish(UserEvent("X"))
    assert len(heard) == 1
    assert "event subscriber failed on UserEvent" in caplog.text


def test_channel_events_lead_with_their_channels_then_their_keys_in_asterisks_order() -> None:
    caller, dest = FakeChannel(name="IAX2/a-1"), FakeChannel(name="IAX2/b-2")
    begin = DialBegin(caller, dest, "b/600")
    assert begin.channels() == (("", caller), ("Dest", dest))
    assert begin.fields() == [("DialString", "b/600")]
    assert (begin.name, begin.category) == ("DialBegin", Category.CALL)
    assert Hangup(caller, 17).fields() == [("Cause", "17"), ("Cause-txt", "User busy")]
    assert Hangup(caller, 0).fields()[1] == ("Cause-txt", "Unknown")
    assert DtmfEnd(caller, "5", 100, "Sent").fields() == [
        ("Digit", "5"), ("DurationMs", "100"), ("Direction", "Sent")]
    assert VarSet(None, "G", "1").channels() == ()


def test_peer_and_registry_events_send_optional_keys_only_when_set() -> None:
    assert PeerStatus("phone1", "Registered", address="127.0.0.1").fields() == [
        ("ChannelType", "IAX2"), ("Peer", "IAX2/phone1"), ("PeerStatus", "Registered"),
        ("Address", "127.0.0.1")]
    assert PeerStatus("phone1", "Unregistered", cause="Expired").fields()[-1] == ("Cause", "Expired")
    assert Registry("regtest", "127.0.0.1:24569", "Registered").fields() == [
        ("ChannelType", "IAX2"), ("Username", "regtest"), ("Domain", "127.0.0.1:24569"),
        ("Status", "Registered")]


def test_cdr_event_keys_follow_cdr_manager() -> None:
    record = CdrRecord("", "5550100", "echo", "media", '"mclient" <5550100>', "IAX2/x-1", "",
                       "Echo", "", 1000.0, 1000.2, 1001.5, Disposition.ANSWERED,
                       AmaFlags.DOCUMENTATION, "1000.1")
    keys = [key for key, _ in Cdr(record).fields()]
    assert keys == ["AccountCode", "Source", "Destination", "DestinationContext", "CallerID",
                    "Channel", "DestinationChannel", "LastApplication", "LastData",
                    "StartTime", "AnswerTime", "EndTime", "Duration", "BillableSeconds",
                    "Disposition", "AMAFlags", "UniqueID", "UserField"]
    values = dict(Cdr(record).fields())
    assert (values["Duration"], values["BillableSeconds"]) == ("1", "1")
    assert values["Disposition"] == "ANSWERED" and values["AMAFlags"] == "DOCUMENTATION"
    unanswered = CdrRecord("", "1", "2", "c", "", "IAX2/y-2", "", "", "", 1000.0, None, 1002.0,
                           Disposition.NO_ANSWER, AmaFlags.DOCUMENTATION, "1000.2")
    assert dict(Cdr(unanswered).fields())["AnswerTime"] == ""
