"""The endpoint end to end: pairs over a lossy link, stateless replies, Asterisk datagrams."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbxedge.iax2.callnumbers import CallNumberPool, LimitKind
from pbxedge.iax2.calltoken import CallTokenIssuer
from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.crypto import aes_key, md5_response
from pbxedge.iax2.endpoint import CallNumbersExhausted, Endpoint, TokenPolicy, UnknownCall
from pbxedge.iax2.enums import IE, Cause, ControlSubclass, FrameType, IaxSubclass
from pbxedge.iax2.events import (
    CallDestroyed,
    CallTokenRejected,
    Event,
    FrameReceived,
    LimitReached,
    NewCall,
    PeerUnreachable,
    PongReceived,
    VoiceReceived,
)
from pbxedge.iax2.frames import FullFrame, MetaTrunkFrame, MiniFrame, TrunkEntry, parse_datagram
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.rr import ReceptionReport
from tests.iax2.link import LossyNetwork, transfer
from tests.logcheck import nothing_on_stderr

CLIENT = ("192.0.2.10", 4569)
SERVER = ("192.0.2.20", 4569)
SECRET = "md5secret"
HOLD = 60.0
SETTLED_HOLD = 2.0


def always_required(sub: IaxSubclass, username: str | None, addr: tuple[str, int]) -> bool:
    return True


def never_required(sub: IaxSubclass, username: str | None, addr: tuple[str, int]) -> bool:
    return False


def make_endpoint(
    seed: int = 1, policy: TokenPolicy = always_required, **pool_args: int
) -> Endpoint:
    rng = random.Random(seed)
    pool = CallNumberPool(rng=rng, **pool_args)  # type: ignore[arg-type]
    return Endpoint(
        pool=pool,
        tokens=CallTokenIssuer(rng.randbytes(32)),
        token_policy=policy,
        rng=rng,
    )


def datagrams(ep: Endpoint, now: float = 0.0) -> list[bytes]:
    return [data for data, _ in ep.datagrams_to_send(now)]


def drain(ep: Endpoint) -> list[Event]:
    events = []
    while (event := ep.next_event()) is not None:
        events.append(event)
    return events


def full(data: bytes) -> FullFrame:
    frame = parse_datagram(data)
    assert isinstance(frame, FullFrame)
    return frame


def new_ies(number: str = "600") -> IEList:
    return (
        IEList()
        .add_u16(IE.VERSION, 2)
        .add_str(IE.CALLED_NUMBER, number)
        .add_u32(IE.FORMAT, Codec.ULAW)
    )


# -- applications played above each endpoint ---------------------------------------------


class CallerApp:
    """Dials, waits for ANSWER, sends a burst of audio, hangs up when audio comes back."""

    def __init__(self, encrypted: bool = False, rotate: bool = False) -> None:
        self.encrypted = encrypted
        self.rotate = rotate
        self.answered = False
        self.voice_in = 0
        self.hung_up = False

    def __call__(self, ep: Endpoint, event: Event, now: float) -> None:
        if isinstance(event, FrameReceived):
            frame = event.frame
            if frame.iax_subclass is IaxSubclass.AUTHREQ:
                challenge = frame.ies().get_str(IE.CHALLENGE) or ""
                if self.encrypted:
                    key = aes_key(challenge, SECRET)
                    ep.set_encryption(event.callno, key, [key])
                ies = IEList().add_str(IE.MD5_RESULT, md5_response(challenge, SECRET))
                ep.send_iax(event.callno, IaxSubclass.AUTHREP, ies, now)
            elif frame.frametype == FrameType.CONTROL and frame.subclass == ControlSubclass.ANSWER:
                self.answered = True
                if self.rotate:
                    ep.rotate_key(event.callno, now)
                for _ in range(5):
                    ep.send_voice(event.callno, Codec.ULAW, b"\xff" * 160, now, 160)
        elif isinstance(event, VoiceReceived):
            self.voice_in += 1
            if not self.hung_up:
                self.hung_up = True
                ep.hangup(event.callno, Cause.NORMAL_CLEARING, now)


class CalleeApp:
    """Challenges (MD5, optionally encrypted), accepts, answers and echoes audio."""

    def __init__(self, encrypted: bool = False) -> None:
        self.encrypted = encrypted
        self.challenge = "123456789"
        self.voice_in = 0
        self.hangup_cause: int | None = None

    def __call__(self, ep: Endpoint, event: Event, now: float) -> None:
        if isinstance(event, NewCall):
            ies = IEList().add_u16(IE.AUTHMETHODS, 2).add_str(IE.CHALLENGE, self.challenge)
            if self.encrypted:
                ies.add_u16(IE.ENCRYPTION, 1)
            ep.send_iax(event.callno, IaxSubclass.AUTHREQ, ies, now)
            if self.encrypted:
                wrong = aes_key(self.challenge, "not the secret")
                ep.expect_encrypted(event.callno, [wrong, aes_key(self.challenge, SECRET)])
        elif isinstance(event, FrameReceived):
            frame = event.frame
            if frame.iax_subclass is IaxSubclass.AUTHREP:
                expected = md5_response(self.challenge, SECRET)
                assert frame.ies().get_str(IE.MD5_RESULT) == expected
                ep.send_iax(
                    event.callno, IaxSubclass.ACCEPT, IEList().add_u32(IE.FORMAT, Codec.ULAW), now
                )
                ep.send_control(event.callno, ControlSubclass.ANSWER, now)
            elif frame.iax_subclass is IaxSubclass.HANGUP:
                self.hangup_cause = frame.ies().get_u8(IE.CAUSECODE)
        elif isinstance(event, VoiceReceived):
            self.voice_in += 1
            ep.send_voice(event.callno, event.codec, event.payload, now, 160)


class RegistrantApp:
    def __init__(self) -> None:
        self.registered = False
        self.rejected = False

    def __call__(self, ep: Endpoint, event: Event, now: float) -> None:
        if isinstance(event, FrameReceived):
            sub = event.frame.iax_subclass
            if sub is IaxSubclass.REGAUTH:
                challenge = event.frame.ies().get_str(IE.CHALLENGE) or ""
                ies = (
                    IEList()
                    .add_str(IE.USERNAME, "md5peer")
                    .add_u16(IE.REFRESH, 60)
                    .add_str(IE.MD5_RESULT, md5_response(challenge, SECRET))
                    .add_empty(IE.CALLTOKEN)
                )
                ep.send_iax(event.callno, IaxSubclass.REGREQ, ies, now)
            elif sub is IaxSubclass.REGACK:
                self.registered = True
            elif sub is IaxSubclass.REGREJ:
                self.rejected = True


class RegistrarApp:
    challenge = "976170687"

    def __init__(self) -> None:
        self.acked = 0

    def __call__(self, ep: Endpoint, event: Event, now: float) -> None:
        if isinstance(event, NewCall):
            ies = (
                IEList()
                .add_u16(IE.AUTHMETHODS, 2)
                .add_str(IE.CHALLENGE, self.challenge)
                .add_str(IE.USERNAME, "md5peer")
            )
            ep.send_iax(event.callno, IaxSubclass.REGAUTH, ies, now)
        elif isinstance(event, FrameReceived) and event.frame.iax_subclass is IaxSubclass.REGREQ:
            assert event.frame.ies().get_str(IE.MD5_RESULT) == md5_response(self.challenge, SECRET)
            ies = IEList().add_str(IE.USERNAME, "md5peer").add_u16(IE.REFRESH, 60)
            ies.add_addr(IE.APPARENT_ADDR, *CLIENT)
            ep.send_iax(event.callno, IaxSubclass.REGACK, ies, now, final=True)
            self.acked += 1


def assert_clean(ep: Endpoint) -> None:
    """No stuck state: no live calls, nothing waiting for an ACK, no timer armed."""
    assert ep.calls() == []
    assert ep.pending_retransmits() == 0
    assert ep.get_timer() is None


def pair(
    seed: int,
    caller_app: CallerApp | RegistrantApp,
    callee_app: CalleeApp | RegistrarApp,
    **faults: float,
) -> tuple[LossyNetwork, Endpoint, Endpoint]:
    net = LossyNetwork(seed=seed, **faults)
    client = make_endpoint(seed * 2 + 1)
    server = make_endpoint(seed * 2 + 2)
    net.attach(CLIENT, client, caller_app)
    net.attach(SERVER, server, callee_app)
    return net, client, server


# -- complete exchanges over a faulty network ----------------------------------------------

FAULTS = {"drop": 0.1, "duplicate": 0.1, "reorder": 0.3}


@pytest.mark.parametrize("seed", range(30))
def test_call_completes_over_lossy_link(seed: int) -> None:
    caller, callee = CallerApp(), CalleeApp()
    net, client, server = pair(seed, caller, callee, **FAULTS)
    client.start(SERVER, IaxSubclass.NEW, new_ies(), 0.0)
    net.run(until=300.0)
    assert caller.answered and caller.hung_up and caller.voice_in >= 1
    assert callee.voice_in >= 1
    assert callee.hangup_cause == Cause.NORMAL_CLEARING
    for ep in (client, server):
        assert_clean(ep)
    assert not any(isinstance(e, PeerUnreachable) for e in net.events(CLIENT) + net.events(SERVER))


@pytest.mark.parametrize("seed", range(30))
def test_registration_completes_over_lossy_link(seed: int) -> None:
    registrant, registrar = RegistrantApp(), RegistrarApp()
    net, client, server = pair(seed, registrant, registrar, **FAULTS)
    ies = IEList().add_str(IE.USERNAME, "md5peer").add_u16(IE.REFRESH, 60)
    client.start(SERVER, IaxSubclass.REGREQ, ies, 0.0, counted=False)
    net.run(until=300.0)
    assert registrant.registered
    assert registrar.acked >= 1
    for ep in (client, server):
        assert_clean(ep)


@pytest.mark.parametrize("seed", range(20))
def test_heavy_loss_never_leaves_stuck_state(seed: int) -> None:
    net, client, server = pair(seed, CallerApp(), CalleeApp(), drop=0.5, duplicate=0.2, reorder=0.5)
    client.start(SERVER, IaxSubclass.NEW, new_ies(), 0.0)
    net.run(until=600.0)
    assert net.stats.dropped > 0
    for ep in (client, server):
        assert_clean(ep)


def test_lossy_link_really_exercises_retransmission() -> None:
    retransmitted = duplicates = 0
    for seed in range(10):
        net, _, _ = pair(seed, CallerApp(), CalleeApp(), **FAULTS)
        net._nodes[CLIENT].endpoint.start(SERVER, IaxSubclass.NEW, new_ies(), 0.0)
        net.run(until=300.0)
        duplicates += net.stats.duplicated
        for _, _, _, data in net.trace:
            frame = parse_datagram(data)
            retransmitted += isinstance(frame, FullFrame) and frame.retransmitted
    assert retransmitted > 0 and duplicates > 0


def test_numbers_are_held_after_the_call_then_return() -> None:
    net, client, server = pair(3, CallerApp(), CalleeApp())
    callno = client.start(SERVER, IaxSubclass.NEW, new_ies(), 0.0)
    end = net.run(until=100.0)
    assert client.calls() == []
    assert any(isinstance(e, CallDestroyed) and e.callno == callno for e in net.events(CLIENT))
    pool_usage = server._pool.usage(now=end)
    assert pool_usage.addresses[0].used == 1  # the callee's number is still held for its IP
    assert server._pool.usage(now=end + HOLD).addresses == ()


def test_a_settled_dialog_gives_its_number_back_sooner() -> None:
    net, client, server = pair(3, CallerApp(), CalleeApp())
    client.start(SERVER, IaxSubclass.NEW, new_ies(), 0.0)
    end = net.run(until=100.0)
    # The caller hung up and the callee acknowledged it: nothing of the call is left to be
    # sent again, so the caller's number comes back after the short hold. The callee got
    # the HANGUP; its ACK could have been lost and the HANGUP could come again, so it keeps
    # its number for the whole minute.
    assert client._pool.usage(now=end + SETTLED_HOLD).addresses == ()
    assert server._pool.usage(now=end + SETTLED_HOLD).addresses[0].used == 1
    assert server._pool.usage(now=end + HOLD).addresses == ()


def test_a_frame_of_another_peer_call_does_not_reach_the_call() -> None:
    ep = make_endpoint(policy=never_required)
    ep.receive_datagram(FullFrame(300, 0, 0, 0, 0, 6, IaxSubclass.NEW, new_ies().encode())
                        .encode(), CLIENT, 0.0)
    [event] = drain(ep)
    assert isinstance(event, NewCall)
    datagrams(ep)
    # The same address and our number, but the peer's call 301: a frame of an earlier
    # dialog, answered with INVAL and kept away from call 300's.
    ep.receive_datagram(FullFrame(301, event.callno, 9, 1, 0, FrameType.IAX,
                                  IaxSubclass.HANGUP).encode(), CLIENT, 0.1)
    assert drain(ep) == []
    [inval] = [full(d) for d in datagrams(ep, 0.1)]
    assert (inval.dest_call, inval.iax_subclass) == (301, IaxSubclass.INVAL)
    assert ep.call_info(event.callno).peer_callno == 300
    # Call 300 itself still gets through.
    ep.receive_datagram(FullFrame(300, event.callno, 10, 1, 0, FrameType.IAX,
                                  IaxSubclass.HANGUP).encode(), CLIENT, 0.2)
    assert any(isinstance(e, FrameReceived) for e in drain(ep))


def test_encrypted_call_between_two_endpoints() -> None:
    caller, callee = CallerApp(encrypted=True, rotate=True), CalleeApp(encrypted=True)
    net, client, server = pair(5, caller, callee)
    client.start(SERVER, IaxSubclass.NEW, new_ies(), 0.0)
    net.run(until=100.0)
    assert caller.answered and caller.hung_up
    assert callee.voice_in == 5  # the full frame and four encrypted mini frames, new key
    assert callee.hangup_cause == Cause.NORMAL_CLEARING
    digest = md5_response(callee.challenge, SECRET).encode()
    readable = 0
    for _, _, _, data in net.trace:
        assert digest not in data  # the AUTHREP never travels in clear
        try:
            frame = parse_datagram(data)
        except ValueError:
            continue
        if isinstance(frame, FullFrame) and frame.iax_subclass in (
            IaxSubclass.NEW,
            IaxSubclass.CALLTOKEN,
            IaxSubclass.AUTHREQ,
        ):
            readable += 1
    assert readable == 4  # NEW, CALLTOKEN, NEW with token, AUTHREQ: the only clear frames
    for ep in (client, server):
        assert_clean(ep)


def test_encrypted_call_survives_loss() -> None:
    for seed in range(4):
        caller, callee = CallerApp(encrypted=True), CalleeApp(encrypted=True)
        net, client, server = pair(seed, caller, callee, **FAULTS)
        client.start(SERVER, IaxSubclass.NEW, new_ies(), 0.0)
        net.run(until=300.0)
        assert caller.hung_up and callee.hangup_cause == Cause.NORMAL_CLEARING
        assert_clean(client)
        assert_clean(server)


# -- stateless replies, byte-exact against Asterisk ----------------------------------------


def test_pong_to_nmap_poke_is_byte_exact() -> None:
    ep = make_endpoint()
    ep.receive_datagram(bytes.fromhex("80000000000000000000061e"), ("198.51.100.9", 59229), 0.0)
    assert ep.datagrams_to_send(0.0) == [
        (bytes.fromhex("800100000000000000010603"), ("198.51.100.9", 59229))
    ]
    assert ep.calls() == []


def test_pong_to_asterisk_poke_matches_capture() -> None:
    # b-to-a frame 21 (POKE from call 10592, ts 17, empty CALLTOKEN) -> frame 22.
    poke = FullFrame(10592, 0, 17, 0, 0, FrameType.IAX, IaxSubclass.POKE, b"\x36\x00").encode()
    ep = make_endpoint()
    ep.receive_datagram(poke, SERVER, 0.0)
    assert datagrams(ep) == [bytes.fromhex("800129600000001100010603")]


def test_calltoken_reply_header_and_token() -> None:
    # b-to-a frame 1: REGREQ for plainpeer with an empty CALLTOKEN IE.
    regreq = bytes.fromhex("a95700000000000e0000060d0609706c61696e706565721302003c3600")
    ep = make_endpoint()
    ep.receive_datagram(regreq, ("127.0.0.1", 4571), 1_795_757_003.4)
    [reply] = datagrams(ep)
    assert reply[:12] == bytes.fromhex("80012957 0000000e 00 01 06 28".replace(" ", ""))
    token = full(reply).ies().get_str(IE.CALLTOKEN)
    assert token is not None and token.startswith("1795757003?")
    assert ep.calls() == []
    assert ep._pool.usage().addresses == ()


def test_replayed_asterisk_new_gets_calltoken_then_a_call() -> None:
    # calls frame 1: NEW from B (md5peer -> 600) with an empty CALLTOKEN IE.
    new = bytes.fromhex(
        "ae88000000000002000006010b02000201033630302d0448444543260143270100280200003904000000"
        "000a02656e06076d643570656572090400000040380900000000000000004008040000004e3709000000"
        "00000000004e0c0200021f04357b2b0c3600"
    )
    peer = ("127.0.0.1", 4571)
    ep = make_endpoint()
    ep.receive_datagram(new, peer, 100.0)
    [reply] = datagrams(ep, 100.0)
    token_reply = full(reply)
    assert (token_reply.source_call, token_reply.dest_call) == (1, 0x2E88)
    assert (token_reply.timestamp, token_reply.oseqno, token_reply.iseqno) == (2, 0, 1)
    assert token_reply.iax_subclass is IaxSubclass.CALLTOKEN
    token = token_reply.ies().get(IE.CALLTOKEN)
    assert token
    # The client resends the same NEW, token appended, fresh timestamp (frame 3 shape).
    original = full(new)
    resend = FullFrame(
        original.source_call,
        0,
        3,
        0,
        0,
        FrameType.IAX,
        IaxSubclass.NEW,
        original.ies().without(IE.CALLTOKEN).add(IE.CALLTOKEN, token).encode(),
    )
    ep.receive_datagram(resend.encode(), peer, 100.5)
    [event] = drain(ep)
    assert isinstance(event, NewCall) and event.token_validated
    assert event.frame.ies().get_str(IE.USERNAME) == "md5peer"
    # The layer above answers with AUTHREQ, which doubles as the ACK (frame 4 shape).
    ep.send_iax(event.callno, IaxSubclass.AUTHREQ, IEList().add_u16(IE.AUTHMETHODS, 2), 100.5)
    [authreq] = [full(d) for d in datagrams(ep, 100.5)]
    assert (authreq.source_call, authreq.dest_call) == (event.callno, 0x2E88)
    assert (authreq.oseqno, authreq.iseqno) == (0, 1)


def test_libiax2_regreq_without_token_is_rejected_with_cause() -> None:
    # iaxmodem-register frame 2: REGREQ without any CALLTOKEN IE.
    regreq = bytes.fromhex("85870000000000030000060d06086961786d6f64656d1302003c")
    ep = make_endpoint()
    ep.receive_datagram(regreq, ("127.0.0.1", 4590), 0.0)
    [reply] = datagrams(ep)
    # Asterisk's header (8001 0587 00000003 00 01 06 10), but always with CAUSE + CAUSECODE.
    assert reply[:12] == bytes.fromhex("800105870000000300010610")
    ies = full(reply).ies()
    assert ies.get_str(IE.CAUSE) and ies.get_u8(IE.CAUSECODE) is not None
    assert drain(ep) == [CallTokenRejected(("127.0.0.1", 4590), IaxSubclass.REGREQ, "iaxmodem")]
    assert ep.calls() == []


def test_libiax2_regreq_allowed_when_token_optional() -> None:
    regreq = bytes.fromhex("85870000000000030000060d06086961786d6f64656d1302003c")
    ep = make_endpoint(policy=never_required)
    ep.receive_datagram(regreq, ("127.0.0.1", 4590), 0.0)
    [event] = drain(ep)
    assert isinstance(event, NewCall) and not event.token_validated
    assert ep._pool.usage().nonvalidated_used == 1


def test_new_without_token_gets_reject_not_regrej() -> None:
    ep = make_endpoint()
    new = FullFrame(77, 0, 5, 0, 0, FrameType.IAX, IaxSubclass.NEW, new_ies().encode())
    ep.receive_datagram(new.encode(), CLIENT, 0.0)
    [reply] = [full(d) for d in datagrams(ep)]
    assert reply.iax_subclass is IaxSubclass.REJECT
    assert reply.ies().get_u8(IE.CAUSECODE) == Cause.FACILITY_REJECTED


def test_invalid_or_expired_token_is_dropped() -> None:
    ep = make_endpoint()
    forged = new_ies().add_str(IE.CALLTOKEN, "1000?" + "0" * 64)
    ep.receive_datagram(FullFrame(5, 0, 1, 0, 0, 6, 1, forged.encode()).encode(), CLIENT, 1000.0)
    ep.receive_datagram(
        FullFrame(5, 0, 1, 0, 0, 6, 1, b"\x36\x03\xff\xfe\x00").encode(), CLIENT, 1000.0
    )
    assert datagrams(ep, 1000.0) == [] and drain(ep) == []
    assert ep.stats.invalid_tokens == 2
    # A genuine token, presented too late.
    ep.receive_datagram(
        FullFrame(5, 0, 1, 0, 0, 6, 1, new_ies().add_empty(IE.CALLTOKEN).encode()).encode(),
        CLIENT,
        1000.0,
    )
    token = full(datagrams(ep, 1000.0)[0]).ies().get(IE.CALLTOKEN)
    assert token is not None
    late = new_ies().add(IE.CALLTOKEN, token)
    ep.receive_datagram(FullFrame(5, 0, 2, 0, 0, 6, 1, late.encode()).encode(), CLIENT, 1010.0)
    assert datagrams(ep, 1010.0) == [] and ep.calls() == []


def test_flood_of_tokenless_news_allocates_nothing() -> None:
    ep = make_endpoint()
    rng = random.Random(7)
    body = new_ies().encode()
    for i in range(10_000):
        scall = rng.randrange(2, 0x8000)
        ep.receive_datagram(
            FullFrame(scall, 0, i, 0, 0, 6, 1, body).encode(), ("203.0.113.5", 4569), 0.0
        )
    assert ep.calls() == []
    assert ep._pool.usage().addresses == ()
    assert ep.get_timer() is None
    assert len(datagrams(ep)) == 10_000  # one stateless REJECT each, nothing more


def test_flood_of_empty_token_news_allocates_nothing() -> None:
    ep = make_endpoint()
    body = new_ies().add_empty(IE.CALLTOKEN).encode()
    for scall in range(2, 2002):
        ep.receive_datagram(
            FullFrame(scall, 0, 0, 0, 0, 6, 1, body).encode(), ("203.0.113.5", 4569), 0.0
        )
    assert ep.calls() == [] and ep.get_timer() is None


def test_per_ip_limit_refuses_with_stateless_reject() -> None:
    ep = make_endpoint(policy=never_required, maxcallnumbers=1)
    for scall in (10, 11):
        ep.receive_datagram(
            FullFrame(scall, 0, 0, 0, 0, 6, 1, new_ies().encode()).encode(), CLIENT, 0.0
        )
    events = drain(ep)
    assert isinstance(events[0], NewCall)
    assert events[1] == LimitReached(CLIENT, LimitKind.PER_IP)
    replies = [full(d) for d in datagrams(ep)]
    assert [(f.dest_call, f.iax_subclass) for f in replies if f.source_call == 1] == [
        (11, IaxSubclass.REJECT)
    ]


def test_start_raises_when_numbers_run_out() -> None:
    ep = make_endpoint(maxcallnumbers=1)
    ep.start(SERVER, IaxSubclass.NEW, new_ies(), 0.0)
    with pytest.raises(CallNumbersExhausted):
        ep.start(SERVER, IaxSubclass.NEW, new_ies(), 0.0)
    ep.start(SERVER, IaxSubclass.POKE, IEList(), 0.0, counted=False)


def test_unknown_call_gets_inval_but_ack_and_inval_do_not() -> None:
    ep = make_endpoint()
    hangup = FullFrame(300, 400, 9, 3, 2, FrameType.IAX, IaxSubclass.HANGUP)
    ep.receive_datagram(hangup.encode(), CLIENT, 0.0)
    [inval] = [full(d) for d in datagrams(ep)]
    assert inval == FullFrame(400, 300, 0, 0, 0, FrameType.IAX, IaxSubclass.INVAL)
    for sub in (IaxSubclass.ACK, IaxSubclass.INVAL, IaxSubclass.TXCNT, IaxSubclass.FWDOWNL):
        ep.receive_datagram(FullFrame(300, 1, 9, 0, 1, 6, sub).encode(), CLIENT, 0.0)
    assert datagrams(ep) == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_garbage_never_raises(data: bytes) -> None:
    ep = make_endpoint(policy=never_required)
    with nothing_on_stderr():
        ep.receive_datagram(data, CLIENT, 0.0)
        ep.datagrams_to_send(0.0)
        ep.handle_timer(100.0)


frames_for_live_call = st.builds(
    FullFrame,
    source_call=st.integers(0, 0x7FFF),
    dest_call=st.integers(0, 0x7FFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    oseqno=st.integers(0, 255),
    iseqno=st.integers(0, 255),
    frametype=st.integers(0, 255),
    subclass=st.integers(0, 0x7F),
    payload=st.binary(max_size=40),
    retransmitted=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(frames_for_live_call, max_size=8), st.booleans())
def test_hostile_frames_on_a_live_call_never_raise(frames: list[FullFrame], aimed: bool) -> None:
    _client, server, a, b = linked_pair()
    now = 1.0
    with nothing_on_stderr():
        for frame in frames:
            if aimed:  # route it into the live call
                frame = frame._replace(source_call=a, dest_call=b)
            server.receive_datagram(frame.encode(), CLIENT, now)
            drain(server)
            server.datagrams_to_send(now)
            now += 0.5
        while (deadline := server.get_timer()) is not None and deadline < 1000:
            server.handle_timer(deadline)
            server.datagrams_to_send(deadline)


def test_commands_on_unknown_calls_raise_typed_error() -> None:
    ep = make_endpoint()
    with pytest.raises(UnknownCall):
        ep.hangup(1234, 16, 0.0)


# -- timers, hand-driven --------------------------------------------------------------------


def fire_until_quiet(ep: Endpoint, limit: float) -> list[tuple[float, FullFrame]]:
    """Fire each deadline in turn, recording what goes out; nothing ever answers."""
    sent: list[tuple[float, FullFrame]] = []
    now = 0.0
    sent.extend((now, full(d)) for d in datagrams(ep, now))
    while (deadline := ep.get_timer()) is not None and deadline <= limit:
        now = deadline
        ep.handle_timer(now)
        sent.extend((now, full(d)) for d in datagrams(ep, now))
    return sent


def test_retransmission_schedule_then_peer_unreachable() -> None:
    ep = make_endpoint()
    callno = ep.start(SERVER, IaxSubclass.REGREQ, IEList().add_str(IE.USERNAME, "x"), 0.0)
    sent = fire_until_quiet(ep, 100.0)
    # RTT starts at 1 s, so T = 2 s: sends at 0, T, 3T, 7T; give up at 15T.
    assert [t for t, _ in sent] == pytest.approx([0.0, 2.0, 6.0, 14.0])
    assert [f.retransmitted for _, f in sent] == [False, True, True, True]
    assert {f.oseqno for _, f in sent} == {0}
    events = drain(ep)
    assert events == [PeerUnreachable(callno, SERVER), CallDestroyed(callno, "retries exhausted")]
    assert ep.calls() == []


def offered_pair() -> tuple[Endpoint, Endpoint, int, int]:
    """A NEW delivered (after the token exchange) over a perfect link, not yet answered."""
    client = make_endpoint(1, never_required)
    server = make_endpoint(2, never_required)
    a = client.start(SERVER, IaxSubclass.NEW, new_ies(), 0.0)
    transfer(client, server, CLIENT, 0.0)  # NEW with an empty CALLTOKEN IE
    transfer(server, client, SERVER, 0.0)  # stateless CALLTOKEN
    transfer(client, server, CLIENT, 0.0)  # NEW again, token appended
    [event] = drain(server)
    assert isinstance(event, NewCall)
    return client, server, a, event.callno


def linked_pair() -> tuple[Endpoint, Endpoint, int, int]:
    """A NEW -> ACCEPT call between two endpoints over a perfect link."""
    client, server, a, b = offered_pair()
    server.send_iax(b, IaxSubclass.ACCEPT, IEList().add_u32(IE.FORMAT, Codec.ULAW), 0.0)
    transfer(server, client, SERVER, 0.0)
    transfer(client, server, CLIENT, 0.0)  # the ACK of the ACCEPT
    drain(client)
    drain(server)
    return client, server, a, b


def test_ping_every_21s_and_lagrq_every_10s() -> None:
    client, server, a, _ = linked_pair()
    sent: list[tuple[float, IaxSubclass | None]] = []
    now = 0.0
    while (deadline := client.get_timer()) is not None and deadline <= 64.0:
        now = deadline
        client.handle_timer(now)
        for data, _ in client.datagrams_to_send(now):
            sent.append((now, full(data).iax_subclass))
            server.receive_datagram(data, CLIENT, now)
        transfer(server, client, SERVER, now)
        transfer(client, server, CLIENT, now)
    pings = [t for t, s in sent if s is IaxSubclass.PING]
    lagrqs = [t for t, s in sent if s is IaxSubclass.LAGRQ]
    assert pings == pytest.approx([21.0, 42.0, 63.0])
    assert lagrqs == pytest.approx([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    pongs = [e for e in drain(client) if isinstance(e, PongReceived)]
    assert len(pongs) == 3 and all(p.rtt_ms == 0 for p in pongs)
    assert client.call_info(a).unacked == 0


def test_pong_and_lagrp_echo_the_request_timestamp() -> None:
    _client, server, a, b = linked_pair()
    ping = FullFrame(a, b, 4242, 1, 1, FrameType.IAX, IaxSubclass.PING)
    server.receive_datagram(ping.encode(), CLIENT, 5.0)
    [pong] = [full(d) for d in datagrams(server, 5.0)]
    assert pong.iax_subclass is IaxSubclass.PONG and pong.timestamp == 4242
    lagrq = FullFrame(a, b, 5555, 2, pong.oseqno + 1, FrameType.IAX, IaxSubclass.LAGRQ)
    server.receive_datagram(lagrq.encode(), CLIENT, 6.0)
    [lagrp] = [full(d) for d in datagrams(server, 6.0)]
    assert lagrp.iax_subclass is IaxSubclass.LAGRP and lagrp.timestamp == 5555


def mini_voice(source_call: int, timestamp: int) -> bytes:
    return MiniFrame(source_call, timestamp, b"\xff" * 160).encode()


def test_pong_on_a_call_carries_rr_ies_and_the_peer_keeps_them() -> None:
    client, server, a, b = linked_pair()
    # Three frames of audio reach the server, the last one older than the second.
    for ms in (20, 60, 40):
        voice = mini_voice(a, ms)
        server.receive_datagram(voice, CLIENT, 1.0)
    assert server.call_info(b).local_rr == ReceptionReport(packets=3, ooo=1)
    ping = FullFrame(a, b, 4242, 1, 1, FrameType.IAX, IaxSubclass.PING)
    server.receive_datagram(ping.encode(), CLIENT, 5.0)
    [data] = datagrams(server, 5.0)
    pong = full(data)
    assert pong.iax_subclass is IaxSubclass.PONG
    # construct_rr's six IEs, in its order: jitter, loss, packets, delay, dropped, OOO.
    assert list(pong.ies()) == [
        (IE.RR_JITTER, bytes(4)),
        (IE.RR_LOSS, bytes(4)),
        (IE.RR_PKTS, (3).to_bytes(4, "big")),
        (IE.RR_DELAY, bytes(2)),
        (IE.RR_DROPPED, bytes(4)),
        (IE.RR_OOO, (1).to_bytes(4, "big")),
    ]
    assert client.call_info(a).remote_rr == ReceptionReport()
    client.receive_datagram(data, SERVER, 5.0)
    assert client.call_info(a).remote_rr == ReceptionReport(packets=3, ooo=1)


def test_rr_ies_round_trip_with_loss_split_into_percent_and_count() -> None:
    report = ReceptionReport(jitter=12, loss_pct=5, loss_count=70000, packets=123456,
                             delay=40, dropped=2, ooo=9)
    ies = report.ies()
    assert ies.get_u32(IE.RR_LOSS) == (5 << 24) | 70000
    assert ReceptionReport.from_ies(IEList.parse(ies.encode())) == report
    assert ReceptionReport.from_ies(IEList()) == ReceptionReport()


def test_old_duplicate_gets_ack_future_frame_gets_vnak() -> None:
    _client, server, a, b = linked_pair()
    info = server.call_info(b)
    # An old duplicate of the NEW (oseqno 0 < iseqno 1): ACK echoing its timestamp.
    dup = FullFrame(a, b, 77, 0, 0, FrameType.IAX, IaxSubclass.NEW, retransmitted=True)
    server.receive_datagram(dup.encode(), CLIENT, 1.0)
    [ack] = [full(d) for d in datagrams(server, 1.0)]
    assert ack.iax_subclass is IaxSubclass.ACK and ack.timestamp == 77
    assert ack.iseqno == info.iseqno and ack.dest_call == a
    # A frame from the future: VNAK carrying our iseqno, frame dropped.
    future = FullFrame(a, b, 80, (info.iseqno + 3) & 0xFF, 1, FrameType.TEXT, 0, b"hi\0")
    server.receive_datagram(future.encode(), CLIENT, 1.0)
    [vnak] = [full(d) for d in datagrams(server, 1.0)]
    assert vnak.iax_subclass is IaxSubclass.VNAK
    assert vnak.oseqno == vnak.iseqno == info.iseqno
    assert drain(server) == []


def test_vnak_resends_with_r_bit_and_fresh_iseqno() -> None:
    client, server, a, b = linked_pair()
    client.send_text(a, "one", 1.0)
    client.send_text(a, "two", 1.0)
    lost = [full(d) for d in datagrams(client, 1.0)]
    assert [f.oseqno for f in lost] == [1, 2]
    # The server meanwhile sent something, so our ISeqno moved on.
    server.send_text(b, "hello", 1.0)
    transfer(server, client, SERVER, 1.0)
    datagrams(client, 1.0)  # the explicit ACK
    vnak = FullFrame(b, a, 0, 2, 1, FrameType.IAX, IaxSubclass.VNAK)
    client.receive_datagram(vnak.encode(), SERVER, 1.1)
    resent = [full(d) for d in datagrams(client, 1.1)]
    assert [(f.oseqno, f.retransmitted) for f in resent] == [(1, True), (2, True)]
    assert all(f.iseqno == lost[0].iseqno + 1 for f in resent)


def test_implicit_ack_and_explicit_ack_fields() -> None:
    client, server, _a, b = linked_pair()
    server.send_control(b, ControlSubclass.ANSWER, 2.0)
    [answer] = [full(d) for d in datagrams(server, 2.0)]
    client.receive_datagram(answer.encode(), SERVER, 2.0)
    drain(client)
    [ack] = [full(d) for d in datagrams(client, 2.0)]
    assert ack.iax_subclass is IaxSubclass.ACK
    assert ack.timestamp == answer.timestamp
    assert ack.oseqno == answer.iseqno and ack.iseqno == (answer.oseqno + 1) & 0xFF
    assert server.call_info(b).unacked == 1
    server.receive_datagram(ack.encode(), CLIENT, 2.0)
    assert server.call_info(b).unacked == 0


def test_ack_to_call_one_is_ignored() -> None:
    ep = make_endpoint()
    ep.receive_datagram(FullFrame(10592, 1, 17, 1, 1, 6, IaxSubclass.ACK).encode(), SERVER, 0.0)
    assert datagrams(ep) == [] and ep.calls() == []


def test_hangup_is_final_and_destroys_after_ack() -> None:
    client, server, a, _b = linked_pair()
    client.hangup(a, Cause.NORMAL_CLEARING, 3.0)
    [hangup] = [full(d) for d in datagrams(client, 3.0)]
    assert hangup.iax_subclass is IaxSubclass.HANGUP
    assert hangup.ies().get_u8(IE.CAUSECODE) == Cause.NORMAL_CLEARING
    server.receive_datagram(hangup.encode(), CLIENT, 3.0)
    assert server.calls() == []
    transfer(server, client, SERVER, 3.0)
    assert client.calls() == []
    assert CallDestroyed(a, "hangup acknowledged") in drain(client)


def test_unanswered_hangup_is_destroyed_by_retries_or_safety_timer() -> None:
    client, _, a, _ = linked_pair()
    client.hangup(a, Cause.NORMAL_CLEARING, 3.0)
    datagrams(client, 3.0)
    while (deadline := client.get_timer()) is not None:
        client.handle_timer(deadline)
        datagrams(client, deadline)
    assert client.calls() == []
    destroyed = [e for e in drain(client) if isinstance(e, CallDestroyed)]
    assert destroyed and deadline is None


def test_voice_full_first_then_mini_then_full_on_codec_change() -> None:
    client, server, a, _b = linked_pair()
    kinds = []
    for i, codec in enumerate([Codec.ULAW, Codec.ULAW, Codec.ULAW, Codec.ALAW, Codec.ALAW]):
        client.send_voice(a, codec, b"\x00" * 160, 1.0 + i * 0.02, 160)
        [data] = datagrams(client, 1.0)
        kinds.append("full" if isinstance(parse_datagram(data), FullFrame) else "mini")
        server.receive_datagram(data, CLIENT, 1.0 + i * 0.02)
    assert kinds == ["full", "mini", "mini", "full", "mini"]
    voice = [e for e in drain(server) if isinstance(e, VoiceReceived)]
    assert [(v.codec, v.full) for v in voice] == [
        (Codec.ULAW, True),
        (Codec.ULAW, False),
        (Codec.ULAW, False),
        (Codec.ALAW, True),
        (Codec.ALAW, False),
    ]
    stamps = [v.timestamp for v in voice]
    assert stamps == sorted(stamps) and stamps[1] - stamps[0] == 20


def test_signalling_waits_for_the_peer_call_number() -> None:
    client = make_endpoint(1, never_required)
    a = client.start(SERVER, IaxSubclass.NEW, new_ies(), 0.0)
    datagrams(client)
    client.send_dtmf(a, "5", 0.1)
    assert datagrams(client, 0.1) == []  # held: the peer's call number is unknown
    accept = FullFrame(900, a, 5, 0, 1, FrameType.IAX, IaxSubclass.ACCEPT)
    client.receive_datagram(accept.encode(), SERVER, 0.2)
    released = [full(d) for d in datagrams(client, 0.2)]
    assert [f.frametype for f in released] == [FrameType.DTMF_END]
    assert released[0].dest_call == 900 and released[0].subclass == ord("5")


def test_mini_frame_before_any_format_gets_rate_limited_vnak() -> None:
    _client, server, a, b = offered_pair()
    mini = bytes([a >> 8, a & 0xFF, 0, 40]) + b"\x00" * 160
    server.receive_datagram(mini, CLIENT, 1.0)
    server.receive_datagram(mini, CLIENT, 1.5)
    out = [full(d) for d in datagrams(server, 1.5)]
    assert [f.iax_subclass for f in out].count(IaxSubclass.VNAK) == 1
    assert not any(isinstance(e, VoiceReceived) for e in drain(server))
    assert b in server.calls()


def test_poke_pong_measures_rtt_and_frees_the_call() -> None:
    client = make_endpoint(1)
    server = make_endpoint(2)
    callno = client.start(SERVER, IaxSubclass.POKE, IEList(), 0.0, counted=False)
    [poke] = client.datagrams_to_send(0.0)
    assert full(poke[0]).ies().get(IE.CALLTOKEN) == b""  # empty CALLTOKEN last, like Asterisk
    server.receive_datagram(poke[0], CLIENT, 0.0)
    [(pong, _)] = server.datagrams_to_send(0.0)
    client.receive_datagram(pong, SERVER, 0.030)
    events = drain(client)
    assert events[0] == PongReceived(callno, SERVER, 27)  # the POKE went out stamped 3 ms
    [ack] = [full(d) for d in datagrams(client, 0.03)]
    assert ack.iax_subclass is IaxSubclass.ACK and ack.dest_call == 1
    assert client.calls() == [] and server.calls() == []


def test_meta_trunk_audio_reaches_the_call() -> None:
    client, server, a, b = linked_pair()
    client.send_voice(a, Codec.ULAW, b"\x01" * 160, 1.0, 160)
    transfer(client, server, CLIENT, 1.0)
    drain(server)
    trunk = MetaTrunkFrame(
        1000,
        (TrunkEntry(a, b"\x02" * 160, 1060), TrunkEntry(999, b"\x03" * 160, 1060)),
        with_timestamps=True,
    )
    server.receive_datagram(trunk.encode(), CLIENT, 1.06)
    voice = [e for e in drain(server) if isinstance(e, VoiceReceived)]
    assert voice == [VoiceReceived(b, Codec.ULAW, 1060, b"\x02" * 160, False)]
    assert server.stats.unknown_call == 1  # the entry for a call we do not have


def test_call_info_names_first_and_last_messages() -> None:
    client, server, a, b = linked_pair()
    info = client.call_info(a)
    assert (info.first_message, info.last_message) == ("Tx:NEW", "Rx:ACCEPT")
    assert info.peer_callno == b and info.addr == SERVER
    assert server.call_info(b).first_message == "Rx:NEW"
    assert server.call_info(b).last_message == "Rx:ACK"


def test_a_hung_up_call_is_ending_until_its_hangup_is_acked() -> None:
    ep = make_endpoint(policy=never_required)
    ep.receive_datagram(FullFrame(300, 0, 1, 0, 0, FrameType.IAX, IaxSubclass.NEW,
                                  new_ies().encode()).encode(), CLIENT, 0.0)
    [new] = [e for e in drain(ep) if isinstance(e, NewCall)]
    ep.send_iax(new.callno, IaxSubclass.ACCEPT, IEList().add_u32(IE.FORMAT, Codec.ULAW), 0.0)
    assert ep.ending_calls() == []
    ep.hangup(new.callno, Cause.NORMAL_CLEARING, 0.01)
    hangup = full(datagrams(ep, 0.01)[-1])
    assert hangup.iax_subclass is IaxSubclass.HANGUP
    assert ep.ending_calls() == [new.callno]
    ack = FullFrame(300, new.callno, hangup.timestamp, 1, hangup.oseqno + 1, FrameType.IAX,
                    IaxSubclass.ACK)
    ep.receive_datagram(ack.encode(), CLIENT, 0.02)
    assert ep.ending_calls() == []
    assert any(isinstance(e, CallDestroyed) for e in drain(ep))
