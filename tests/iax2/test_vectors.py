"""Every datagram Asterisk 22 sent in the captures of tests/data/asterisk, decoded and re-encoded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pbxedge.decode import DecodedDatagram, decode_capture
from pbxedge.iax2.crypto import md5_response, rsa_sign, rsa_verify
from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame
from pbxedge.pcap import read_udp
from tests.vectors import ACCOUNT_SECRETS, CAPTURES, IAX_PORTS, VECTORS, capture

CALLS = "asterisk-b-to-a-calls.pcapng"

# README §5.3: the encpeer call, frame -> (wire bytes, pad, ts, oseq, iseq, type, subclass, IEs)
ENCRYPTED_CALL = {
    211: (68, 22, 19, 1, 1, FrameType.IAX, IaxSubclass.AUTHREP,
          [(IE.MD5_RESULT, b"6463a1967fb4507b9e23da204a5b619f")]),
    212: (52, 23, 17, 1, 2, FrameType.IAX, IaxSubclass.ACCEPT,
          [(IE.FORMAT, bytes.fromhex("00000004")), (IE.FORMAT2, bytes.fromhex("000000000000000004"))]),
    213: (36, 24, 17, 2, 2, FrameType.IAX, IaxSubclass.ACK, []),
    214: (36, 24, 20, 2, 2, FrameType.CONTROL, 4, []),
    215: (36, 24, 23, 3, 2, FrameType.CONTROL, -1, []),
    216: (36, 24, 20, 2, 3, FrameType.IAX, IaxSubclass.ACK, []),
    217: (36, 24, 23, 2, 4, FrameType.IAX, IaxSubclass.ACK, []),
    218: (36, 21, 4022, 2, 4, FrameType.IAX, IaxSubclass.HANGUP, [(IE.CAUSECODE, b"\x10")]),
    219: (36, 24, 4022, 4, 3, FrameType.IAX, IaxSubclass.ACK, []),
}  # fmt: skip

# README §5.5: golden datagrams at known frame numbers.
GOLDEN_IN_CAPTURES = [
    ("asterisk-b-to-a.pcapng", 1, "a95700000000000e0000060d0609706c61696e706565721302003c3600"),
    ("asterisk-b-to-a.pcapng", 22, "800129600000001100010603"),
    ("iaxmodem-register.pcapng", 3, "800105870000000300010610"),
    ("iaxmodem-register.pcapng", 2, "85870000000000030000060d06086961786d6f64656d1302003c"),
    ("nmap-iax2-version.pcapng", 3, "80000000000000000000061e"),
    ("nmap-iax2-version.pcapng", 4, "800100000000000000010603"),
]


def test_every_file_the_readme_lists_is_in_the_repository() -> None:
    section = (VECTORS / "README.md").read_text().split("## 1. Files", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([\w./-]+\.(?:pcapng|conf|key|pub|txt))`", section))
    assert set(CAPTURES) <= listed and len(listed) == 14
    assert [name for name in sorted(listed) if not (VECTORS / name).is_file()] == []


@cache
def _decoded(name: str, with_secret: bool = True) -> tuple[DecodedDatagram, ...]:
    secrets = ["wrongsecret", "encsecret"] if with_secret else []
    return tuple(decode_capture(read_udp(capture(name)), IAX_PORTS, secrets))


@pytest.mark.parametrize("name", CAPTURES)
def test_every_datagram_decodes_and_reencodes(name: str) -> None:
    decoded = _decoded(name)
    assert decoded
    for item in decoded:
        payload = item.capture.payload
        if item.frame is None:
            # Only nmap's two empty UDP probes are not IAX2 at all.
            assert name.startswith("nmap") and payload == b"", item
            continue
        if item.decrypted:
            assert name == CALLS and item.capture.number in ENCRYPTED_CALL
            continue
        assert item.frame.encode() == payload, f"{name} frame {item.capture.number}"
        if isinstance(item.frame, FullFrame) and item.frame.frametype == FrameType.IAX:
            assert item.frame.ies().encode() == item.frame.payload


def test_encrypted_call_decrypts_to_the_readme_table() -> None:
    decrypted = {d.capture.number: d for d in _decoded(CALLS) if d.decrypted}
    assert sorted(decrypted) == sorted(ENCRYPTED_CALL)
    for number, (wire, pad, ts, oseq, iseq, ftype, subclass, ies) in ENCRYPTED_CALL.items():
        item = decrypted[number]
        frame = item.frame
        assert isinstance(frame, FullFrame)
        assert len(item.capture.payload) == wire
        assert len(frame.encode()) == wire - pad
        assert (frame.timestamp, frame.oseqno, frame.iseqno) == (ts, oseq, iseq)
        assert (frame.frametype, frame.subclass) == (ftype, subclass)
        assert not frame.retransmitted
        if ftype == FrameType.IAX:
            assert list(frame.ies()) == ies


def test_encrypted_call_without_secret_is_reported_not_guessed() -> None:
    plain = {d.capture.number: d for d in _decoded(CALLS, with_secret=False)}
    for number in ENCRYPTED_CALL:
        assert plain[number].frame is None
        assert plain[number].error == "encrypted frame and no --secret given"


@pytest.mark.parametrize(("name", "number", "hexdata"), GOLDEN_IN_CAPTURES)
def test_golden_datagrams_are_in_the_captures(name: str, number: int, hexdata: str) -> None:
    by_number = {d.capture.number: d for d in _decoded(name)}
    assert by_number[number].capture.payload == bytes.fromhex(hexdata)


def _auth_replies() -> Iterator[tuple[str, FullFrame, str, str]]:
    """(capture, reply frame, challenge, username) for every answer to a challenge."""
    for name in CAPTURES:
        challenges: dict[frozenset[tuple[object, int]], tuple[str, str]] = {}
        for item in _decoded(name, with_secret=False):
            frame = item.frame
            if not isinstance(frame, FullFrame) or frame.frametype != FrameType.IAX:
                continue
            src = (item.capture.src, frame.source_call)
            dst = (item.capture.dst, frame.dest_call)
            ies = frame.ies()
            if frame.iax_subclass in (IaxSubclass.AUTHREQ, IaxSubclass.REGAUTH):
                challenges[frozenset((src, dst))] = (
                    ies.get_str(IE.CHALLENGE) or "",
                    ies.get_str(IE.USERNAME) or "",
                )
            elif frame.iax_subclass in (IaxSubclass.AUTHREP, IaxSubclass.REGREQ):
                found = challenges.get(frozenset((src, dst)))
                if found is not None:
                    yield name, frame, found[0], found[1]


def test_all_md5_results_recompute() -> None:
    count = 0
    for name, frame, challenge, username in _auth_replies():
        result = frame.ies().get_str(IE.MD5_RESULT)
        if result is None:
            continue
        assert result == md5_response(challenge, ACCOUNT_SECRETS[username]), (name, frame)
        count += 1
    assert count == 20


@cache
def _iaxpeer() -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    keys = VECTORS / "keys"
    private = serialization.load_pem_private_key((keys / "iaxpeer.key").read_bytes(), None)
    public = serialization.load_pem_public_key((keys / "iaxpeer.pub").read_bytes())
    assert isinstance(private, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey)
    return private, public


def test_all_rsa_results_verify_and_resign_identically() -> None:
    private, public = _iaxpeer()
    challenges = []
    for _, frame, challenge, username in _auth_replies():
        result = frame.ies().get_str(IE.RSA_RESULT)
        if result is None:
            continue
        assert username == "rsapeer"
        assert rsa_verify(public, challenge, result)
        assert rsa_sign(private, challenge) == result
        challenges.append(challenge)
    # README §5.2 lists five; a-to-b repeats none of them.
    assert sorted(challenges) == sorted(
        ["348815818", "131112043", "427420709", "137088591", "170395601"]
    )


def test_plaintext_passwords_match_the_accounts() -> None:
    count = 0
    for _, frame, challenge, username in _auth_replies():
        password = frame.ies().get_str(IE.PASSWORD)
        if password is None:
            continue
        assert challenge == "" and password == ACCOUNT_SECRETS[username]
        count += 1
    assert count >= 4
