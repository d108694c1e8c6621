"""Replay the Asterisk client (instance B) of the captures against pbxedge configured like
instance A, and compare pbxedge's replies with A's: same frames, same IEs, same order.

B's frames are sent with their IEs in their order; only what depends on the other side
is recomputed: the call token, the MD5/RSA answer to *our* challenge, and the AES key.
ACKs are the client's own (pbxedge may ACK separately where Asterisk piggybacked).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from pbxedge.iax2.crypto import AesTransform, aes_key, md5_response, rsa_sign
from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame, parse_datagram
from pbxedge.iax2.ies import IEList
from pbxedge.keys import KeyStore
from pbxedge.pcap import read_udp
from tests.iax2.pcaputil import write_pcap
from tests.iaxservice.rawclient import RawClient
from tests.iaxservice.stacks import (
    CALLEE_EXTENSIONS,
    Stack,
    build_stack,
    callee_iax_conf,
    free_udp_port,
    running,
)
from tests.vectors import capture, copy_keys

A_PORT, B_PORT = 4570, 4571


@dataclass(frozen=True)
class Scenario:
    name: str
    first: int
    last: int
    secret: str | None = None
    asterisk_challenge: str | None = None  # to read the capture's encrypted frames


SCENARIOS = [
    Scenario("md5", 1, 13, "md5secret"),
    Scenario("rsa", 14, 24),
    Scenario("aes-forced", 207, 219, "encsecret", "128872642"),
    Scenario("guest", 220, 228),
    Scenario("busy", 382, 392, "md5secret"),
]

Signature = tuple[int, int, tuple[int, ...]]


def _signature(frame: FullFrame) -> Signature:
    ids = tuple(ie for ie, _ in frame.ies()) if frame.frametype == FrameType.IAX else ()
    return frame.frametype, frame.subclass, ids


def _is_ack(frame: FullFrame) -> bool:
    return frame.frametype == FrameType.IAX and frame.iax_subclass is IaxSubclass.ACK


def _capture_frames(scenario: Scenario) -> tuple[list[FullFrame], list[FullFrame]]:
    """(B's frames, A's frames) of the scenario, decrypted where needed."""
    cipher = None
    if scenario.asterisk_challenge and scenario.secret:
        cipher = AesTransform(aes_key(scenario.asterisk_challenge, scenario.secret))
    b_frames: list[FullFrame] = []
    a_frames: list[FullFrame] = []
    for datagram in read_udp(capture("asterisk-b-to-a-calls.pcapng")):
        if not scenario.first <= datagram.number <= scenario.last:
            continue
        frame = parse_datagram(datagram.payload)
        if not isinstance(frame, FullFrame):
            continue
        # NEW, CALLTOKEN, NEW, AUTHREQ travel in clear; everything after is encrypted.
        if cipher is not None and datagram.number > scenario.first + 3:
            decoded = parse_datagram(cipher.decrypt_full(datagram.payload))
            assert isinstance(decoded, FullFrame)
            frame = decoded
        if datagram.src[1] == B_PORT and datagram.dst[1] == A_PORT:
            b_frames.append(frame)
        elif datagram.src[1] == A_PORT and datagram.dst[1] == B_PORT:
            a_frames.append(frame)
    return b_frames, a_frames


def _stack(tmp_path: Path) -> Stack:
    keys, problems = KeyStore.load(copy_keys(tmp_path / "keys", ["iaxpeer.pub"]))
    assert not problems
    return build_stack(callee_iax_conf(free_udp_port()), CALLEE_EXTENSIONS, keys)


async def _replay(scenario: Scenario, callee: Stack, tmp_path: Path) -> RawClient:
    b_frames, _ = _capture_frames(scenario)
    private, _ = KeyStore.load(copy_keys(tmp_path / "b-keys", ["iaxpeer.key"]))
    sock = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    client = RawClient(sock, ("127.0.0.1", callee.port), b_frames[0].source_call)
    token = b""
    challenge = ""
    encryption = 0
    for frame in b_frames:
        if _is_ack(frame):
            continue  # the client ACKs what *it* receives
        sub = frame.iax_subclass if frame.frametype == FrameType.IAX else None
        payload = frame.payload
        if sub is IaxSubclass.NEW:
            ies = frame.ies()
            if ies.get(IE.CALLTOKEN):
                client.restart()
                ies = IEList([(ie, token if ie == IE.CALLTOKEN else v) for ie, v in ies])
            payload = ies.encode()
        elif sub is IaxSubclass.AUTHREP:
            answer = IEList()
            for ie, value in frame.ies():
                if ie == IE.MD5_RESULT:
                    assert scenario.secret
                    value = md5_response(challenge, scenario.secret).encode()
                elif ie == IE.RSA_RESULT:
                    key = private.private("iaxpeer")
                    assert key is not None
                    value = rsa_sign(key, challenge).encode()
                answer.add(ie, value)
            payload = answer.encode()
            if encryption and scenario.secret:
                client.cipher = AesTransform(aes_key(challenge, scenario.secret))
        await client.send(frame.frametype, frame.subclass, payload, frame.timestamp)
        for reply in await client.receive():
            if reply.iax_subclass is IaxSubclass.CALLTOKEN:
                token = reply.ies().get(IE.CALLTOKEN) or b""
            elif reply.iax_subclass is IaxSubclass.AUTHREQ:
                challenge = reply.ies().get_str(IE.CHALLENGE) or ""
                encryption = reply.ies().get_u16(IE.ENCRYPTION) or 0
    sock.close()
    return client


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_replies_match_asterisk(
    scenario: Scenario, tmp_path: Path, autojump_clock: object
) -> None:
    _, a_frames = _capture_frames(scenario)
    expected = [_signature(f) for f in a_frames
                if not _is_ack(f) and f.frametype != FrameType.VOICE]
    callee = _stack(tmp_path)
    async with running(callee):
        client = await _replay(scenario, callee, tmp_path)
    got = [_signature(f) for f in client.received if not _is_ack(f)]
    assert got == expected
    b_frames, _ = _capture_frames(scenario)
    if any(_signature(f)[:2] == (FrameType.IAX, IaxSubclass.HANGUP) for f in b_frames):
        # Asterisk ACKed the caller's HANGUP; so must we.
        assert _is_ack(client.received[-1])


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
async def test_tshark_reads_the_replayed_calls_without_malformed_frames(
    tmp_path: Path, autojump_clock: object
) -> None:
    callee = _stack(tmp_path)
    datagrams: list[tuple[tuple[str, int], tuple[str, int], bytes]] = []
    async with running(callee):
        # The AES-forced replay is left out: tshark cannot decrypt, and it reads ciphertext as
        # random frame types, some of which it then calls malformed.
        for scenario in (s for s in SCENARIOS if s.asterisk_challenge is None):
            client = await _replay(scenario, callee, tmp_path / scenario.name)
            datagrams.extend(client.datagrams)
    pcap = write_pcap(tmp_path / "replay.pcap", datagrams)
    result = subprocess.run(
        ["tshark", "-r", str(pcap), "-d", f"udp.port=={callee.port},iax2", "-T", "fields",
         "-e", "frame.number", "-e", "iax2.packet_type", "-e", "_ws.malformed"],
        capture_output=True, text=True, check=True, timeout=120,
    )
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) == len(datagrams)
    assert all(row[1] for row in rows)  # every datagram decoded as IAX2
    assert not [row for row in rows if len(row) > 2 and row[2]]
