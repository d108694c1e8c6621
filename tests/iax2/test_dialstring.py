"""Dial strings (iax2.md §8.1): parsing and filling in the peer's defaults."""

from __future__ import annotations

from typing import Any

import pytest

from pbxedge.iax2.accounts import PeerAccount
from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.dialstring import (
    DialDefaults,
    DialString,
    DialStringError,
    DialTarget,
    DialUnavailable,
    PeerRuntime,
    parse_dial_string,
    resolve_dial_target,
)
from pbxedge.iax2.enums import Cause


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IAX2/a-md5/600", DialString("a-md5", exten="600")),
        ("a-md5", DialString("a-md5")),
        ("iax2/md5peer/99", DialString("md5peer", exten="99")),
        (
            "IAX2/user:secret@example.com/100@ctx",
            DialString("example.com", username="user", secret="secret", exten="100", context="ctx"),
        ),
        ("IAX2/user:[outkey]@peer", DialString("peer", username="user", outkey="outkey")),
        (
            "IAX2/user:secret:[outkey]@example.com/${EXTEN}",
            DialString(
                "example.com", username="user", secret="secret", outkey="outkey", exten="${EXTEN}"
            ),
        ),
        (
            "IAX2/user:[outkey]:secret@example.com",
            DialString("example.com", username="user", secret="secret", outkey="outkey"),
        ),
        (
            "IAX2/user@192.0.2.1:4570/s@from/a",
            DialString(
                "192.0.2.1", port=4570, username="user", exten="s", context="from", options="a"
            ),
        ),
        ("IAX2/u:p@ss@host", DialString("host", username="u", secret="p@ss")),
        ("IAX2/u:a:b@host", DialString("host", username="u", secret="a:b")),
        ("IAX2/[2001:db8::1]:4570/100", DialString("2001:db8::1", port=4570, exten="100")),
        ("IAX2/2001:db8::1/100", DialString("2001:db8::1", exten="100")),
        ("IAX2/peer//a", DialString("peer", options="a")),
    ],
)
def test_parse_dial_string(text: str, expected: DialString) -> None:
    assert parse_dial_string(text) == expected


@pytest.mark.parametrize("text", ["IAX2/", "IAX2/user@/100", "IAX2/host:99999", "host:x"])
def test_bad_dial_strings(text: str) -> None:
    with pytest.raises(DialStringError):
        parse_dial_string(text)


def test_autoanswer_option() -> None:
    assert parse_dial_string("IAX2/peer/100/a").autoanswer
    assert not parse_dial_string("IAX2/peer/100").autoanswer


def make_peer(name: str, **fields: Any) -> PeerAccount:
    return PeerAccount(name=name, **fields)


DEFAULTS = DialDefaults(encryption=False, force_encryption=False,
                       capability=Codec.ULAW | Codec.ALAW, prefs=(Codec.ULAW, Codec.ALAW))
PEERS = {
    p.name: p
    for p in [
        # instance B's [a-md5] and [a-enc]
        make_peer(
            "a-md5",
            host="127.0.0.1",
            port=4570,
            username="md5peer",
            secrets=("md5secret",),
            prefs=(Codec.ULAW,),
            capability=Codec.ULAW,
        ),
        make_peer(
            "a-enc",
            host="127.0.0.1",
            port=4570,
            username="encpeer",
            secrets=("encsecret",),
            encryption=True,
            force_encryption=True,
        ),
        make_peer(
            "a-rsa",
            host="127.0.0.1",
            port=4570,
            username="rsapeer",
            outkey="iaxpeer",
            peercontext="remote",
            trunk=True,
            sendani=True,
        ),
        # instance A's md5peer: dynamic, qualified
        make_peer("md5peer", dynamic=True, secrets=("md5secret",), qualify_ms=2000),
        make_peer("fallback", dynamic=True, defaultip="192.0.2.5", port=4571),
        make_peer("dbpeer", host="192.0.2.6", dbsecret="iax/dbpeer"),
    ]
}
REGISTERED = {"md5peer": PeerRuntime(("127.0.0.1", 4571), lastms=3)}


def runtime(name: str) -> PeerRuntime:
    return REGISTERED.get(name, PeerRuntime())


def resolve(text: str, **kwargs: Any) -> DialTarget | DialUnavailable:
    kwargs.setdefault("runtime", runtime)
    return resolve_dial_target(parse_dial_string(text), PEERS, DEFAULTS, **kwargs)


def target(text: str, **kwargs: Any) -> DialTarget:
    result = resolve(text, **kwargs)
    assert isinstance(result, DialTarget)
    return result


def test_peer_defaults_fill_in() -> None:
    t = target("IAX2/a-md5/600")
    assert (t.host, t.port, t.exten, t.context) == ("127.0.0.1", 4570, "600", None)
    assert (t.username, t.secret, t.outkey, t.peer_name) == ("md5peer", "md5secret", None, "a-md5")
    assert (t.capability, t.prefs, t.encryption) == (Codec.ULAW, (Codec.ULAW,), 0)
    assert "md5secret" not in repr(t)


def test_dial_string_overrides_peer() -> None:
    t = target("IAX2/other:pw:[k]@a-rsa:4599/1@ctx/a")
    assert (t.username, t.secret, t.outkey, t.port, t.context) == ("other", "pw", "k", 4599, "ctx")
    assert t.autoanswer


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("IAX2/a-rsa", "exten", "s"),
        ("IAX2/a-rsa", "context", "remote"),
        ("IAX2/a-rsa", "outkey", "iaxpeer"),
        ("IAX2/a-rsa", "trunk", True),
        ("IAX2/a-rsa", "sendani", True),
        ("IAX2/a-enc", "encryption", 0x8001),
        ("IAX2/a-enc", "force_encryption", True),
        ("IAX2/md5peer/99", "host", "127.0.0.1"),
        ("IAX2/md5peer/99", "port", 4571),
        ("IAX2/fallback", "host", "192.0.2.5"),
        ("IAX2/fallback", "port", 4571),
        # unknown name: a host, with [general]'s codecs and port 4569
        ("IAX2/pbx.example.com/100", "port", 4569),
        ("IAX2/pbx.example.com/100", "peer_name", None),
        ("IAX2/pbx.example.com/100", "prefs", (Codec.ULAW, Codec.ALAW)),
        ("IAX2/pbx.example.com/100", "secret", None),
    ],
)
def test_resolved_fields(text: str, field: str, value: object) -> None:
    assert getattr(target(text), field) == value


def test_unregistered_dynamic_peer_is_unavailable() -> None:
    result = resolve("IAX2/md5peer/99", runtime=lambda name: PeerRuntime())
    assert isinstance(result, DialUnavailable)
    assert result.cause == Cause.SUBSCRIBER_ABSENT and "not registered" in result.reason


@pytest.mark.parametrize(
    ("lastms", "outcome"), [(3, "ok"), (0, "ok"), (2500, "lagged"), (-1, "down")]
)
def test_qualify_state(lastms: int, outcome: str) -> None:
    state = PeerRuntime(("127.0.0.1", 4571), lastms)
    result = resolve("IAX2/md5peer/99", runtime=lambda name: state)
    if outcome == "down":
        assert isinstance(result, DialUnavailable) and "UNREACHABLE" in result.reason
        assert result.cause == Cause.SUBSCRIBER_ABSENT
    else:
        assert isinstance(result, DialTarget) and result.lagged is (outcome == "lagged")


def test_dbsecret_comes_from_the_resolver() -> None:
    store = {("iax", "dbpeer"): "fromdb"}
    assert target("IAX2/dbpeer", secret_resolver=lambda f, k: store.get((f, k))).secret == "fromdb"
    assert target("IAX2/dbpeer").secret is None
