"""Calls between two real pbxedge processes (issue 5), observed on the wire, in the logs
and through the console."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.newcall import build_new
from tests.integration.nodes import Nodes, WireClient, start_pair, stop, wait_for_log


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    pair = start_pair(tmp_path, a_general="delayreject = yes")
    try:
        yield pair
    finally:
        stop(pair.b)
        stop(pair.a)


def _call_b(nodes: Nodes, number: str) -> FullFrame:
    """Call B as its guest; returns the HANGUP or REJECT that ends the call."""
    client = WireClient(nodes.b.port)
    try:
        client.new(number)
        return client.until(IaxSubclass.HANGUP, IaxSubclass.REJECT)
    finally:
        client.close()


@pytest.mark.parametrize(("route", "user"), [
    ("1", "md5peer"), ("2", "plainpeer"), ("3", "rsapeer"), ("4", "encpeer"), ("5", None),
])
def test_each_account_reaches_the_callee_and_the_cause_comes_back(
    nodes: Nodes, route: str, user: str | None
) -> None:
    end = _call_b(nodes, f"{route}607")  # A: Answer, Hangup(21)
    assert end.iax_subclass is IaxSubclass.HANGUP
    assert end.ies().get_u8(IE.CAUSECODE) == 21
    line = wait_for_log(nodes.a, "Hungup 'IAX2/")
    assert line.endswith("(cause 21)")
    assert f"Hungup 'IAX2/{user or '127.0.0.1:'}" in line  # user name after authentication


def test_wrong_secret_and_unknown_user_are_refused(nodes: Nodes) -> None:
    _call_b(nodes, "6600")
    wait_for_log(nodes.b, "DIALSTATUS CHANUNAVAIL")
    wait_for_log(nodes.a, "failed to authenticate as md5peer")
    wait_for_log(nodes.a, "MD5 response matches none")  # authdebug says why
    _call_b(nodes, "7600")
    # The second failure from B's address within 10 s is counted in a summary, not logged
    # again; authdebug names the unknown user.
    wait_for_log(nodes.a, "decoy challenge (no user named 'nobody')")
    assert "not-the-secret" not in nodes.a.stderr() + nodes.b.stderr()


def test_busy_and_congestion(nodes: Nodes) -> None:
    _call_b(nodes, "1604")
    wait_for_log(nodes.b, "DIALSTATUS BUSY")
    _call_b(nodes, "1605")
    wait_for_log(nodes.b, "DIALSTATUS CONGESTION")


def test_caller_hangup_cause_reaches_the_callee(nodes: Nodes) -> None:
    client = WireClient(nodes.b.port)
    try:
        client.new("1600")  # A: Answer, Wait(30)
        while "1 active call\n" not in nodes.a.pbxedge("-rx", "core show channels").stdout:
            client.drain(0.1)
        channels = nodes.a.pbxedge("-rx", "iax2 show channels").stdout
        assert "md5peer" in channels and channels.endswith("1 active IAX channel\n")
        client.hangup(21)
        client.until(IaxSubclass.ACK)
    finally:
        client.close()
    assert wait_for_log(nodes.a, "Hungup 'IAX2/md5peer-").endswith("(cause 21)")


def test_tokenless_new_is_refused_where_tokens_are_required(nodes: Nodes) -> None:
    client = WireClient(nodes.a.port)
    try:
        client.new("600", token=False)
        reply = client.receive()
    finally:
        client.close()
    assert reply.iax_subclass is IaxSubclass.REJECT and reply.source_call == 1
    wait_for_log(nodes.a, "CallToken Support required")


def test_flood_of_tokenless_news_allocates_nothing(nodes: Nodes) -> None:
    payload = build_new("600", prefs=[], capability=4, format=4,
                        now_datetime=__import__("datetime").datetime(2026, 1, 1)).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
        for index in range(10_000):
            frame = FullFrame(2 + index % 30000, 0, index, 0, 0, FrameType.IAX,
                              int(IaxSubclass.NEW), payload)
            flood.sendto(frame.encode(), ("127.0.0.1", nodes.a.port))
            if index == 5000:
                end = _call_b(nodes, "1607")  # a legitimate call in the middle of it
                assert end.ies().get_u8(IE.CAUSECODE) == 21
    usage = nodes.a.pbxedge("-rx", "iax2 show callnumber usage").stdout
    assert "Non-CallToken Validated Callno Used:   0\n" in usage


def test_autokill_congests_when_nobody_answers(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        pair = start_pair(tmp_path, b_general="autokill = yes",
                          b_extensions=f"exten => 9000,1,Dial(IAX2/127.0.0.1:{port}/600)\n"
                          " same => n,Verbose(1,DIALSTATUS ${DIALSTATUS})\n")
        try:
            client = WireClient(pair.b.port)
            client.new("9000")
            wait_for_log(pair.b, "Auto-congesting call due to slow response")
            wait_for_log(pair.b, "DIALSTATUS CONGESTION")
            client.close()
        finally:
            stop(pair.b)
            stop(pair.a)


def test_callnumber_limit(tmp_path: Path) -> None:
    pair = start_pair(tmp_path, a_general="maxcallnumbers = 1")
    try:
        first = WireClient(pair.b.port, scall=100)
        first.new("1600")
        while "1 active call\n" not in pair.a.pbxedge("-rx", "core show channels").stdout:
            first.drain(0.1)
        _call_b(pair, "1600")
        wait_for_log(pair.b, "DIALSTATUS CONGESTION")
        usage = pair.a.pbxedge("-rx", "iax2 show callnumber usage 127.0.0.1").stdout
        assert usage.splitlines()[1].split() == ["127.0.0.1", "1", "1"]
        first.close()
    finally:
        stop(pair.b)
        stop(pair.a)
