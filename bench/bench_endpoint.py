"""Speed of the sans-IO IAX2 core: full-frame round trips between two in-memory endpoints."""

from __future__ import annotations

import random
import time

from pbxedge.iax2.callnumbers import CallNumberPool
from pbxedge.iax2.calltoken import CallTokenIssuer
from pbxedge.iax2.endpoint import Endpoint
from pbxedge.iax2.enums import IE, Cause, FrameType, IaxSubclass
from pbxedge.iax2.events import NewCall
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList

CLIENT = ("192.0.2.10", 4569)
SERVER = ("192.0.2.20", 4569)
DURATION = 1.0  # seconds of wall time per figure


def _endpoint(seed: int) -> Endpoint:
    rng = random.Random(seed)
    return Endpoint(
        pool=CallNumberPool(rng=rng, maxcallnumbers=1 << 20, max_nonvalidated=1 << 20),
        tokens=CallTokenIssuer(rng.randbytes(32)),
        token_policy=lambda sub, user, addr: True,
        rng=rng,
    )


def _pump(a: Endpoint, b: Endpoint, now: float) -> int:
    """Move datagrams both ways until both sides are quiet; answer NEWs with ACCEPT."""
    moved = 0
    while True:
        batch = 0
        for src, dst, src_addr in ((a, b, CLIENT), (b, a, SERVER)):
            while (event := dst.next_event()) is not None:
                if isinstance(event, NewCall):
                    dst.send_iax(event.callno, IaxSubclass.ACCEPT, None, now)
            for data, _ in src.datagrams_to_send(now):
                dst.receive_datagram(data, src_addr, now)
                batch += 1
        for ep in (a, b):
            while ep.next_event() is not None:
                pass
        if not batch:
            return moved
        moved += batch


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def bench_ping_round_trips() -> str:
    client, server = _endpoint(1), _endpoint(2)
    ies = IEList().add_u16(IE.VERSION, 2).add_str(IE.CALLED_NUMBER, "600")
    callno = client.start(SERVER, IaxSubclass.NEW, ies, 0.0)
    _pump(client, server, 0.0)
    now, trips, frames = 0.0, 0, 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < DURATION:
        for _ in range(200):
            now += 0.001
            client.send_iax(callno, IaxSubclass.PING, None, now)
            frames += _pump(client, server, now)  # PING, PONG, ACK
            trips += 1
    return (
        f"PING/PONG/ACK round trips: {_rate(trips, elapsed)} ({_rate(frames, elapsed)} full frames,"
        f" {elapsed / frames * 1e6:.1f} µs per full frame, sent and received; goal 25)"
    )


def bench_call_setups() -> str:
    client, server = _endpoint(3), _endpoint(4)
    ies = IEList().add_u16(IE.VERSION, 2).add_str(IE.CALLED_NUMBER, "600")
    now, calls = 0.0, 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < DURATION:
        for _ in range(50):
            # 50 ms of simulated time per call: numbers held 60 s recycle before the pool runs dry.
            now += 0.05
            callno = client.start(SERVER, IaxSubclass.NEW, ies, now)
            _pump(client, server, now)  # NEW, CALLTOKEN, NEW+token, ACCEPT, ACK
            client.hangup(callno, Cause.NORMAL_CLEARING, now)
            _pump(client, server, now)  # HANGUP, ACK
            calls += 1
    return f"NEW/CALLTOKEN/NEW/ACCEPT/ACK/HANGUP/ACK calls: {_rate(calls, elapsed)}"


def bench_tokenless_flood() -> str:
    server = _endpoint(5)
    rng = random.Random(6)
    body = IEList().add_u16(IE.VERSION, 2).encode()
    datagrams = [
        FullFrame(
            rng.randrange(2, 0x8000), 0, 0, 0, 0, FrameType.IAX, IaxSubclass.NEW, body
        ).encode()
        for _ in range(1000)
    ]
    handled = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < DURATION:
        for data in datagrams:
            server.receive_datagram(data, CLIENT, 0.0)
        server.datagrams_to_send(0.0)
        while server.next_event() is not None:
            pass
        handled += len(datagrams)
    return f"tokenless NEW flood (stateless REJECT each): {_rate(handled, elapsed)}"


def run() -> list[str]:
    return [bench_ping_round_trips(), bench_call_setups(), bench_tokenless_flood()]
