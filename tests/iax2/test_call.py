"""The per-call state table and call-level behaviour (token resend, key rotation, refusals)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbxedge.iax2.call import (
    TRANSITIONS,
    Call,
    CallInput,
    CallState,
    CallStateError,
    NotEncrypted,
    transition,
)
from pbxedge.iax2.crypto import AesTransform
from pbxedge.iax2.enums import IE, ControlSubclass, FrameType, IaxSubclass
from pbxedge.iax2.events import FrameReceived
from pbxedge.iax2.frames import FullFrame, MiniFrame, parse_datagram
from pbxedge.iax2.ies import IEList

PEER = ("192.0.2.20", 4569)


@given(st.sampled_from(CallState), st.sampled_from(CallInput))
def test_every_pair_transitions_or_is_refused_cleanly(
    state: CallState, call_input: CallInput
) -> None:
    try:
        new_state = transition(state, call_input)
    except CallStateError as exc:
        assert (state, call_input) not in TRANSITIONS
        assert exc.state is state and exc.call_input is call_input
    else:
        assert TRANSITIONS[(state, call_input)] is new_state


def test_destroyed_is_terminal_and_reachable_from_everywhere() -> None:
    assert not any(state is CallState.DESTROYED for state, _ in TRANSITIONS)
    for state in CallState:
        if state is not CallState.DESTROYED:
            assert transition(state, CallInput.GIVE_UP) is CallState.DESTROYED


def test_every_state_is_reachable_from_idle() -> None:
    seen = {CallState.IDLE}
    frontier = [CallState.IDLE]
    while frontier:
        state = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(CallState)


def make_call(outbound: bool = True) -> Call:
    return Call(1234, PEER, 0.0, outbound=outbound, rng=random.Random(3), pingtime=21, lagrqtime=10)


def sent(call: Call) -> list[FullFrame]:
    frames = [parse_datagram(d) for d in call.outbox]
    call.outbox.clear()
    assert all(isinstance(f, FullFrame) for f in frames)
    return frames  # type: ignore[return-value]


def test_calltoken_reply_triggers_resend_with_reset_sequence_numbers() -> None:
    call = make_call()
    ies = IEList().add_str(IE.USERNAME, "plainpeer").add_u16(IE.REFRESH, 60)
    call.send_request(IaxSubclass.REGREQ, ies, 0.0)
    [first] = sent(call)
    assert list(first.ies())[-1] == (IE.CALLTOKEN, b"")
    token = b"1795757003?dd98a61a89dec609ed77c80a51d5f2636a915331"
    reply = FullFrame(
        1,
        1234,
        first.timestamp,
        0,
        1,
        FrameType.IAX,
        IaxSubclass.CALLTOKEN,
        IEList().add(IE.CALLTOKEN, token).encode(),
    )
    call.receive(reply, 0.003)
    [again] = sent(call)
    assert call.state is CallState.REQUEST_SENT
    assert (again.source_call, again.dest_call, again.oseqno, again.iseqno) == (1234, 0, 0, 0)
    assert again.timestamp > first.timestamp
    assert list(again.ies()) == [*ies, (IE.CALLTOKEN, token)]
    assert len(call.queue) == 1 and call.oseqno == 1
    # A second CALLTOKEN (answering a retransmission) changes nothing.
    call.receive(reply, 0.004)
    assert sent(call) == [] and call.state is CallState.REQUEST_SENT


def test_commands_out_of_state_raise() -> None:
    call = make_call(outbound=False)
    call.accept_request(FullFrame(77, 0, 5, 0, 0, FrameType.IAX, IaxSubclass.NEW), 0.0)
    with pytest.raises(CallStateError):
        call.send_control(ControlSubclass.ANSWER, 0.1)  # not before ACCEPT
    call.send_iax(IaxSubclass.ACCEPT, None, 0.1, final=False)
    call.send_control(ControlSubclass.ANSWER, 0.2)
    assert call.state is CallState.UP
    with pytest.raises(CallStateError):
        call.send_iax(IaxSubclass.ACCEPT, None, 0.3, final=False)
    with pytest.raises(NotEncrypted):
        call.rotate_key(0.3)


def test_peer_frame_out_of_state_is_acked_but_dropped() -> None:
    call = make_call(outbound=False)
    call.accept_request(FullFrame(77, 0, 5, 0, 0, FrameType.IAX, IaxSubclass.NEW), 0.0)
    sent(call)
    stray = FullFrame(77, 1234, 9, 1, 0, FrameType.IAX, IaxSubclass.ACCEPT)
    call.receive(stray, 0.1)
    assert call.protocol_violations == 1
    assert not any(isinstance(e, FrameReceived) for e in call.events)
    assert call.iseqno == 2 and call.owes_ack  # it did arrive: the peer must stop resending it


def test_received_rtkey_keeps_the_old_key_for_five_seconds() -> None:
    old_key, new_key = bytes(range(16)), bytes(range(16, 32))
    sender = make_call()
    sender.peer_callno, sender.state = 77, CallState.UP
    receiver = Call(77, PEER, 0.0, outbound=False, rng=random.Random(4), pingtime=21, lagrqtime=10)
    receiver.peer_callno, receiver.state = 1234, CallState.UP
    sender.set_encryption(old_key, [old_key])
    receiver.set_encryption(old_key, [old_key])
    sender.send_text("late", 1.0)
    [late_under_old_key] = sender.outbox
    rtkey = FullFrame(
        1234,
        77,
        5,
        0,
        0,
        FrameType.IAX,
        IaxSubclass.RTKEY,
        IEList().add(IE.CHALLENGE, new_key).encode(),
    )
    receiver.receive(rtkey, 1.0)
    assert receiver.open_full(late_under_old_key, 5.9) is not None
    assert receiver.open_full(late_under_old_key, 6.1) is None
    sender.set_encryption(new_key, [old_key])
    sender.outbox.clear()
    sender.send_text("fresh", 7.0)
    assert receiver.open_full(sender.outbox[0], 7.0) is not None


def test_a_second_rtkey_does_not_extend_the_oldest_key() -> None:
    keys = [bytes([n] * 16) for n in range(3)]
    sender = make_call()
    sender.peer_callno, sender.state = 77, CallState.UP
    receiver = Call(77, PEER, 0.0, outbound=False, rng=random.Random(4), pingtime=21, lagrqtime=10)
    receiver.peer_callno, receiver.state = 1234, CallState.UP
    sender.set_encryption(keys[0], [keys[0]])
    receiver.set_encryption(keys[0], [keys[0]])
    sender.send_text("under the first key", 1.0)
    [first_key_frame] = sender.outbox
    for seq, (at, key) in enumerate([(1.0, keys[1]), (4.0, keys[2])]):
        ies = IEList().add(IE.CHALLENGE, key).encode()
        receiver.receive(FullFrame(1234, 77, 5, seq, 0, FrameType.IAX, IaxSubclass.RTKEY, ies), at)
    # The first key was retired at 1.0: the RTKEY at 4.0 does not give it until 9.0.
    assert receiver.open_full(first_key_frame, 5.9) is not None
    assert receiver.open_full(first_key_frame, 6.1) is None


def test_key_rotation_runs_on_the_call_timer_until_the_call_ends() -> None:
    call = make_call(outbound=False)
    call.peer_callno, call.state = 77, CallState.UP
    with pytest.raises(NotEncrypted):
        call.enable_key_rotation(0.0)
    call.set_encryption(bytes(16), [bytes(16)])
    call.enable_key_rotation(0.0)
    key, rotated_at, now = call.tx_cipher, [0.0], 0.0
    while (deadline := call.next_deadline()) is not None and deadline < 1000.0:
        now = deadline
        call.handle_timer(now)
        call.queue.clear(call.oseqno)  # the peer acknowledges everything at once
        if call.tx_cipher is not key:
            key = call.tx_cipher
            rotated_at.append(now)
    gaps = [b - a for a, b in itertools.pairwise(rotated_at)]
    assert len(gaps) >= 3 and all(120.0 <= gap <= 300.0 for gap in gaps)
    call.hangup(16, now)
    call.destroy()
    assert call.next_deadline() is None


def test_frames_under_either_key_decrypt_during_the_rtkey_grace() -> None:
    old_key, new_key = bytes(range(16)), bytes(range(16, 32))
    receiver = Call(77, PEER, 0.0, outbound=False, rng=random.Random(4), pingtime=21, lagrqtime=10)
    receiver.peer_callno, receiver.state = 1234, CallState.UP
    receiver.set_encryption(old_key, [old_key])
    rtkey_ies = IEList().add(IE.CHALLENGE, new_key).encode()
    rtkey = FullFrame(1234, 77, 20_000, 0, 0, FrameType.IAX, IaxSubclass.RTKEY, rtkey_ies)
    receiver.receive(rtkey, 1.0)
    audio = bytes(range(160))
    for seed in range(40):  # many pads, so a lucky wrong key cannot pass the test
        for key, ts in ((new_key, 20_040), (old_key, 19_980)):
            mini = MiniFrame(1234, ts, audio).encode()
            data = AesTransform(key, pad_source=random.Random(seed).randbytes).encrypt_mini(mini)
            frame = receiver.open_mini(data, 2.0)
            assert frame is not None and frame.payload == audio and frame.timestamp == ts
        for key, ts in ((new_key, 20_100), (old_key, 19_990)):
            text = FullFrame(1234, 77, ts, 1, 1, FrameType.TEXT, 0, b"late\0").encode()
            data = AesTransform(key, pad_source=random.Random(seed).randbytes).encrypt_full(text)
            full = receiver.open_full(data, 2.0)
            assert full is not None and full.payload == b"late\0" and full.timestamp == ts


def test_expect_encrypted_locks_the_key_that_decrypts() -> None:
    right, wrong = bytes(16), bytes([1] * 16)
    client = make_call()
    client.peer_callno, client.state = 77, CallState.AUTH
    client.set_encryption(right, [right])
    client.send_iax(
        IaxSubclass.AUTHREP, IEList().add_str(IE.MD5_RESULT, "x" * 32), 1.0, final=False
    )
    [datagram] = client.outbox
    server = Call(77, PEER, 0.0, outbound=False, rng=random.Random(5), pingtime=21, lagrqtime=10)
    server.expect_encrypted([wrong, right])
    frame = server.open_full(datagram, 1.0)
    assert frame is not None and frame.iax_subclass is IaxSubclass.AUTHREP
    assert server.tx_cipher is not None and server.tx_cipher.key == right
    # From now on clear frames are refused.
    clear = FullFrame(1234, 77, 9, 2, 0, FrameType.IAX, IaxSubclass.PING).encode()
    assert server.open_full(clear, 1.1) is None
