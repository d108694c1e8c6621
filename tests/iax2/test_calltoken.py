"""Call tokens: format, binding to the source address, expiry window."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from pbxedge.iax2.calltoken import CallTokenIssuer

ADDR = ("192.0.2.7", 4569)
KEY = b"k" * 32


def test_token_format_is_seconds_question_mark_sha256_hex() -> None:
    token = CallTokenIssuer(KEY).issue(ADDR, 1_795_757_003.9)
    assert re.fullmatch(r"1795757003\?[0-9a-f]{64}", token)


def test_same_second_and_address_give_the_same_token() -> None:
    issuer = CallTokenIssuer(KEY)
    assert issuer.issue(ADDR, 100.1) == issuer.issue(ADDR, 100.9)


def test_valid_within_expiration_only() -> None:
    issuer = CallTokenIssuer(KEY, expiration=10.0)
    token = issuer.issue(ADDR, 1000.0)
    assert issuer.validate(token, ADDR, 1000.0)
    assert issuer.validate(token, ADDR, 1009.99)
    assert not issuer.validate(token, ADDR, 1010.0)
    assert not issuer.validate(token, ADDR, 999.0)  # from the future


def test_bound_to_ip_and_port_and_key() -> None:
    issuer = CallTokenIssuer(KEY)
    token = issuer.issue(ADDR, 50.0)
    assert not issuer.validate(token, ("192.0.2.8", 4569), 50.0)
    assert not issuer.validate(token, ("192.0.2.7", 4570), 50.0)
    assert not CallTokenIssuer(b"other key").validate(token, ADDR, 50.0)


def test_tampered_timestamp_is_refused() -> None:
    issuer = CallTokenIssuer(KEY)
    token = issuer.issue(ADDR, 50.0)
    forged = "51" + token[2:]
    assert not issuer.validate(forged, ADDR, 55.0)


def test_overlong_token_is_refused() -> None:
    issuer = CallTokenIssuer(KEY)
    assert not issuer.validate("1?" + "a" * 300, ADDR, 1.0)


@given(st.text(max_size=300))
def test_garbage_never_validates_and_never_raises(token: str) -> None:
    assert not CallTokenIssuer(KEY).validate(token, ADDR, 1_000_000.0)
