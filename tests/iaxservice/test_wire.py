"""Wire-level behaviour of incoming calls, seen from a raw client."""

from __future__ import annotations

import logging
import random
import re
from datetime import datetime
from pathlib import Path

import pytest
import trio

from dialplan.dialer import DialResult, DialStatus
from pbxedge.iax2.crypto import md5_response
from pbxedge.iax2.enums import IE, DpStatus, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.newcall import build_new
from pbxedge.keys import KeyStore
from tests.dialplan.fakes import FakeChannel
from tests.iaxservice.rawclient import RawClient
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
from tests.logcheck import FORGED, LINE, NOT_UTF8, checked_lines, node_log


def _callee(general: str = "", extra: str = "") -> Stack:
    return build_stack(callee_iax_conf(free_udp_port(), general, extra), CALLEE_EXTENSIONS,
                       KeyStore([]))


def _new(called: str, username: str | None, *, token: bytes | None = b"",
         encryption: int = 0) -> bytes:
    ies = build_new(called, prefs=[], capability=4, format=4,
                    now_datetime=datetime(2026, 1, 1), username=username,
                    encryption=encryption)
    if token is not None:
        ies.add(IE.CALLTOKEN, token)
    return ies.encode()


async def _client(stack: Stack, scall: int, host: str = "127.0.0.1") -> RawClient:
    sock = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
    await sock.bind((host, 0))
    return RawClient(sock, ("127.0.0.1", stack.port), scall)


def _sub(frame: FullFrame) -> IaxSubclass | None:
    return frame.iax_subclass if frame.frametype == FrameType.IAX else None


def _non_acks(frames: list[FullFrame]) -> list[FullFrame]:
    return [f for f in frames if _sub(f) is not IaxSubclass.ACK]


async def _open(client: RawClient, called: str, username: str | None,
                encryption: int = 0) -> list[FullFrame]:
    """NEW with the call-token exchange; returns the replies to the second NEW."""
    await client.send(FrameType.IAX, IaxSubclass.NEW,
                      _new(called, username, encryption=encryption), 3)
    (token_frame,) = await client.receive()
    token = token_frame.ies().get(IE.CALLTOKEN)
    assert token
    client.restart()
    await client.send(FrameType.IAX, IaxSubclass.NEW,
                      _new(called, username, token=token, encryption=encryption), 4)
    return await client.receive()


async def _wrong_password(stack: Stack, username: str, scall: int,
                          host: str = "127.0.0.1") -> list[FullFrame]:
    client = await _client(stack, scall, host)
    replies = _non_acks(await _open(client, "600", username))
    (authreq,) = replies
    challenge = authreq.ies().get_str(IE.CHALLENGE) or ""
    answer = IEList().add_str(IE.MD5_RESULT, md5_response(challenge, "wrong"))
    await client.send_iax(IaxSubclass.AUTHREP, answer, 10)
    rest = await client.receive(quiet=3.0)
    client.sock.close()
    return [authreq, *rest]


async def test_unknown_user_is_indistinguishable_from_a_wrong_password(
    autojump_clock: object,
) -> None:
    stack = _callee("delayreject = yes")
    async with running(stack):
        known = await _wrong_password(stack, "md5peer", 1000)
        unknown = await _wrong_password(stack, "nobody", 1000)
    for frames in (known, unknown):
        # delayreject: the AUTHREP is ACKed at once, the REJECT follows (a second later).
        assert [_sub(f) for f in frames] == [IaxSubclass.AUTHREQ, IaxSubclass.ACK,
                                             IaxSubclass.REJECT]
        assert frames[2].ies().get_u8(IE.CAUSECODE) == 50
    assert [ie for ie, _ in known[0].ies()] == [ie for ie, _ in unknown[0].ies()]
    assert known[0].ies().get_u16(IE.AUTHMETHODS) == unknown[0].ies().get_u16(IE.AUTHMETHODS)
    # The REJECTs are the same bytes but for call numbers and timestamps.
    for a, b in ((known[2], unknown[2]),):
        assert (a.oseqno, a.iseqno, a.frametype, a.subclass, a.payload) == (
            b.oseqno, b.iseqno, b.frametype, b.subclass, b.payload)


async def test_decoy_offers_encryption_like_a_real_user(autojump_clock: object) -> None:
    stack = _callee("encryption = yes")
    async with running(stack):
        authreqs = []
        # Names of the same length: USERNAME echoes what the caller sent.
        for scall, username in ((1100, "md5peer"), (1101, "unknown")):
            client = await _client(stack, scall)
            # AES128 | KEYROTATE, as a NEW from Asterisk with encryption=yes.
            (authreq,) = _non_acks(await _open(client, "600", username, encryption=0x8001))
            client.sock.close()
            authreqs.append(authreq)
    known, unknown = ([(ie, len(data)) for ie, data in frame.ies()] for frame in authreqs)
    assert known == unknown
    assert IE.ENCRYPTION in [ie for ie, _ in known]
    assert authreqs[0].ies().get_u16(IE.ENCRYPTION) == authreqs[1].ies().get_u16(
        IE.ENCRYPTION) == 0x0001


async def test_tbd_call_answers_dpreq_then_enters_the_plan_on_dial(
    autojump_clock: object,
) -> None:
    stack = _callee()
    async with running(stack):
        client = await _client(stack, 2000)
        assert [_sub(f) for f in _non_acks(await _open(client, "TBD", None))] == [
            IaxSubclass.ACCEPT]
        await client.send_iax(IaxSubclass.DPREQ, IEList().add_str(IE.CALLED_NUMBER, "60"), 20)
        (dprep,) = _non_acks(await client.receive())
        assert _sub(dprep) is IaxSubclass.DPREP
        status = DpStatus(dprep.ies().get_u16(IE.DPSTATUS) or 0)
        assert status & DpStatus.CANEXIST and status & DpStatus.MATCHMORE
        assert dprep.ies().get_u16(IE.REFRESH) == 600
        await client.send_iax(IaxSubclass.DIAL, IEList().add_str(IE.CALLED_NUMBER, "600"), 30)
        frames = _non_acks(await client.receive())
        assert [(f.frametype, f.subclass) for f in frames][:3] == [
            (FrameType.CONTROL, 14), (FrameType.CONTROL, 4), (FrameType.CONTROL, -1)]
        assert "IAX2/127.0.0.1:" in await stack.cli("core show channels")

        other = await _client(stack, 2001)
        await _open(other, "TBD", None)
        await other.send_iax(IaxSubclass.DIAL, IEList().add_str(IE.CALLED_NUMBER, "555"), 30)
        (reject,) = _non_acks(await other.receive())
        assert _sub(reject) is IaxSubclass.REJECT
        assert reject.ies().get_u8(IE.CAUSECODE) == 3
        client.sock.close()
        other.sock.close()


ENDINGS = """
[from-iax]
exten => 600,1,Answer()
 same => n,NoOp(runs off the end)
exten => 601,1,Answer()
 same => n,Goto(nowhere,1)
exten => 602,1,Goto(nowhere,1)
exten => 603,1,Answer()
 same => n,Hangup()
exten => 604,1,Answer()
 same => n,Goto(math,${MATH(3*4,i)},1)
[math]
exten => 12,1,Hangup(21)
exten => _X.,1,Hangup(1)
"""


@pytest.mark.parametrize(
    ("called", "cause"),
    [("600", 0), ("601", 0), ("602", 0), ("603", 16), ("604", 21)],
)
async def test_the_hangup_carries_the_cause_the_dialplan_left(
    autojump_clock: object, called: str, cause: int,
) -> None:
    """Fall-through and a Goto to a missing extension (no ``i``) set no cause: CAUSECODE 0,
    as Asterisk sends; Hangup() without one is 16.  Only CAUSECODE, never CAUSE text."""
    stack = build_stack(callee_iax_conf(free_udp_port()), ENDINGS, KeyStore([]))
    async with running(stack):
        client = await _client(stack, 2100)
        frames = _non_acks(await _open(client, called, None))
        # Answer() waits up to 500 ms for the caller's audio before the plan goes on.
        while _sub(frames[-1]) is not IaxSubclass.HANGUP:
            frames += _non_acks(await client.receive())
        client.sock.close()
    assert _sub(frames[0]) is IaxSubclass.ACCEPT
    hangup = frames[-1]
    assert _sub(hangup) is IaxSubclass.HANGUP
    assert list(hangup.ies()) == [(IE.CAUSECODE, bytes([cause]))]


async def test_requirecalltoken_auto_learns_after_a_validated_call(
    autojump_clock: object,
) -> None:
    stack = _callee(extra="[autouser]\ntype=user\nrequirecalltoken=auto\ncontext=from-iax\n")
    async with running(stack):
        first = await _client(stack, 3000)
        await first.send(FrameType.IAX, IaxSubclass.NEW, _new("600", "autouser", token=None), 1)
        assert IaxSubclass.ACCEPT in [_sub(f) for f in await first.receive()]
        second = await _client(stack, 3001)
        assert IaxSubclass.ACCEPT in [_sub(f) for f in await _open(second, "600", "autouser")]
        third = await _client(stack, 3002)
        await third.send(FrameType.IAX, IaxSubclass.NEW, _new("600", "autouser", token=None), 1)
        (reject,) = await third.receive()
        assert _sub(reject) is IaxSubclass.REJECT and reject.source_call == 1
        for client in (first, second, third):
            client.sock.close()


async def test_a_flood_of_tokenless_news_allocates_nothing(autojump_clock: object) -> None:
    callee = _callee()
    caller = build_stack(caller_iax_conf(free_udp_port(), callee.port), CALLER_EXTENSIONS,
                         KeyStore([]))
    rng = random.Random(5)
    async with running(callee, caller) as nursery:
        flood = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
        await flood.bind(("127.0.0.1", 0))
        result: list[DialResult] = []

        async def legitimate() -> None:
            result.append(await caller.calls.dialer.dial(FakeChannel(), ["IAX2/a-md5/607"],
                                                         30, ""))

        payload = _new("600", None, token=None)
        for index in range(10_000):
            scall = rng.randrange(2, 0x8000)
            frame = FullFrame(scall, 0, index, 0, 0, FrameType.IAX, IaxSubclass.NEW, payload)
            await flood.sendto(frame.encode(), ("127.0.0.1", callee.port))
            if index % 100 == 99:
                # 100 000 a second: virtual time stands still while this task sends, and a
                # busy node reads its socket once per virtual millisecond.
                await trio.sleep(0.001)
            if index == 5000:
                nursery.start_soon(legitimate)
        while not result:
            await trio.sleep(0.1)
        usage = await callee.cli("iax2 show callnumber usage")
        flood.close()
    assert result == [DialResult(DialStatus.ANSWER, 21)]
    assert "Non-CallToken Validated Callno Used:   0\n" in usage
    assert callee.iax.endpoint.stats.stateless_replies >= 10_000


async def test_garbage_news_are_refused_and_the_node_keeps_serving(
    autojump_clock: object, tmp_path: Path,
) -> None:
    stack = _callee(extra="[guest2]\ntype=user\ncontext=from-iax\nrequirecalltoken=no\n")
    rng = random.Random(11)
    with node_log(tmp_path / "pbxedge.log") as path:  # and nothing on stderr
        async with running(stack):
            client = await _client(stack, 4000)
            for index in range(300):
                ies = IEList()
                for _ in range(rng.randrange(0, 12)):
                    ies.add(rng.choice([1, 2, 5, 6, 8, 9, 10, 11, 31, 43, 45, 55, 56]),
                            rng.randbytes(rng.randrange(0, 12)))
                ies.add_str(IE.USERNAME, "guest2")
                frame = FullFrame(5 + index, 0, index, 0, 0, FrameType.IAX, IaxSubclass.NEW,
                                  ies.encode())
                await client.sock.sendto(frame.encode(), client.server)
            await client.receive()
            healthy = await _client(stack, 4999)
            await healthy.send(FrameType.IAX, IaxSubclass.NEW, _new("600", "guest2", token=None),
                               1)
            assert IaxSubclass.ACCEPT in [_sub(f) for f in await healthy.receive()]
            client.sock.close()
            healthy.sock.close()
        lines = checked_lines(path.read_bytes())
    assert "ERROR" not in {LINE.match(line)["level"] for line in lines}  # nothing raised


async def test_a_request_nobody_serves_is_refused_once_not_dropped(
    autojump_clock: object,
) -> None:
    stack = _callee()  # calls only: no registration service on this node
    async with running(stack):
        client = await _client(stack, 1200)
        regreq = IEList().add_str(IE.USERNAME, "someone").add_u16(IE.REFRESH, 60)
        await client.send_iax(IaxSubclass.REGREQ, IEList(regreq).add_empty(IE.CALLTOKEN), 3)
        (token_frame,) = await client.receive()
        token = token_frame.ies().get(IE.CALLTOKEN)
        assert token
        client.restart()
        await client.send_iax(IaxSubclass.REGREQ, IEList(regreq).add(IE.CALLTOKEN, token), 4)
        replies = _non_acks(await client.receive(quiet=3.0))
        client.sock.close()
        assert [_sub(f) for f in replies] == [IaxSubclass.REGREJ]
        assert replies[0].ies().get_u8(IE.CAUSECODE) == 29  # FACILITY_REJECTED
        # The refusal is final: once ACKed, nothing of the call stays behind.
        assert stack.iax.endpoint.calls() == []


async def test_authrep_and_hangup_in_one_burst_raise_nothing(
    autojump_clock: object, caplog: pytest.LogCaptureFixture,
) -> None:
    stack = _callee()
    async with running(stack):
        client = await _client(stack, 1300)
        (authreq,) = _non_acks(await _open(client, "600", "md5peer"))
        challenge = authreq.ies().get_str(IE.CHALLENGE) or ""
        answer = IEList().add_str(IE.MD5_RESULT, md5_response(challenge, "md5secret"))
        # The caller gives up right after answering: both frames are handled together.
        await client.send_iax(IaxSubclass.AUTHREP, answer, 10)
        await client.send_iax(IaxSubclass.HANGUP, IEList().add_u8(IE.CAUSECODE, 16), 11)
        await client.receive(quiet=3.0)
        client.sock.close()
        assert stack.iax.endpoint.calls() == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_hostile_usernames_reach_the_log_escaped_one_line_each(
    autojump_clock: object, tmp_path: Path,
) -> None:
    stack = _callee()
    with node_log(tmp_path / "pbxedge.log") as path:
        async with running(stack):
            assert await stack.cli("iax2 set debug on") == "IAX2 Debugging Enabled\n"
            # One source per payload: repeats from one address would be summarised.
            for scall, (host, username) in enumerate(
                    (("127.0.0.2", NOT_UTF8), ("127.0.0.3", FORGED)), 5000):
                client = await _client(stack, scall, host)
                await client.send(FrameType.IAX, IaxSubclass.NEW,
                                  _new("600", username, token=None), 1)
                await client.receive()
                client.sock.close()
                # A decoy challenge (authdebug says so), then the refused AUTHREP.
                await _wrong_password(stack, username, scall + 10, host)
        text = "\n".join(checked_lines(path.read_bytes()))
    for host, shown in (
        ("127.0.0.2", "\\xff" * 19 + "..."),
        ("127.0.0.3", "\\x0a[2026-12-02 09:00:00] NOTICE[1] reg_server.py: Registration from "
                      "'admin' ..."),
    ):
        assert f"setting user {shown} requirecalltoken=no" in text
        assert f"decoy challenge (no user named '{shown}')" in text
        assert f"Host {host} failed to authenticate as {shown}\n" in text
    # The frame dump shows all of a string IE, escaped.
    assert "   USERNAME        : " + "\\xff" * 255 + "\n" in text
    assert ("   USERNAME        : \\x0a[2026-12-02 09:00:00] NOTICE[1] reg_server.py: "
            "Registration from 'admin' accepted\\x1b[2J\n") in text


async def test_a_flood_of_tokenless_news_is_summarised_in_the_log(
    autojump_clock: object, tmp_path: Path,
) -> None:
    stack = _callee()
    with node_log(tmp_path / "pbxedge.log") as path:
        async with running(stack):
            client = await _client(stack, 6000)
            started = trio.current_time()
            payload = _new("600", "flooder", token=None)
            for index in range(2000):
                frame = FullFrame(2 + index, 0, index, 0, 0, FrameType.IAX, IaxSubclass.NEW,
                                  payload)
                await client.sock.sendto(frame.encode(), client.server)
            # The flood has stopped; its count is written when the 10 s interval ends.
            await trio.sleep(11)
            lines = checked_lines(path.read_bytes())
            elapsed = trio.current_time() - started
            client.sock.close()
    refused = stack.iax.endpoint.stats.stateless_replies
    assert refused == 2000
    full = [line for line in lines if "CallToken Support required" in line]
    assert f"placing address 127.0.0.1:{client.local[1]} in the calltokenoptional" in full[0]
    counts = [int(match["n"]) for line in lines if (match := re.search(
        r"Token-less NEW from 127\.0\.0\.1 repeated (?P<n>\d+) times? in the last 1\d s$", line))]
    assert counts
    assert len(full) + sum(counts) == refused  # every refused NEW is accounted for
    # A full line and a summary per 10 s at most, instead of a line per datagram.
    assert len(lines) == len(full) + len(counts) <= 2 * (elapsed // 10 + 1)


async def test_failed_authentications_from_one_address_are_summarised(
    autojump_clock: object, caplog: pytest.LogCaptureFixture,
) -> None:
    stack = _callee()  # authdebug = yes: two lines per failure
    async with running(stack):
        for scall in range(7000, 7005):
            client = await _client(stack, scall)
            assert [_sub(f) for f in _non_acks(await _open(client, "600", "md5peer"))] == [
                IaxSubclass.AUTHREQ]
            await client.send_iax(IaxSubclass.AUTHREP,
                                  IEList().add_str(IE.MD5_RESULT, md5_response("x", "wrong")), 10)
            assert IaxSubclass.REJECT in [_sub(f) for f in await client.receive()]
            client.sock.close()
        await trio.sleep(10)
    assert [r.getMessage() for r in caplog.records if "authenticat" in r.getMessage()] == [
        "Host 127.0.0.1 failed to authenticate as md5peer",
        "Failed authentication from 127.0.0.1 repeated 4 times in the last 10 s",
    ]
    authdebug = [r for r in caplog.records if "refused: MD5 response" in r.getMessage()]
    assert len(authdebug) == 1
