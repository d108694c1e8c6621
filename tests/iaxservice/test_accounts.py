"""What a matched user gives the call, dbsecret, and dialling peers by their qualify state."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from dialplan.dialer import DialResult, DialStatus
from pbxedge.iax2.dialstring import PeerRuntime
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
