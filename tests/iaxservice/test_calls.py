"""Two call stacks on loopback: authentication, encryption, outcomes and causes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from dialplan.dialer import DialResult, DialStatus
from pbxedge.keys import KeyStore
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
from tests.vectors import copy_keys


def _pair(tmp_path: Path, *, callee_general: str = "", caller_general: str = "",
          callee_extra: str = "", caller_extra: str = "") -> tuple[Stack, Stack]:
    a_keys, _ = KeyStore.load(copy_keys(tmp_path / "a-keys", ["iaxpeer.pub"]))
    b_keys, _ = KeyStore.load(copy_keys(tmp_path / "b-keys", ["iaxpeer.key"]))
    a_port, b_port = free_udp_port(), free_udp_port()
    callee = build_stack(callee_iax_conf(a_port, callee_general, callee_extra),
                         CALLEE_EXTENSIONS, a_keys)
    caller = build_stack(caller_iax_conf(b_port, a_port, caller_general, caller_extra),
                         CALLER_EXTENSIONS, b_keys)
    return callee, caller


async def _dial(caller: Stack, target: str, *, timeout: float | None = 30) -> DialResult:
    channel = FakeChannel(name="Local/test-1", caller_num="2001")
    return await caller.calls.dialer.dial(channel, [target], timeout, "")


def _hangup_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("HANGUP ")]


@pytest.mark.parametrize(
    ("peer", "name"),
    [("a-md5", "md5peer"), ("a-plain", "plainpeer"), ("a-rsa", "rsapeer"),
     ("a-enc", "encpeer"), ("a-guest", None)],
)
async def test_each_way_of_authenticating_reaches_the_plan(
    tmp_path: Path, autojump_clock: object, caplog: pytest.LogCaptureFixture,
    peer: str, name: str | None,
) -> None:
    caplog.set_level(logging.INFO)
    callee, caller = _pair(tmp_path)
    async with running(callee, caller):
        result = await _dial(caller, f"IAX2/{peer}/607")
    # Hangup(21) on the callee comes back as the bridged call's cause.
    assert result == DialResult(DialStatus.ANSWER, 21)
    lines = _hangup_lines(caplog)
    assert len(lines) == 1 and lines[0].endswith("cause=21")
    if name is not None:
        assert lines[0].startswith(f"HANGUP IAX2/{name}-")  # named after the user (§8.2)
    else:
        assert lines[0].startswith("HANGUP IAX2/127.0.0.1:")


async def test_forced_encryption_encrypts_the_call(tmp_path: Path, autojump_clock: object) -> None:
    callee, caller = _pair(tmp_path)
    async with running(callee, caller) as nursery:
        channel = FakeChannel(name="Local/test-1")
        results: list[DialResult] = []

        async def dial() -> None:
            results.append(await caller.calls.dialer.dial(channel, ["IAX2/a-enc/600"], 30, ""))

        nursery.start_soon(dial)
        await caller.wait_until_answered()
        for stack in (caller, callee):
            (number,) = [n for _, n in stack.calls.channels()]
            assert stack.iax.endpoint.call_info(number).encrypted
        channel.hangup_cause = 31
        channel.caller_hangs_up()
        while not results:
            await trio.sleep(0.01)
    assert results == [DialResult(DialStatus.ANSWER, 31)]


@pytest.mark.parametrize("peer", ["a-wrong", "a-nobody"])
async def test_bad_credentials_are_rejected_with_cause_50(
    tmp_path: Path, autojump_clock: object, caplog: pytest.LogCaptureFixture, peer: str,
) -> None:
    caplog.set_level(logging.WARNING)
    callee, caller = _pair(tmp_path, callee_general="delayreject = yes")
    async with running(callee, caller):
        result = await _dial(caller, f"IAX2/{peer}/600")
    assert result == DialResult(DialStatus.CHANUNAVAIL, 50)
    reasons = [r.getMessage() for r in caplog.records if r.getMessage().startswith("authdebug")]
    assert reasons and all("secret" not in r.split("refused:")[-1] or "secret(s)" in r
                           for r in reasons)
    assert not any("not-the-secret" in r.getMessage() for r in caplog.records)


async def test_outcomes_map_to_dialstatus(tmp_path: Path, autojump_clock: object) -> None:
    callee, caller = _pair(tmp_path)
    async with running(callee, caller):
        assert await _dial(caller, "IAX2/a-md5/604") == DialResult(DialStatus.BUSY, 17)
        assert await _dial(caller, "IAX2/a-md5/605") == DialResult(DialStatus.CONGESTION, 34)
        assert await _dial(caller, "IAX2/a-md5/555") == DialResult(DialStatus.CHANUNAVAIL, 3)
        assert await _dial(caller, "IAX2/a-md5/606", timeout=5) == DialResult(
            DialStatus.NOANSWER, 19)
        assert await _dial(caller, "IAX2/nowhere-peer.invalid/600") == DialResult(
            DialStatus.CHANUNAVAIL, 20)
        assert await _dial(caller, "SIP/a-md5/600") == DialResult(DialStatus.CHANUNAVAIL, 20)


async def test_context_from_dial_string_and_acl(tmp_path: Path, autojump_clock: object) -> None:
    extra = """
[ctxuser]
type = user
secret = s3
context = other

[denied]
type = user
secret = s4
deny = 0.0.0.0/0.0.0.0
"""
    caller_extra = """
[a-ctx]
type = peer
host = 127.0.0.1
port = {a}
username = ctxuser
secret = s3

[a-denied]
type = peer
host = 127.0.0.1
port = {a}
username = denied
secret = s4
"""
    callee, caller = _pair(tmp_path, callee_extra=extra)
    # The caller's config needs the callee port, known only now.
    caller = build_stack(
        caller_iax_conf(caller.port, callee.port,
                        extra=caller_extra.replace("{a}", str(callee.port))),
        CALLER_EXTENSIONS, KeyStore([]))
    async with running(callee, caller):
        assert await _dial(caller, "IAX2/a-ctx/700@other") == DialResult(DialStatus.ANSWER, 16)
        assert await _dial(caller, "IAX2/a-ctx/700@from-iax") == DialResult(
            DialStatus.CHANUNAVAIL, 50)
        assert await _dial(caller, "IAX2/a-denied/600") == DialResult(DialStatus.CHANUNAVAIL, 50)


async def test_maxauthreq_limits_unanswered_challenges(
    tmp_path: Path, autojump_clock: object
) -> None:
    from pbxedge.iax2.enums import IE, IaxSubclass
    from pbxedge.iax2.newcall import build_new

    callee, caller = _pair(tmp_path, callee_extra="[limited]\ntype=user\nsecret=x\nmaxauthreq=1\n"
                           "requirecalltoken=no\n")
    async with running(callee, caller):
        # Our own raw client opens two calls and never answers the first AUTHREQ.
        sock = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
        await sock.bind(("127.0.0.1", 0))
        from pbxedge.iax2.frames import FullFrame, parse_datagram

        def new(callno: int) -> bytes:
            ies = build_new("600", prefs=[], capability=4, format=4,
                            now_datetime=__import__("datetime").datetime(2026, 1, 1),
                            username="limited")
            return FullFrame(callno, 0, 0, 0, 0, 6, int(IaxSubclass.NEW), ies.encode()).encode()

        replies = []
        for callno in (100, 101):
            await sock.sendto(new(callno), ("127.0.0.1", callee.port))
            while True:  # the first reply that is not a bare ACK
                frame = parse_datagram(await sock.recv(4096))
                assert isinstance(frame, FullFrame)
                if frame.iax_subclass is not IaxSubclass.ACK:
                    break
            replies.append(frame)
        assert replies[0].iax_subclass is IaxSubclass.AUTHREQ
        assert replies[1].iax_subclass is IaxSubclass.REJECT
        assert replies[1].ies().get_u8(IE.CAUSECODE) == 21
        sock.close()


async def test_caller_hangup_cause_reaches_the_callee(
    tmp_path: Path, autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    callee, caller = _pair(tmp_path)
    async with running(callee, caller) as nursery:
        channel = FakeChannel(name="Local/test-1")
        done = trio.Event()

        async def dial() -> None:
            await caller.calls.dialer.dial(channel, ["IAX2/a-md5/600"], 30, "")
            done.set()

        nursery.start_soon(dial)
        await caller.wait_until_answered()
        channel.hangup_cause = 21
        channel.caller_hangs_up()
        await done.wait()
        while not _hangup_lines(caplog):
            await trio.sleep(0.01)
    assert _hangup_lines(caplog)[0].endswith("cause=21")


async def test_digits_reach_the_callee_plan(
    tmp_path: Path, autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    callee, caller = _pair(tmp_path)
    async with running(callee, caller) as nursery:
        channel = FakeChannel(name="Local/test-1")
        nursery.start_soon(caller.calls.dialer.dial, channel, ["IAX2/a-md5/608"], 30, "")
        await caller.wait_until_answered()
        ((leg, _),) = caller.calls.channels()
        await leg.send_dtmf("42")
        while not any(r.getMessage().startswith("DIGITS") for r in caplog.records):
            await trio.sleep(0.01)
    assert "DIGITS 42" in [r.getMessage() for r in caplog.records]


async def test_autokill_congests_a_call_nobody_answers(
    tmp_path: Path, autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    silent = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
    await silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    _, caller = _pair(tmp_path, caller_general="autokill = yes")
    async with running(caller):
        result = await _dial(caller, f"IAX2/127.0.0.1:{port}/600")
    silent.close()
    assert result == DialResult(DialStatus.CONGESTION, 34)
    assert any("Auto-congesting" in r.getMessage() for r in caplog.records)
    assert caller.iax.endpoint.calls() == []


async def test_callnumber_limit_refuses_the_second_call(
    tmp_path: Path, autojump_clock: object
) -> None:
    callee, caller = _pair(tmp_path, callee_general="maxcallnumbers = 1")
    async with running(callee, caller) as nursery:
        nursery.start_soon(_dial, caller, "IAX2/a-md5/600")
        await caller.wait_until_answered()
        second = await _dial(caller, "IAX2/a-md5/600")
        usage = await callee.cli("iax2 show callnumber usage 127.0.0.1")
        nursery.cancel_scope.cancel()
    assert second.status is DialStatus.CONGESTION
    assert usage.splitlines()[1].split() == ["127.0.0.1", "1", "1"]


FORCED_PEERS = """
[md5-forced]
type = peer
host = 127.0.0.1
port = {a}
username = md5peer
secret = md5secret
forceencryption = yes

[enc-clear]
type = peer
host = 127.0.0.1
port = {a}
username = encpeer
secret = encsecret
"""


async def test_forced_encryption_without_a_partner_fails(
    tmp_path: Path, autojump_clock: object
) -> None:
    callee, caller = _pair(tmp_path)
    caller = build_stack(
        caller_iax_conf(caller.port, callee.port,
                        extra=FORCED_PEERS.replace("{a}", str(callee.port))),
        CALLER_EXTENSIONS, KeyStore([]))
    async with running(callee, caller):
        # We force, the callee's user offers no encryption: we give up, cause 58.
        assert await _dial(caller, "IAX2/md5-forced/600") == DialResult(
            DialStatus.CHANUNAVAIL, 58)
        # The callee forces, our NEW offers none: "No authority found".
        assert await _dial(caller, "IAX2/enc-clear/600") == DialResult(
            DialStatus.CHANUNAVAIL, 50)


async def _count_key_changes(stack: Stack, changes: list[int]) -> None:
    """Each time a call's transmit key is replaced by another, checked every second (the core
    is compiled: its methods cannot be wrapped, so its state is read)."""
    endpoint = stack.iax.endpoint
    keys: dict[int, object] = {}
    while True:
        for callno in endpoint.calls():
            tx = endpoint._call(callno).keys.tx
            if keys.get(callno) not in (None, tx):
                changes.append(callno)
            keys[callno] = tx
        await trio.sleep(1)


async def test_the_callee_rotates_keys_and_the_call_survives(
    tmp_path: Path, autojump_clock: object,
) -> None:
    callee, caller = _pair(tmp_path)
    rotations: list[int] = []
    caller_rotations: list[int] = []
    async with running(callee, caller), trio.open_nursery() as watchers:
        watchers.start_soon(_count_key_changes, callee, rotations)
        watchers.start_soon(_count_key_changes, caller, caller_rotations)
        # 612 answers, waits 700 s (two rotations at least: every 120-300 s), then hangs
        # up with cause 21, which the caller can only read under the rotated key.
        result = await _dial(caller, "IAX2/a-enc/612")
        during_call = len(rotations)
        # The call number is only held for 60 s before another call may get it: rotation
        # must stop with the call.
        await trio.sleep(700)
        watchers.cancel_scope.cancel()
    assert len(rotations) == during_call
    assert len(rotations) >= 2
    assert caller_rotations == [], "only the side that answered rotates keys"
    assert result == DialResult(DialStatus.ANSWER, 21)


async def test_accept_answer_and_hangup_in_one_burst_raise_nothing(
    tmp_path: Path, autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    # A user without a secret is accepted at once; 607 answers and hangs up right away, so
    # the ACCEPT is handled after the HANGUP in the same burst has ended the call.
    callee, caller = _pair(tmp_path, callee_extra="[open]\ntype=user\ncontext=from-iax\n")
    caller = build_stack(
        caller_iax_conf(caller.port, callee.port,
                        extra=f"[a-open]\ntype=peer\nhost=127.0.0.1\nport={callee.port}\n"
                        "username=open\n"),
        CALLER_EXTENSIONS, KeyStore([]))
    async with running(callee, caller):
        for _ in range(3):
            assert await _dial(caller, "IAX2/a-open/607") == DialResult(DialStatus.ANSWER, 21)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
