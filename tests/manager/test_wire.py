"""The manager wire format: framing, headers, the replies' layout, the classes."""

from __future__ import annotations

import pytest

from pbxedge.events import Category
from pbxedge.manager.permissions import ALL, bit, event_mask, parse_classes, privilege
from pbxedge.manager.wire import (
    MAX_HEADERS,
    MAX_LINE,
    Message,
    MessageReader,
    OversizedMessage,
    encode,
    list_complete,
    response,
)


def test_messages_end_at_a_blank_line_whatever_the_chunks() -> None:
    reader = MessageReader()
    data = b"ActionID: 1\r\nAction: Ping\r\n\r\nAction: Logoff\r\n\r\n"
    messages = [m for i in range(len(data)) for m in reader.feed(data[i:i + 1])]
    assert [m.action for m in messages] == ["Ping", "Logoff"]
    assert messages[0].action_id == "1"  # any order, as panoramisk sorts its keys


def test_only_crlf_ends_a_line_and_keys_match_without_case() -> None:
    [message] = MessageReader().feed(b"action: Originate\r\nVARIABLE: a=1\r\n"
                                     b"Variable:b=2\nc=3\r\nData:   x\r\nnocolon\r\n\r\n")
    assert message.get("Action") == "Originate"
    assert message.get_all("variable") == ["a=1", "b=2\nc=3"]
    assert message.get("data") == "x"  # the blanks after the colon are not the value
    assert message.get("nocolon") == ""


def test_empty_lines_between_messages_are_ignored() -> None:
    assert MessageReader().feed(b"\r\n\r\nAction: Ping\r\n\r\n\r\n")[0].action == "Ping"


def test_oversized_lines_and_messages_are_refused() -> None:
    with pytest.raises(OversizedMessage):
        MessageReader().feed(b"A" * (MAX_LINE + 1))
    with pytest.raises(OversizedMessage):
        MessageReader().feed(b"X: " + b"y" * MAX_LINE + b"\r\n")
    with pytest.raises(OversizedMessage):
        MessageReader().feed(b"K: v\r\n" * (MAX_HEADERS + 1))


def test_replies_have_asterisks_layout() -> None:
    request = Message((("Action", "CoreShowChannels"), ("ActionID", "csc")))
    assert response(request, message="Channels will follow", list_start=True) == (
        b"Response: Success\r\nActionID: csc\r\nEventList: start\r\n"
        b"Message: Channels will follow\r\n\r\n")
    assert list_complete(request, "CoreShowChannelsComplete", 1) == (
        b"Event: CoreShowChannelsComplete\r\nActionID: csc\r\nEventList: Complete\r\n"
        b"ListItems: 1\r\n\r\n")
    anonymous = Message((("Action", "Ping"),))
    assert response(anonymous, "Error", "Permission denied") == (
        b"Response: Error\r\nMessage: Permission denied\r\n\r\n")
    assert encode([("AccountCode", "")]) == b"AccountCode: \r\n\r\n"  # the space stays


def test_classes_and_event_masks() -> None:
    assert parse_classes("system,call") == bit(Category.SYSTEM) | bit(Category.CALL)
    assert parse_classes("all") == ALL and parse_classes("none") == 0
    assert parse_classes("bogus") == 0
    assert event_mask("on") == ALL and event_mask("off") == 0
    assert event_mask("call,system") == bit(Category.CALL) | bit(Category.SYSTEM)
    assert event_mask("") is None
    assert privilege(bit(Category.CALL)) == "call,all"
    assert privilege(bit(Category.SYSTEM) | bit(Category.REPORTING)) == "system,reporting,all"
    assert privilege(0) == "<none>"
