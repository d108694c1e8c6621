"""Transfers across real nodes: a phone (the calling agent) calls B through C.

Native: C bridges the phone's call and its call to B and, when both legs say
``transfer=yes``, re-paths them so voice flows phone ↔ B directly and C leaves the call
(``mediaonly``: only the voice moves; ``transfer=no`` at B: B refuses, nothing moves).
Blind: B's ``Transfer()`` sends the phone to another extension of C, and the phone's own
TRANSFER sends C's leg to B into C's dialplan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import trio

from pbxedge.iax2.callstate import TransferState
from pbxedge.iax2.endpoint import Address, Endpoint
from pbxedge.iax2.enums import IE, IaxSubclass
from pbxedge.iax2.ies import IEList
from pbxedge.load.agent import Account, AgentCall, CallAgent
from tests.integration.conftest import RunningNode, free_udp_port, start_node
from tests.integration.nodes import stop, wait_for_log, write_node

LIMIT = 20.0


def _c_conf(port: int, b_port: int) -> str:
    peers = "".join(f"""
[{name}]
type = peer
host = 127.0.0.1
port = {b_port}
username = {user}
{extra}
""" for name, user, extra in (("b", "cnode", "transfer = yes"),
                              ("b-media", "cnode", "transfer = mediaonly"),
                              ("b-refuse", "cnode-refuse", "transfer = yes"),
                              ("b-plain", "cnode", "")))
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
[phone]
type = user
context = out
requirecalltoken = no
transfer = yes
{peers}"""


C_EXTENSIONS = """[out]
exten => 801,1,Dial(IAX2/b/800)
exten => 802,1,Dial(IAX2/b-media/800)
exten => 803,1,Dial(IAX2/b-refuse/800)
exten => 804,1,Dial(IAX2/b-plain/800)
exten => 810,1,Dial(IAX2/b-plain/810)
 same => n,Verbose(1,NOT REDIRECTED)
exten => 820,1,Verbose(1,LANDED ${EXTEN} ${DIALSTATUS})
 same => n,Echo()
exten => 830,1,Dial(IAX2/b-plain/800)
exten => 840,1,Verbose(1,HANDED ${EXTEN} ${CHANNEL})
 same => n,Wait(1)
 same => n,Hangup()
"""


def _b_conf(port: int) -> str:
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
[cnode]
type = user
context = in
requirecalltoken = no
[cnode-refuse]
type = user
context = in
requirecalltoken = no
transfer = no
"""


B_EXTENSIONS = """[in]
exten => 800,1,Answer()
 same => n,Echo()
exten => 810,1,Answer()
 same => n,Wait(0.5)
 same => n,Transfer(820)
 same => n,Verbose(1,TRANSFERSTATUS ${TRANSFERSTATUS})
 same => n,Wait(10)
exten => h,1,Verbose(1,B HANGUP ${CHANNEL} cause=${HANGUPCAUSE})
"""


@dataclass
class Triangle:
    c: RunningNode
    b: RunningNode


@pytest.fixture(scope="module")
def triangle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Triangle]:
    root = tmp_path_factory.mktemp("transfer")
    c_port, b_port = free_udp_port(), free_udp_port()
    b = start_node(root / "b", write_node(root / "b", _b_conf(b_port), B_EXTENSIONS),
                   b_port, "-vvv")
    try:
        c = start_node(root / "c", write_node(root / "c", _c_conf(c_port, b_port),
                                              C_EXTENSIONS), c_port, "-vvv")
    except BaseException:
        stop(b)
        raise
    try:
        for node in (b, c):
            wait_for_log(node, "pbxedge Ready.")
        yield Triangle(c, b)
    finally:
        stop(c)
        stop(b)


class _SourceRecorder:
    """The agent's endpoint as its transport sees it, noting where each datagram came from."""

    def __init__(self, endpoint: Endpoint, sources: list[tuple[str, int]]) -> None:
        self.endpoint = endpoint
        self.sources = sources
        self.datagrams_to_send = endpoint.datagrams_to_send
        self.get_timer = endpoint.get_timer
        self.handle_timer = endpoint.handle_timer
        self.next_event = endpoint.next_event

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.sources.append((str(addr[0]), int(addr[1])))
        self.endpoint.receive_datagram(data, addr, now)


class Phone(CallAgent):
    """The calling agent, remembering which address each datagram came from."""

    def __init__(self) -> None:
        super().__init__(account=Account(username="phone"))
        self.sources: list[tuple[str, int]] = []
        self.transport.endpoint = _SourceRecorder(self.endpoint, self.sources)


@pytest.fixture
async def phone() -> AsyncIterator[Phone]:
    async with trio.open_nursery() as nursery:
        agent = Phone()
        await nursery.start(agent.run)
        yield agent
        nursery.cancel_scope.cancel()


def _tag(seq: int) -> bytes:
    return (f"[{seq:04d}]".encode() * 30)[:160]


async def _talk(phone: Phone, call: AgentCall, first: int, count: int) -> list[bytes]:
    """Send *count* tagged frames; return the tagged echoes heard back of them."""
    for seq in range(first, first + count):
        phone.send_voice(call, _tag(seq), 160)
        phone.flush()
        await trio.sleep(0.02)
    await trio.sleep(0.5)
    sent = {_tag(seq) for seq in range(first, first + count)}
    return [v.payload for v in call.voice if v.payload in sent]


async def _answered(phone: Phone, node: RunningNode, exten: str) -> AgentCall:
    call = phone.call(("127.0.0.1", node.port), exten)
    with trio.fail_after(LIMIT):
        await call.answered.wait()
    await trio.sleep(0.8)  # Answer() gives the caller's first audio 500 ms before Echo
    return call


async def _until(predicate: object, what: str) -> None:
    with trio.move_on_after(LIMIT):
        while not predicate():  # type: ignore[operator]
            await trio.sleep(0.05)
        return
    pytest.fail(f"timed out waiting for {what}")


async def test_native_transfer_takes_the_middle_node_out_of_the_call(
        triangle: Triangle, phone: Phone) -> None:
    call = await _answered(phone, triangle.c, "801")
    b_addr = ("127.0.0.1", triangle.b.port)
    await _until(lambda: phone.endpoint.call_info(call.callno).addr == b_addr,
                 "the phone's call to move to B")
    assert "Releasing" in wait_for_log(triangle.c, "Releasing")
    await _until(lambda: "0 active IAX channel" in triangle.c.pbxedge(
        "-rx", "iax2 show channels").stdout, "C to drop both calls")
    before = len(phone.sources)
    heard = await _talk(phone, call, 0, 20)
    assert heard == [_tag(seq) for seq in range(20)]  # B's Echo, straight back
    assert set(phone.sources[before:]) == {b_addr}
    phone.hangup(call)
    with trio.fail_after(LIMIT):
        await call.ended.wait()
    wait_for_log(triangle.b, "B HANGUP")


async def test_mediaonly_moves_the_voice_and_keeps_signalling_at_the_middle_node(
        triangle: Triangle, phone: Phone) -> None:
    call = await _answered(phone, triangle.c, "802")
    await _until(lambda: phone.endpoint.call_info(call.callno).transfer
                 is TransferState.MEDIAPASS, "TXMEDIA")
    c_addr, b_addr = ("127.0.0.1", triangle.c.port), ("127.0.0.1", triangle.b.port)
    assert phone.endpoint.call_info(call.callno).addr == c_addr
    before = len(phone.sources)
    heard = await _talk(phone, call, 100, 20)
    assert heard == [_tag(seq) for seq in range(100, 120)]
    # The echoes' mini frames come from B; only signalling (PING, ACKs) from C.
    assert b_addr in phone.sources[before:]
    # The hangup still crosses C.
    phone.hangup(call)
    with trio.fail_after(LIMIT):
        await call.ended.wait()


async def test_transfer_no_at_the_far_end_keeps_voice_through_the_middle(
        triangle: Triangle, phone: Phone) -> None:
    call = await _answered(phone, triangle.c, "803")
    line = wait_for_log(triangle.b, "unable to transfer")
    assert "transfer=no" in line
    wait_for_log(triangle.c, "unable to transfer")
    before = len(phone.sources)
    heard = await _talk(phone, call, 200, 10)
    assert heard == [_tag(seq) for seq in range(200, 210)]
    assert set(phone.sources[before:]) == {("127.0.0.1", triangle.c.port)}
    assert phone.endpoint.call_info(call.callno).transfer is TransferState.NONE
    phone.hangup(call)


async def test_transfer_left_unset_never_starts_a_native_transfer(
        triangle: Triangle, phone: Phone) -> None:
    attempts = triangle.c.stderr().count("transfer of")
    call = await _answered(phone, triangle.c, "804")
    heard = await _talk(phone, call, 300, 10)
    assert heard == [_tag(seq) for seq in range(300, 310)]
    assert phone.endpoint.call_info(call.callno).addr == ("127.0.0.1", triangle.c.port)
    assert triangle.c.stderr().count("transfer of") == attempts
    phone.hangup(call)


async def test_blind_transfer_from_the_far_end_lands_on_the_target_extension(
        triangle: Triangle, phone: Phone) -> None:
    call = await _answered(phone, triangle.c, "810")
    assert wait_for_log(triangle.c, "LANDED").endswith("LANDED 820 ANSWER")
    assert wait_for_log(triangle.b, "TRANSFERSTATUS").endswith("TRANSFERSTATUS SUCCESS")
    wait_for_log(triangle.b, "B HANGUP")  # C hung its leg to B up
    assert "NOT REDIRECTED" not in triangle.c.stderr()
    # The phone is now in C's Echo at 820.
    heard = await _talk(phone, call, 400, 10)
    assert heard == [_tag(seq) for seq in range(400, 410)]
    phone.hangup(call)


async def test_blind_transfer_from_the_phone_sends_the_called_leg_into_the_dialplan(
        triangle: Triangle, phone: Phone) -> None:
    call = await _answered(phone, triangle.c, "830")
    phone.endpoint.send_iax(call.callno, IaxSubclass.TRANSFER,
                            IEList().add_str(IE.CALLED_NUMBER, "840"), trio.current_time())
    phone.flush()
    line = wait_for_log(triangle.c, "HANDED")
    assert "HANDED 840 IAX2/b-plain-" in line
    with trio.fail_after(LIMIT):
        await call.ended.wait()  # the phone's side of the call is over
    assert call.cause == 16

