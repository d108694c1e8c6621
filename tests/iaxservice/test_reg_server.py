"""The registrar side, branch by branch, as a hand-driven client sees it on the wire."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
import trio.testing

from pbxedge.iax2.crypto import rsa_sign
from pbxedge.iax2.enums import IE, IaxSubclass
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList
from pbxedge.keys import KeyStore, keygen_main
from tests.iaxservice.reg_stack import RawPeer, free_udp_port, load_config, running_node
from tests.logcheck import FORGED, NOT_UTF8, checked_lines, node_log

PEERS = """
[md5peer]
type = friend
host = dynamic
auth = md5
secret = md5secret
callerid = "MD5 Peer" <1001>
mailbox = 1001@default

[plainpeer]
type = peer
host = dynamic
auth = plaintext
secret = plainsecret

[rsapeer]
type = peer
host = dynamic
auth = rsa
inkeys = regkey

[opendoor]
type = peer
host = dynamic

[staticpeer]
type = peer
host = 127.0.0.1
port = 4999
secret = staticsecret

[onlyuser]
type = user
secret = usersecret
"""


def _conf(port: int, general: str = "") -> str:
    return (
        f"[general]\nbindport = {port}\nbindaddr = 127.0.0.1\nminregexpire = 60\n"
        f"maxregexpire = 3600\nregcontext = iaxregistrations\n{general}\n{PEERS}"
    )


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = _Lines()
    logger = logging.getLogger("pbxedge")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    assert keygen_main(["--dir", str(tmp_path / "keys"), "regkey"]) == 0
    store, problems = KeyStore.load(tmp_path / "keys")
    assert not problems
    return store


def _regreq(user: str, refresh: int = 60) -> IEList:
    return IEList().add_str(IE.USERNAME, user).add_u16(IE.REFRESH, refresh)


def _md5(challenge: FullFrame, secret: str) -> str:
    text = challenge.ies().get_str(IE.CHALLENGE)
    assert text is not None
    return hashlib.md5((text + secret).encode()).hexdigest()


def _ie_ids(frame: FullFrame) -> list[int]:
    return [ie for ie, _ in frame.ies()]


async def _md5_exchange(peer: RawPeer, user: str, secret: str, refresh: int = 60,
                        subclass: IaxSubclass = IaxSubclass.REGREQ) -> FullFrame:
    challenge = await peer.request(subclass, _regreq(user, refresh))
    assert challenge.iax_subclass is IaxSubclass.REGAUTH
    ies = _regreq(user, refresh).add_str(IE.MD5_RESULT, _md5(challenge, secret))
    return await peer.answer(challenge, subclass, ies.add_empty(IE.CALLTOKEN))


def _assert_refused(verdict: FullFrame) -> None:
    assert verdict.iax_subclass is IaxSubclass.REGREJ
    ies = verdict.ies()
    assert ies.get_str(IE.CAUSE) == "Registration Refused"
    assert ies.get_u8(IE.CAUSECODE) == 29


async def test_md5_registration_gets_a_full_regack(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, log_lines: list[str]
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    async with running_node(config) as node, RawPeer.open(("127.0.0.1", node.port)) as peer:
        challenge = await peer.request(IaxSubclass.REGREQ, _regreq("md5peer"))
        ies = challenge.ies()
        assert ies.get_u16(IE.AUTHMETHODS) == 2
        assert len(ies.get_str(IE.CHALLENGE) or "") == 9
        assert ies.get_str(IE.USERNAME) == "md5peer"
        answer = _regreq("md5peer").add_str(IE.MD5_RESULT, _md5(challenge, "md5secret"))
        ack = await peer.answer(challenge, IaxSubclass.REGREQ, answer.add_empty(IE.CALLTOKEN))
        assert ack.iax_subclass is IaxSubclass.REGACK
        assert _ie_ids(ack) == [IE.USERNAME, IE.DATETIME, IE.REFRESH, IE.APPARENT_ADDR,
                                IE.MSGCOUNT, IE.CALLING_NUMBER, IE.CALLING_NAME]
        got = ack.ies()
        assert got.get_u16(IE.REFRESH) == 60
        assert got.get_addr(IE.APPARENT_ADDR) == ("127.0.0.1", peer.port)
        assert got.get_str(IE.CALLING_NUMBER) == "1001"
        assert got.get_str(IE.CALLING_NAME) == "MD5 Peer"
        assert node.reg.address_of("md5peer") == ("127.0.0.1", peer.port)
        assert node.reg.peer_at(("127.0.0.1", peer.port)) == "md5peer"
        assert node.engine.plan.exists("iaxregistrations", "md5peer")
        port = peer.port
    assert f"Registered IAX2 'md5peer' (AUTHENTICATED) at 127.0.0.1:{port}" in log_lines


@pytest.mark.parametrize(("requested", "granted"), [(5, 60), (600, 600), (65000, 3600)])
async def test_refresh_is_clamped(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, requested: int, granted: int
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    async with running_node(config) as node, RawPeer.open(("127.0.0.1", node.port)) as peer:
        ack = await _md5_exchange(peer, "md5peer", "md5secret", requested)
        assert ack.ies().get_u16(IE.REFRESH) == granted
        assert node.reg.registrar.expires_in("md5peer", trio.current_time()) == granted


@pytest.mark.parametrize(
    ("user", "why"),
    [
        ("nosuchpeer", "no such peer 'nosuchpeer'"),
        ("staticpeer", "peer 'staticpeer' is not dynamic"),
        ("onlyuser", "no such peer 'onlyuser'"),
        ("md5peer", "bad secret"),
    ],
)
async def test_refusals_use_a_challenge_then_regrej_and_say_why(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, log_lines: list[str],
    user: str, why: str,
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    async with running_node(config) as node, RawPeer.open(("127.0.0.1", node.port)) as peer:
        challenge = await peer.request(IaxSubclass.REGREQ, _regreq(user))
        # Unknown names get the same REGAUTH as real ones: nothing to enumerate.
        assert challenge.iax_subclass is IaxSubclass.REGAUTH
        assert challenge.ies().get_u16(IE.AUTHMETHODS) == 2
        answer = _regreq(user).add_str(IE.MD5_RESULT, _md5(challenge, "wrong"))
        _assert_refused(await peer.answer(challenge, IaxSubclass.REGREQ, answer))
        assert node.reg.address_of(user) in (None, ("127.0.0.1", 4999))
    assert any(why in line and "refused" in line for line in log_lines), log_lines


@pytest.mark.parametrize(("username", "shown"), [
    (NOT_UTF8, "\\xff" * 19 + "..."),
    (FORGED, "\\x0a[2026-12-02 09:00:00] NOTICE[1] reg_server.py: Registration from 'admin' ..."),
], ids=["not-utf8", "forged-line"])
async def test_hostile_usernames_are_logged_escaped(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, username: str, shown: str,
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    with node_log(tmp_path / "pbxedge.log") as path:
        async with running_node(config) as node, \
                RawPeer.open(("127.0.0.1", node.port)) as peer:
            challenge = await peer.request(IaxSubclass.REGREQ, _regreq(username))
            answer = _regreq(username).add_str(IE.MD5_RESULT, _md5(challenge, "wrong"))
            _assert_refused(await peer.answer(challenge, IaxSubclass.REGREQ, answer))
            port = peer.port
        (line,) = checked_lines(path.read_bytes())
    assert line.endswith(f": Registration (REGREQ) of '{shown}' from 127.0.0.1:{port} "
                         f"refused: no such peer '{shown}'")


async def test_wrong_secret_floods_are_summarised(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, log_lines: list[str],
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    async with running_node(config) as node, RawPeer.open(("127.0.0.1", node.port)) as peer:
        for _ in range(30):
            challenge = await peer.request(IaxSubclass.REGREQ, _regreq("md5peer"))
            answer = _regreq("md5peer").add_str(IE.MD5_RESULT, _md5(challenge, "wrong"))
            _assert_refused(await peer.answer(challenge, IaxSubclass.REGREQ, answer))
            peer.scall += 1
        await trio.sleep(11)  # the guessing has stopped; its count still reaches the log
        assert log_lines == [
            f"Registration (REGREQ) of 'md5peer' from 127.0.0.1:{peer.port} refused: "
            "bad secret (MD5 response matches none of 1 secret(s))",
            "Refused REGREQ from 127.0.0.1 repeated 29 times in the last 10 s",
        ]


async def test_plaintext_registration(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    async with running_node(config) as node, RawPeer.open(("127.0.0.1", node.port)) as peer:
        challenge = await peer.request(IaxSubclass.REGREQ, _regreq("plainpeer"))
        assert challenge.ies().get_u16(IE.AUTHMETHODS) == 1
        assert not challenge.ies().has(IE.CHALLENGE)
        answer = _regreq("plainpeer").add_str(IE.PASSWORD, "plainsecret")
        ack = await peer.answer(challenge, IaxSubclass.REGREQ, answer)
        assert ack.iax_subclass is IaxSubclass.REGACK
        # No mailbox and no callerid: neither MSGCOUNT nor caller ID.
        assert _ie_ids(ack) == [IE.USERNAME, IE.DATETIME, IE.REFRESH, IE.APPARENT_ADDR]
        assert node.reg.address_of("plainpeer") == ("127.0.0.1", peer.port)


async def test_plaintext_wrong_password_is_refused(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    async with running_node(config) as node, RawPeer.open(("127.0.0.1", node.port)) as peer:
        challenge = await peer.request(IaxSubclass.REGREQ, _regreq("plainpeer"))
        answer = _regreq("plainpeer").add_str(IE.PASSWORD, "guess")
        _assert_refused(await peer.answer(challenge, IaxSubclass.REGREQ, answer))
        assert node.reg.address_of("plainpeer") is None


async def test_rsa_registration(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, keys: KeyStore
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    private = keys.private("regkey")
    assert private is not None
    async with running_node(config, keys=keys) as node, \
            RawPeer.open(("127.0.0.1", node.port)) as peer:
        challenge = await peer.request(IaxSubclass.REGREQ, _regreq("rsapeer"))
        assert challenge.ies().get_u16(IE.AUTHMETHODS) == 4
        text = challenge.ies().get_str(IE.CHALLENGE) or ""
        answer = _regreq("rsapeer").add_str(IE.RSA_RESULT, rsa_sign(private, text))
        ack = await peer.answer(challenge, IaxSubclass.REGREQ, answer)
        assert ack.iax_subclass is IaxSubclass.REGACK
        assert node.reg.address_of("rsapeer") == ("127.0.0.1", peer.port)


async def test_rsa_signature_over_another_challenge_is_refused(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, keys: KeyStore
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    private = keys.private("regkey")
    assert private is not None
    async with running_node(config, keys=keys) as node, \
            RawPeer.open(("127.0.0.1", node.port)) as peer:
        challenge = await peer.request(IaxSubclass.REGREQ, _regreq("rsapeer"))
        answer = _regreq("rsapeer").add_str(IE.RSA_RESULT, rsa_sign(private, "123456789"))
        _assert_refused(await peer.answer(challenge, IaxSubclass.REGREQ, answer))
        assert node.reg.address_of("rsapeer") is None


async def test_peer_without_secret_is_registered_without_challenge(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, log_lines: list[str]
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    async with running_node(config) as node, RawPeer.open(("127.0.0.1", node.port)) as peer:
        ack = await peer.request(IaxSubclass.REGREQ, _regreq("opendoor"))
        assert ack.iax_subclass is IaxSubclass.REGACK
        assert node.reg.address_of("opendoor") == ("127.0.0.1", peer.port)
        port = peer.port
    assert f"Registered IAX2 'opendoor' (UNAUTHENTICATED) at 127.0.0.1:{port}" in log_lines


async def test_regrel_is_an_authenticated_unregister(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    async with running_node(config) as node:
        async with RawPeer.open(("127.0.0.1", node.port), scall=100) as peer:
            assert (await _md5_exchange(peer, "md5peer", "md5secret")).iax_subclass is \
                IaxSubclass.REGACK
        assert node.engine.plan.exists("iaxregistrations", "md5peer")
        async with RawPeer.open(("127.0.0.1", node.port), scall=200) as peer:
            wrong = await _md5_exchange(peer, "md5peer", "nope", subclass=IaxSubclass.REGREL)
            _assert_refused(wrong)
        assert node.reg.address_of("md5peer") is not None
        async with RawPeer.open(("127.0.0.1", node.port), scall=300) as peer:
            ack = await _md5_exchange(peer, "md5peer", "md5secret", subclass=IaxSubclass.REGREL)
            assert ack.iax_subclass is IaxSubclass.REGACK
        assert node.reg.address_of("md5peer") is None
        assert not node.engine.plan.exists("iaxregistrations", "md5peer")


async def test_delayreject_acks_first_and_refuses_a_second_later(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port(), "delayreject = yes"))
    async with running_node(config) as node, RawPeer.open(("127.0.0.1", node.port)) as peer:
        challenge = await peer.request(IaxSubclass.REGREQ, _regreq("md5peer"))
        answer = _regreq("md5peer").add_str(IE.MD5_RESULT, _md5(challenge, "wrong"))
        await peer.send(FullFrame(peer.scall, challenge.source_call, 8, 1, 1, 6,
                                  IaxSubclass.REGREQ, answer.encode()))
        sent_at = trio.current_time()
        data, _ = await peer.sock.recvfrom(4096)
        assert data[10:12] == bytes((6, IaxSubclass.ACK))
        verdict = await peer.receive()
        _assert_refused(verdict)
        assert trio.current_time() - sent_at >= 1.0


async def test_requests_without_username_or_with_garbage_are_refused(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = load_config(tmp_path, "a", _conf(free_udp_port()))
    async with running_node(config) as node, RawPeer.open(("127.0.0.1", node.port)) as peer:
        _assert_refused(await peer.request(IaxSubclass.REGREQ, IEList().add_u16(IE.REFRESH, 60)))
        # Still serving afterwards.
        peer.scall += 1
        assert (await _md5_exchange(peer, "md5peer", "md5secret")).iax_subclass is \
            IaxSubclass.REGACK


async def test_regcontext_entries_for_every_context_and_regexten(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = load_config(tmp_path, "a", (
        f"[general]\nbindport = {free_udp_port()}\nbindaddr = 127.0.0.1\n"
        "regcontext = regs-a&regs-b\n"
        "[desk]\ntype = peer\nhost = dynamic\nregexten = 100&_1XX\n"))
    async with running_node(config) as node:
        plan = node.engine.plan
        entries = [(c, e) for c in ("regs-a", "regs-b") for e in ("100", "150")]
        async with RawPeer.open(("127.0.0.1", node.port)) as peer:
            ack = await peer.request(IaxSubclass.REGREQ, _regreq("desk"))
            assert ack.iax_subclass is IaxSubclass.REGACK
        # "100" literally, and "_1XX" as a pattern that matches 150.
        assert all(plan.exists(context, exten) for context, exten in entries)
        assert not plan.exists("regs-a", "200")
        assert await node.cli("iax2 unregister desk") == "Peer desk unregistered\n"
        assert not any(plan.exists(context, exten) for context, exten in entries)
