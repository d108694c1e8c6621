"""The control socket's framing."""

from __future__ import annotations

import pytest

from pbxedge.control.protocol import (
    MAX_REQUEST_BYTES,
    ConsoleBusy,
    ProtocolError,
    decode_request,
    encode_refusal,
    encode_request,
    encode_response,
    parse_response_header,
)


def test_request_is_one_line() -> None:
    assert encode_request("iax2 show peers") == b"iax2 show peers\n"
    with pytest.raises(ProtocolError):
        encode_request("two\nlines")
    with pytest.raises(ProtocolError):
        encode_request("x" * MAX_REQUEST_BYTES)


def test_response_is_length_prefixed_utf8() -> None:
    assert encode_response("héllo\n") == b"7\nh\xc3\xa9llo\n"
    assert encode_response("") == b"0\n"
    assert encode_response("/var/\udcff\n") == b"7\n/var/?\n"


def test_header_parsing_rejects_garbage() -> None:
    assert parse_response_header(b"42") == 42
    for bad in (b"", b"-1", b"abc", b"9" * 40, b"99999999999"):
        with pytest.raises(ProtocolError):
            parse_response_header(bad)


def test_bad_utf8_request_is_replaced_not_raised() -> None:
    assert decode_request(b"core \xff show\r") == "core \ufffd show"


def test_a_refusal_stands_in_for_the_header_and_carries_its_reason() -> None:
    line = encode_refusal("console busy: 64 clients connected")
    assert line == b"!console busy: 64 clients connected\n"
    with pytest.raises(ConsoleBusy) as busy:
        parse_response_header(line.rstrip(b"\n"))
    assert str(busy.value) == "console busy: 64 clients connected"
