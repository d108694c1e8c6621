"""What a matched user gives the call, dbsecret, dialling peers by their qualify state, and\nhow iax.conf maps onto the accounts the protocol core decides about."""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path

import pytest
import trio

from dialplan.dialer import DialResult, DialStatus
from pbxedge.config.diagnostics import Severity
from pbxedge.config.iax_build import build_iax_config
from pbxedge.config.iax_models import IaxConfig
from pbxedge.config.loader import parse_config_text
from pbxedge.iax2.accounts import PeerAccount, UserAccount
from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.dialstring import DialDefaults, PeerRuntime
from pbxedge.iax2.enums import IaxSubclass
from pbxedge.iaxservice.accounts import (
    dial_defaults,
    peer_account,
    peer_accounts,
    token_policy,
    user_account,
    user_accounts,
)
from pbxedge.iaxservice.peers import StaticPeerDirectory
from pbxedge.keys import KeyStore
from pbxedge.store import Store
from tests.dialplan.fakes import FakeChannel
from tests.iaxservice.stacks import (
    CALLEE_EXTENSIONS,
    CALLER_EXTENSIONS,
    Stack,
    build_stack,
    callee_iax_conf,
    caller_iax_conf,
    free_udp_port,
    running,
)

RICH_USER = """
[rich]
type = user
secret = richsecret
context = from-iax
setvar = TEAM=blue
language = fr
accountcode = acct7
amaflags = billing
callerid = "Front Desk" <(555) 123-4567>

[fromdb]
type = user
dbsecret = secrets/fromdb
context = from-iax
"""


def _caller(callee: Stack, extra: str) -> Stack:
    return build_stack(caller_iax_conf(free_udp_port(), callee.port,
                                       extra=extra.replace("{a}", str(callee.port))),
                       CALLER_EXTENSIONS, KeyStore([]))


async def test_the_user_sets_variables_language_account_and_callerid(
    autojump_clock: object,
) -> None:
    callee = build_stack(callee_iax_conf(free_udp_port(), extra=RICH_USER), CALLEE_EXTENSIONS,
                         KeyStore([]))
    caller = _caller(callee, "[a-rich]\ntype=peer\nhost=127.0.0.1\nport={a}\nusername=rich\n"
                             "secret=richsecret\n")
    async with running(callee, caller) as nursery:
        nursery.start_soon(caller.calls.dialer.dial, FakeChannel(caller_num="999"),
                           ["IAX2/a-rich/600"], 30, "")
        while not callee.calls.channels():
            await trio.sleep(0.01)
        ((channel, _),) = callee.calls.channels()
        assert channel.variables["TEAM"] == "blue"
        assert (channel.language, channel.accountcode, channel.amaflags) == ("fr", "acct7",
                                                                             "billing")
        # The user's callerid replaces the caller's 999, shrunk like Asterisk's default.
        assert (channel.caller_name, channel.caller_num) == ("Front Desk", "5551234567")
        nursery.cancel_scope.cancel()


async def test_dbsecret_fails_closed_then_works_once_stored(
    tmp_path: Path, autojump_clock: object,
) -> None:
    store, _ = Store.open(tmp_path / "state.sqlite3")
    with store:
        callee = build_stack(callee_iax_conf(free_udp_port(), extra=RICH_USER),
                             CALLEE_EXTENSIONS, KeyStore([]), store=store)
        caller = _caller(callee, "[a-db]\ntype=peer\nhost=127.0.0.1\nport={a}\n"
                                 "username=fromdb\nsecret=dbvalue\n")
        async with running(callee, caller):
            missing = await caller.calls.dialer.dial(FakeChannel(), ["IAX2/a-db/607"], 30, "")
            store.db_put("secrets", "fromdb", "dbvalue")
            present = await caller.calls.dialer.dial(FakeChannel(), ["IAX2/a-db/607"], 30, "")
    assert missing == DialResult(DialStatus.CHANUNAVAIL, 50)
    assert present == DialResult(DialStatus.ANSWER, 21)


class QualifiedDirectory(StaticPeerDirectory):
    """The configured addresses, with qualify figures a test chooses."""

    lastms = 0

    def runtime(self, peer: str) -> PeerRuntime:
        return PeerRuntime(address=self.address_of(peer), lastms=self.lastms)


async def test_lagged_peers_are_dialled_unreachable_ones_are_not(
    autojump_clock: object, caplog: pytest.LogCaptureFixture,
) -> None:
    callee = build_stack(callee_iax_conf(free_udp_port()), CALLEE_EXTENSIONS, KeyStore([]))
    caller = _caller(callee, "[a-q]\ntype=peer\nhost=127.0.0.1\nport={a}\nusername=md5peer\n"
                             "secret=md5secret\nqualify=yes\n")
    directory = QualifiedDirectory(caller.calls.config)
    caller.calls.peers = directory
    async with running(callee, caller):
        directory.lastms = 5000  # LAGGED: over qualify=yes's 2000 ms
        lagged = await caller.calls.dialer.dial(FakeChannel(), ["IAX2/a-q/607"], 30, "")
        directory.lastms = -1  # UNREACHABLE
        unreachable = await caller.calls.dialer.dial(FakeChannel(), ["IAX2/a-q/607"], 30, "")
    assert lagged == DialResult(DialStatus.ANSWER, 21)
    assert unreachable == DialResult(DialStatus.CHANUNAVAIL, 20)
    assert any("LAGGED" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


# -- iax.conf mapped onto the core's parameters ------------------------------------------

MAPPED_CONF = """
[general]
encryption = yes
disallow = all
allow = ulaw
allow = gsm
calltokenoptional = 10.0.0.0/8

[roamer]
type = friend
host = dynamic
auth = md5,rsa
secret = roamsecret
secret = second
dbsecret = iax/roamer
inkeys = iaxpeer:iaxtest
deny = 0.0.0.0/0.0.0.0
permit = 10.0.0.0/8
defaultip = 192.0.2.5
port = 4571
context = from-iax
context = lan
forceencryption = yes
requirecalltoken = no

[trunk]
type = peer
host = 192.0.2.7
mask = 255.255.255.0
username = trunkuser
outkey = iaxpeer
peercontext = remote
encryption = yes
trunk = yes
sendani = yes
disallow = all
allow = alaw
allow = ulaw
qualify = yes
requirecalltoken = auto
"""
# Core field -> the option it comes from, where the names differ.
OPTION_OF = {"force_encryption": "forceencryption", "secrets": "secret"}


def _mapped_config() -> IaxConfig:
    config, problems = build_iax_config(parse_config_text(MAPPED_CONF, "iax.conf"))
    assert [p for p in problems if p.severity is Severity.ERROR] == []
    return config


def _as_core(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def test_every_core_account_field_comes_from_its_option() -> None:
    config = _mapped_config()
    user = config.users["roamer"]
    assert user_account(user) == UserAccount(
        name="roamer", auth=user.auth, secrets=("roamsecret", "second"), dbsecret="iax/roamer",
        inkeys=("iaxpeer", "iaxtest"), acl=user.acl, contexts=("from-iax", "lan"))
    accounts = [peer_account(peer) for peer in config.peers.values()]
    for peer, account in zip(config.peers.values(), accounts, strict=True):
        assert account.secrets == ((peer.secret,) if peer.secret else ())
        for field in fields(PeerAccount):
            if field.name != "secrets":
                expected = _as_core(getattr(peer, OPTION_OF.get(field.name, field.name)))
                assert getattr(account, field.name) == expected, field.name
    # Each field differs from its default in one of the peers, so none can be left unmapped.
    defaults = PeerAccount(name="")
    for field in fields(PeerAccount):
        assert any(getattr(a, field.name) != getattr(defaults, field.name) for a in accounts), (
            field.name)


def test_views_map_a_section_only_when_it_is_read() -> None:
    config = _mapped_config()
    users, peers = user_accounts(config), peer_accounts(config)
    assert list(peers) == ["roamer", "trunk"] and len(users) == 1
    assert "trunk" in peers and "nobody" not in peers and peers.get("nobody") is None
    assert peers["trunk"] == peer_account(config.peers["trunk"])
    assert peers["trunk"] is not peers["trunk"]  # built per read, never stored
    with pytest.raises(KeyError):
        users["trunk"]


def test_general_settings_reach_dialling_and_the_token_policy() -> None:
    config = _mapped_config()
    assert dial_defaults(config.general) == DialDefaults(
        encryption=True, force_encryption=False, capability=Codec.ULAW | Codec.GSM,
        prefs=(Codec.ULAW, Codec.GSM))
    policy = token_policy(config)
    outside, inside = ("192.0.2.1", 4569), ("10.1.2.3", 4569)
    assert not policy.required(IaxSubclass.NEW, "roamer", outside)  # the user's "no"
    assert not policy.required(IaxSubclass.REGREQ, "trunk", outside)  # the peer's "auto"
    assert policy.required(IaxSubclass.NEW, "trunk", outside)  # no such user: the default
    assert not policy.required(IaxSubclass.NEW, "trunk", inside)  # calltokenoptional
