"""pbxedge.transport over real loopback sockets, on trio's virtual clock."""

from __future__ import annotations

import errno
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator

import pytest
import trio
import trio.socket
import trio.testing

from pbxedge import transport as transport_module
from pbxedge.transport import Address, BindError, TransportStats, UdpTransport, format_address

LOOPBACK_V4: Address = ("127.0.0.1", 0)
LOOPBACK_V6: Address = ("::1", 0)
GIVE_UP = "gave up"
# Virtual seconds; a test that needs longer is hung, not slow.
TEST_DEADLINE = 100


def ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")


@pytest.fixture
def clock() -> trio.testing.MockClock:
    # A small threshold rather than 0: the clock only jumps once real I/O has settled.
    return trio.testing.MockClock(autojump_threshold=0.01)


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def transport_log() -> Iterator[list[logging.LogRecord]]:
    # A handler on the logger itself: pbxedge.log may stop propagation to the root logger.
    handler = ListHandler()
    log = logging.getLogger("pbxedge.transport")
    log.addHandler(handler)
    yield handler.records
    log.removeHandler(handler)


# ---------------------------------------------------------------- fake sans-IO endpoints


class Recorder:
    """Base fake: queues output, counts flushes, never sets a timer."""

    def __init__(self) -> None:
        self.outgoing: list[tuple[bytes, Address]] = []
        self.events: deque[object] = deque()
        self.received: list[tuple[bytes, Address, float]] = []
        self.flushes = 0

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.received.append((data, addr, now))

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        self.flushes += 1
        outgoing, self.outgoing = self.outgoing, []
        return outgoing

    def get_timer(self) -> float | None:
        return None

    def handle_timer(self, now: float) -> None:
        raise AssertionError("no timer was set")

    def next_event(self) -> object | None:
        return self.events.popleft() if self.events else None


class Echo(Recorder):
    """Answers PING with PONG and echoes anything else; raises on ``boom``; one event each."""

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        if data == b"boom":
            raise ValueError("boom")
        super().receive_datagram(data, addr, now)
        self.outgoing.append((b"PONG" if data == b"PING" else b"echo:" + data, addr))
        self.events.append(data)


class Pinger(Recorder):
    """Sends PING until answered: retransmits after 1, 2 and 4 s, gives up 8 s later."""

    def __init__(self, target: Address) -> None:
        super().__init__()
        self.target = target
        self.sent_at: list[float] = []
        self.deadline: float | None = None

    def start(self, now: float) -> None:
        self._transmit(now)

    def _transmit(self, now: float) -> None:
        self.sent_at.append(now)
        self.outgoing.append((b"PING", self.target))
        self.deadline = now + 2 ** (len(self.sent_at) - 1)

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        if data == b"PONG" and addr == self.target:
            self.deadline = None
            self.events.append(("answered", now))

    def get_timer(self) -> float | None:
        return self.deadline

    def handle_timer(self, now: float) -> None:
        if len(self.sent_at) < 4:
            self._transmit(now)
        else:
            self.deadline = None
            self.events.append((GIVE_UP, now))


class FailingTimer(Recorder):
    """A timer due at ``due`` whose handler always raises, leaving the deadline in place."""

    def __init__(self, due: float) -> None:
        super().__init__()
        self.due: float | None = due
        self.timer_calls = 0

    def get_timer(self) -> float | None:
        return self.due

    def handle_timer(self, now: float) -> None:
        self.timer_calls += 1
        if self.timer_calls >= 100:
            # Safety valve: a transport that spins on the stale deadline fails the test's
            # count instead of hanging it (the virtual clock never advances while it spins).
            self.due = None
        raise RuntimeError("timer bug")


# ---------------------------------------------------------------- helpers


async def start(
    nursery: trio.Nursery,
    endpoint: Recorder,
    addresses: tuple[Address, ...] = (LOOPBACK_V4,),
    bound: int = 100,
    **options: float,
) -> tuple[UdpTransport, trio.MemoryReceiveChannel[object], list[Address]]:
    send_events, receive_events = trio.open_memory_channel[object](bound)
    transport = UdpTransport(endpoint, addresses, send_events, **options)
    local: list[Address] = await nursery.start(transport.run)
    return transport, receive_events, local


async def plain_socket(address: Address = LOOPBACK_V4) -> trio.socket.SocketType:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = trio.socket.socket(family, socket.SOCK_DGRAM)
    await sock.bind(address)
    return sock


def address_of(sock: trio.socket.SocketType) -> Address:
    name = sock.getsockname()
    return (name[0], name[1])


# ---------------------------------------------------------------- flow and timers


async def test_ping_pong_between_two_transports(clock: trio.testing.MockClock) -> None:
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            echo = Echo()
            _, echo_events, (echo_address,) = await start(nursery, echo)
            pinger = Pinger(echo_address)
            pinger.start(trio.current_time())  # queued before run: the first flush sends it
            _, ping_events, (ping_address,) = await start(nursery, pinger)
            assert await ping_events.receive() == ("answered", pinger.sent_at[0])
            assert await echo_events.receive() == b"PING"
            assert [(d, a) for d, a, _ in echo.received] == [(b"PING", ping_address)]
            assert len(pinger.sent_at) == 1
            nursery.cancel_scope.cancel()


async def test_retransmits_at_virtual_deadlines(clock: trio.testing.MockClock) -> None:
    silent = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            t0 = trio.current_time()
            pinger = Pinger(address_of(silent))
            pinger.start(t0)
            _, events, _ = await start(nursery, pinger)
            assert await events.receive() == (GIVE_UP, t0 + 15)
            assert [t - t0 for t in pinger.sent_at] == [0, 1, 3, 7]
            nursery.cancel_scope.cancel()
    for _ in range(4):
        assert (await silent.recvfrom(100))[0] == b"PING"
    silent.close()


async def test_kick_sends_and_rearms_the_timer(clock: trio.testing.MockClock) -> None:
    silent = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            pinger = Pinger(address_of(silent))
            transport, _, _ = await start(nursery, pinger)
            await trio.sleep(5)  # the timer task now sleeps with no deadline
            assert pinger.sent_at == []
            started = trio.current_time()
            pinger.start(started)
            transport.kick()
            assert (await silent.recvfrom(100))[0] == b"PING"
            assert trio.current_time() == started
            assert (await silent.recvfrom(100))[0] == b"PING"
            assert trio.current_time() == started + 1
            nursery.cancel_scope.cancel()
    silent.close()


@pytest.mark.parametrize("max_batch", [256, 7])
async def test_bursts_are_drained_in_batches(
    clock: trio.testing.MockClock, max_batch: int
) -> None:
    bursts, per_burst = 10, 100
    # A blocking stdlib socket: each burst is sent without a single trio checkpoint.
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(LOOPBACK_V4)
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            recorder = Recorder()
            _, _, (local,) = await start(nursery, recorder, max_batch=max_batch)
            flushes_before = recorder.flushes
            for burst in range(bursts):
                for i in range(per_burst):
                    sender.sendto(b"%d" % (burst * per_burst + i), local)
                await trio.sleep(0.001)  # virtual: the receiver drains while we wait
            assert [d for d, _, _ in recorder.received] == [
                b"%d" % n for n in range(bursts * per_burst)
            ]
            flushes = recorder.flushes - flushes_before
            # One flush per batch of reads, not one per datagram.
            assert flushes <= bursts * -(-per_burst // max_batch)
            nursery.cancel_scope.cancel()
    sender.close()


async def _checkpoints_until(done: Callable[[], bool], real_seconds: float = 5.0) -> bool:
    """Let the transport run (without moving the virtual clock) until *done* or the real
    time is up; whether *done* became true."""
    give_up = time.monotonic() + real_seconds
    while not done():
        if time.monotonic() > give_up:
            return False
        await trio.sleep(0)
    return True


def _coalesced(recorder: Recorder, clock: trio.testing.MockClock, window: float,
               body: Callable[[socket.socket, Address], Awaitable[None]]
               ) -> list[tuple[bytes, float]]:
    """Run *body*, which sends from a plain socket to the given address, against a transport
    that coalesces over *window* on *clock* (no autojump: each drain is placed in virtual
    time); what the endpoint received, and when, from the start."""
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(LOOPBACK_V4)
    received: list[tuple[bytes, float]] = []

    async def scenario() -> None:
        async with trio.open_nursery() as nursery:
            _, _, (local,) = await start(nursery, recorder, coalesce=window)
            start_time = trio.current_time()
            await body(sender, local)
            received.extend((data, now - start_time) for data, _, now in recorder.received)
            nursery.cancel_scope.cancel()

    try:
        trio.run(scenario, clock=clock)
    finally:
        sender.close()
    return received


def _has(recorder: Recorder, count: int) -> Callable[[], bool]:
    return lambda: len(recorder.received) >= count


def test_a_busy_socket_is_read_once_per_coalesce_interval() -> None:
    window = 0.01
    clock = trio.testing.MockClock()
    recorder = Recorder()

    async def body(sender: socket.socket, local: Address) -> None:
        # A lone datagram is read at once, and so is one after it: nothing says yet that
        # the socket is busy.
        sender.sendto(b"1", local)
        assert await _checkpoints_until(_has(recorder, 1))
        sender.sendto(b"2", local)
        assert await _checkpoints_until(_has(recorder, 2))
        # Two wake-ups less than `window` apart: now the loop drains once per window.
        sender.sendto(b"3", local)
        assert not await _checkpoints_until(_has(recorder, 3), real_seconds=0.2)
        clock.jump(window)
        assert await _checkpoints_until(_has(recorder, 3))
        # A drain that finds nothing ends the busy spell...
        flushes = recorder.flushes
        clock.jump(window)
        assert await _checkpoints_until(lambda: recorder.flushes > flushes)
        # ...and the next datagram is read as soon as it comes, at the same instant.
        sender.sendto(b"4", local)
        assert await _checkpoints_until(_has(recorder, 4))

    assert _coalesced(recorder, clock, window, body) == [
        (b"1", 0), (b"2", 0), (b"3", window), (b"4", 2 * window)]


def test_a_drain_longer_than_the_coalesce_interval_is_followed_at_once() -> None:
    window = 0.01
    clock = trio.testing.MockClock()

    class Slow(Recorder):
        """Takes three intervals of (virtual) time over a datagram that says ``slow``."""

        def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
            super().receive_datagram(data, addr, now)
            if data == b"slow":
                clock.jump(3 * window)

    recorder = Slow()

    async def body(sender: socket.socket, local: Address) -> None:
        for count, data in enumerate((b"1", b"2"), 1):  # two quick wake-ups: busy
            sender.sendto(data, local)
            assert await _checkpoints_until(_has(recorder, count))
        sender.sendto(b"slow", local)
        clock.jump(window)
        assert await _checkpoints_until(_has(recorder, 3))
        # The drain of "slow" ended two intervals after the next was due: the loop reads
        # again without sleeping, at the instant the slow drain ended.
        sender.sendto(b"4", local)
        assert await _checkpoints_until(_has(recorder, 4), real_seconds=2.0)

    assert _coalesced(recorder, clock, window, body) == [
        (b"1", 0), (b"2", 0), (b"slow", window), (b"4", 4 * window)]


def test_kick_soon_flushes_at_once_unless_a_drain_is_coming() -> None:
    window = 0.01
    clock = trio.testing.MockClock()
    recorder = Recorder()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(LOOPBACK_V4)
    listener.settimeout(5)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(LOOPBACK_V4)

    async def scenario() -> None:
        async with trio.open_nursery() as nursery:
            transport, _, (local,) = await start(nursery, recorder, coalesce=window)
            # Idle: a kick from a task (a call answering) is sent at once.
            flushes = recorder.flushes
            recorder.outgoing.append((b"idle", listener.getsockname()))
            transport.kick_soon()
            assert recorder.flushes == flushes + 1
            assert listener.recv(100) == b"idle"
            for count, data in enumerate((b"1", b"2"), 1):  # two quick wake-ups: busy
                sender.sendto(data, local)
                assert await _checkpoints_until(_has(recorder, count))
            # Busy: the kicks wait for the drain due within the window, one flush for all.
            flushes = recorder.flushes
            for n in range(3):
                recorder.outgoing.append((b"%d" % n, listener.getsockname()))
                transport.kick_soon()
            assert not await _checkpoints_until(lambda: recorder.flushes > flushes,
                                                real_seconds=0.2)
            clock.jump(window)
            assert await _checkpoints_until(lambda: recorder.flushes > flushes)
            assert recorder.flushes == flushes + 1
            assert [listener.recv(100) for _ in range(3)] == [b"0", b"1", b"2"]
            nursery.cancel_scope.cancel()

    try:
        trio.run(scenario, clock=clock)
    finally:
        sender.close()
        listener.close()


async def test_endpoint_exception_drops_only_that_datagram(
    clock: trio.testing.MockClock, transport_log: list[logging.LogRecord]
) -> None:
    peer = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            echo = Echo()
            transport, _, (local,) = await start(nursery, echo)
            for payload in (b"a", b"boom", b"b"):
                await peer.sendto(payload, local)
            assert (await peer.recvfrom(100))[0] == b"echo:a"
            assert (await peer.recvfrom(100))[0] == b"echo:b"
            assert transport.stats.datagrams_rejected == 1
            assert transport.stats.datagrams_received == 3
            (record,) = transport_log
            assert format_address(address_of(peer)) in record.getMessage()
            assert record.exc_info is not None

            for _ in range(5):
                await peer.sendto(b"boom", local)
            await peer.sendto(b"c", local)
            assert (await peer.recvfrom(100))[0] == b"echo:c"
            assert transport.stats.datagrams_rejected == 6
            assert len(transport_log) == 1  # rate-limited

            await trio.sleep(11)
            await peer.sendto(b"boom", local)
            await peer.sendto(b"d", local)
            assert (await peer.recvfrom(100))[0] == b"echo:d"
            assert "5 similar messages suppressed" in transport_log[-1].getMessage()
            nursery.cancel_scope.cancel()
    peer.close()


async def test_full_event_channel_counts_and_logs_drops(
    clock: trio.testing.MockClock, transport_log: list[logging.LogRecord]
) -> None:
    peer = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            transport, events, (local,) = await start(nursery, Echo(), bound=2)
            for n in range(5):
                await peer.sendto(b"%d" % n, local)
            for _ in range(5):
                await peer.recvfrom(100)
            assert transport.stats.events_delivered == 2
            assert transport.stats.events_dropped == 3
            assert any("event channel full" in r.getMessage() for r in transport_log)
            assert [events.receive_nowait(), events.receive_nowait()] == [b"0", b"1"]
            nursery.cancel_scope.cancel()
    peer.close()


async def test_closed_event_channel_does_not_stop_the_loop(clock: trio.testing.MockClock) -> None:
    peer = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            transport, events, (local,) = await start(nursery, Echo())
            await events.aclose()
            await peer.sendto(b"x", local)
            assert (await peer.recvfrom(100))[0] == b"echo:x"
            assert transport.stats.events_dropped == 1
            nursery.cancel_scope.cancel()
    peer.close()


async def test_unsendable_datagrams_are_dropped(
    clock: trio.testing.MockClock, transport_log: list[logging.LogRecord]
) -> None:
    peer = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            recorder = Recorder()
            transport, _, _ = await start(nursery, recorder)
            target = address_of(peer)
            recorder.outgoing = [
                (b"x" * 70_000, target),  # EMSGSIZE
                (b"name", ("localhost", target[1])),  # not an IP literal: never resolved
                (b"v6", ("::1", target[1])),  # no IPv6 socket bound
                (b"port", ("127.0.0.1", 70_000)),
                (b"good", target),
            ]
            transport.kick()
            assert (await peer.recvfrom(100))[0] == b"good"
            assert transport.stats.send_errors == 4
            assert transport.stats.datagrams_sent == 1
            assert transport_log
            nursery.cancel_scope.cancel()
    peer.close()


def _full_once(monkeypatch: pytest.MonkeyPatch, method: str, transport: UdpTransport) -> None:
    """The transport's socket refuses one *method* call with EAGAIN: the kernel's send buffer
    cannot be filled reliably on loopback."""
    (transport_socket,) = transport.sockets
    real = getattr(socket.socket, method)
    refusals = [BlockingIOError(errno.EAGAIN, "send buffer full")]

    def with_a_full_buffer(sock: socket.socket, *args: object) -> int:
        if sock is transport_socket and refusals:
            raise refusals.pop()
        return int(real(sock, *args))

    monkeypatch.setattr(socket.socket, method, with_a_full_buffer)


@pytest.mark.parametrize(("max_backlog", "delivered"), [(4096, 5), (2, 2)])
async def test_full_send_buffer_queues_in_order(
    clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
    max_backlog: int,
    delivered: int,
) -> None:
    peer = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            recorder = Recorder()
            transport, _, _ = await start(nursery, recorder, max_backlog=max_backlog)
            _full_once(monkeypatch, "sendto", transport)
            # Each of its own size: one sendto each (runs of one size are segmented).
            recorder.outgoing = [(b"%d" % n * (n + 1), address_of(peer)) for n in range(5)]
            transport.kick()
            received = [(await peer.recvfrom(100))[0] for _ in range(delivered)]
            assert received == [b"%d" % n * (n + 1) for n in range(delivered)]
            assert transport.stats.datagrams_sent == delivered
            assert transport.stats.backlog_dropped == 5 - delivered
            nursery.cancel_scope.cancel()
    peer.close()


# ---------------------------------------------------------------- segmented sends


def _frames(count: int, size: int, tag: str) -> list[bytes]:
    return [f"{tag}{n:04d}".encode().ljust(size, b".") for n in range(count)]


async def _receive_all(sock: trio.socket.SocketType, count: int) -> list[bytes]:
    return [(await sock.recvfrom(2048))[0] for _ in range(count)]


async def test_runs_of_one_size_to_one_peer_leave_together_and_arrive_apart_in_order(
        clock: trio.testing.MockClock) -> None:
    busy, quiet = await plain_socket(), await plain_socket()
    to_busy = [*_frames(70, 172, "a"), b"ack", *_frames(3, 172, "b"), *_frames(2, 40, "c")]
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            recorder = Recorder()
            transport, _, _ = await start(nursery, recorder)
            recorder.outgoing = [(data, address_of(busy)) for data in to_busy]
            recorder.outgoing[10:10] = [(b"q1", address_of(quiet))]
            recorder.outgoing.append((b"q2", address_of(quiet)))
            transport.kick()
            assert await _receive_all(busy, len(to_busy)) == to_busy
            assert await _receive_all(quiet, 2) == [b"q1", b"q2"]
            # 64 and 6 of the first run (the kernel takes 64 at a time), 3, then 2; the
            # lone ACK and the quiet peer's two go one by one.
            assert transport.stats.datagrams_segmented == 75
            assert transport.stats.datagrams_sent == len(to_busy) + 2
            nursery.cancel_scope.cancel()
    busy.close()
    quiet.close()


async def test_few_datagrams_for_a_peer_leave_one_by_one(clock: trio.testing.MockClock) -> None:
    peer = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            recorder = Recorder()
            transport, _, _ = await start(nursery, recorder)
            frames = _frames(3, 172, "v")
            recorder.outgoing = [(data, address_of(peer)) for data in frames]
            recorder.outgoing += [(b"x", ("127.0.0.1", port)) for port in (9, 10)]
            transport.kick()
            assert await _receive_all(peer, 3) == frames
            assert transport.stats.datagrams_segmented == 0
            nursery.cancel_scope.cancel()
    peer.close()


async def _two_batches_refused(monkeypatch: pytest.MonkeyPatch,
                               code: int) -> tuple[list[int], TransportStats, Address]:
    """Two flushes of 8 same-size datagrams for one peer while every ``sendmsg`` fails with
    *code*: the ``sendmsg`` calls tried, the transport's counters and its address."""
    tried: list[int] = []

    def sendmsg(sock: socket.socket, *args: object) -> int:
        tried.append(code)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(socket.socket, "sendmsg", sendmsg)
    peer = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            recorder = Recorder()
            transport, _, (local,) = await start(nursery, recorder)
            for batch in ("a", "b"):
                frames = _frames(8, 172, batch)
                recorder.outgoing = [(data, address_of(peer)) for data in frames]
                transport.kick()
                assert await _receive_all(peer, 8) == frames
            nursery.cancel_scope.cancel()
    peer.close()
    return tried, transport.stats, local


async def test_a_path_that_cannot_segment_gets_one_send_per_datagram_from_then_on(
        clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch,
        transport_log: list[logging.LogRecord]) -> None:
    # EIO: no checksum offload on the device.
    tried, stats, local = await _two_batches_refused(monkeypatch, errno.EIO)
    assert len(tried) == 1  # the second batch did not try
    assert (stats.datagrams_segmented, stats.datagrams_sent, stats.send_errors) == (0, 16, 0)
    assert [r.getMessage() for r in transport_log] == [
        f"{format_address(local)} cannot segment UDP ([Errno 5] "
        "Input/output error); one send per datagram"]


async def test_a_run_the_path_refuses_goes_one_by_one_and_the_next_is_tried_again(
        clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch,
        transport_log: list[logging.LogRecord]) -> None:
    # EINVAL: e.g. a segment above the MTU.
    tried, stats, _ = await _two_batches_refused(monkeypatch, errno.EINVAL)
    assert len(tried) == 2
    assert (stats.datagrams_sent, stats.send_errors) == (16, 0)
    assert transport_log == []


async def test_a_kernel_without_segmentation_is_never_asked(
        clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module, "_UDP_SEGMENT", 9999)  # an option it does not know
    tried, _, _ = await _two_batches_refused(monkeypatch, errno.EINVAL)
    assert tried == []


async def test_a_full_send_buffer_queues_a_segmented_run_in_order(
        clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch) -> None:
    peer = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            recorder = Recorder()
            transport, _, _ = await start(nursery, recorder)
            _full_once(monkeypatch, "sendmsg", transport)
            frames = [*_frames(5, 172, "a"), *_frames(5, 100, "b")]
            recorder.outgoing = [(data, address_of(peer)) for data in frames]
            transport.kick()
            # The refused run waits in the backlog and the next run queues behind it.
            assert await _receive_all(peer, 10) == frames
            assert transport.stats.datagrams_sent == 10
            nursery.cancel_scope.cancel()
    peer.close()


async def test_failing_timer_is_retried_without_spinning(
    clock: trio.testing.MockClock,
) -> None:
    peer = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            endpoint = FailingTimer(due=trio.current_time() + 1)
            transport, _, (local,) = await start(nursery, endpoint)
            await trio.sleep(2)
            # Due at t=1, then retried every 0.05 s: about 20 calls in the second that followed.
            assert 2 <= endpoint.timer_calls <= 22
            assert transport.stats.endpoint_errors == endpoint.timer_calls
            await peer.sendto(b"still alive", local)
            await trio.sleep(0.001)
            assert [d for d, _, _ in endpoint.received] == [b"still alive"]
            nursery.cancel_scope.cancel()
    peer.close()


# ---------------------------------------------------------------- sockets


@needs_ipv6
async def test_ipv6_and_ipv4_side_by_side(clock: trio.testing.MockClock) -> None:
    v6_peer = await plain_socket(LOOPBACK_V6)
    v4_peer = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            echo = Echo()
            transport, _, (v6_local, v4_local) = await start(
                nursery, echo, (LOOPBACK_V6, LOOPBACK_V4)
            )
            v6_sock, _ = transport.sockets
            assert v6_sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
            await v6_peer.sendto(b"six", v6_local)
            await v4_peer.sendto(b"four", v4_local)
            assert (await v6_peer.recvfrom(100))[0] == b"echo:six"
            assert (await v4_peer.recvfrom(100))[0] == b"echo:four"
            # The endpoint sees (host, port), not recvfrom's 4-tuple.
            assert [a for _, a, _ in echo.received] == [address_of(v6_peer), address_of(v4_peer)]
            assert format_address(v6_local) == f"[::1]:{v6_local[1]}"
            nursery.cancel_scope.cancel()
    v6_peer.close()
    v4_peer.close()


async def test_tos_is_applied(clock: trio.testing.MockClock) -> None:
    addresses = (LOOPBACK_V4, LOOPBACK_V6) if ipv6_available() else (LOOPBACK_V4,)
    async with trio.open_nursery() as nursery:
        transport, _, _ = await start(nursery, Recorder(), addresses, tos=0xB8)
        v4_sock = transport.sockets[0]
        assert v4_sock.getsockopt(socket.IPPROTO_IP, socket.IP_TOS) == 0xB8
        if len(transport.sockets) == 2:
            v6_sock = transport.sockets[1]
            assert v6_sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS) == 0xB8
        nursery.cancel_scope.cancel()


async def test_bind_error_names_the_address() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(LOOPBACK_V4)
        taken: Address = holder.getsockname()
        send_events, _ = trio.open_memory_channel[object](1)
        transport = UdpTransport(Recorder(), [LOOPBACK_V4, taken], send_events)
        with pytest.raises(BindError) as caught:
            await transport.run()
    assert caught.value.errno == errno.EADDRINUSE
    assert f"127.0.0.1:{taken[1]}" in str(caught.value)
    assert caught.value.address == taken
    assert transport.sockets == ()


@pytest.mark.parametrize(
    ("address", "reason"),
    [(("localhost", 4570), "not an IP address"), (("127.0.0.1", 70000), "port out of range")],
)
async def test_bad_bind_address_is_refused_without_resolving(
    address: Address, reason: str
) -> None:
    send_events, _ = trio.open_memory_channel[object](1)
    with pytest.raises(BindError, match=f"{format_address(address)}: {reason}"):
        await UdpTransport(Recorder(), [address], send_events).run()


async def test_cancellation_closes_the_sockets(clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as nursery:
        transport, _, (local,) = await start(nursery, Recorder())
        sockets = transport.sockets
        assert all(s.fileno() >= 0 for s in sockets)
        nursery.cancel_scope.cancel()
    assert all(s.fileno() == -1 for s in sockets)
    assert transport.local_addresses == []
    # The port is free again.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(local)


async def test_kick_before_run_keeps_datagrams_queued() -> None:
    send_events, _ = trio.open_memory_channel[object](1)
    recorder = Recorder()
    UdpTransport(recorder, [LOOPBACK_V4], send_events).kick()
    assert recorder.flushes == 0


@pytest.mark.parametrize(
    "options", [{"tos": 256}, {"tos": -1}, {"max_batch": 0}, {"max_backlog": 0},
                {"coalesce": -0.001}, {"coalesce": 1}]
)
def test_invalid_options_are_refused(options: dict[str, float]) -> None:
    send_events, _ = trio.open_memory_channel[object](1)
    with pytest.raises(ValueError):
        UdpTransport(Recorder(), [LOOPBACK_V4], send_events, **options)


def test_no_bind_address_is_refused() -> None:
    send_events, _ = trio.open_memory_channel[object](1)
    with pytest.raises(ValueError):
        UdpTransport(Recorder(), [], send_events)


# ---------------------------------------------------------------- rebind (reload)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_rebind_keeps_the_unchanged_socket_and_replies_leave_where_they_came_in(
        clock: trio.testing.MockClock) -> None:
    first, second, third = _free_port(), _free_port(), _free_port()
    peer = await plain_socket()
    with trio.fail_after(TEST_DEADLINE):
        async with trio.open_nursery() as nursery:
            transport, _, _ = await start(nursery, Echo(), (("127.0.0.1", first),))
            kept = transport.sockets[0]
            added, removed = transport.rebind([("127.0.0.1", first), ("127.0.0.1", second)])
            assert (added, removed) == ([("127.0.0.1", second)], [])
            assert transport.sockets[0] is kept
            for port in (first, second):
                await peer.sendto(b"hi", ("127.0.0.1", port))
                data, source = await peer.recvfrom(100)
                assert (data, source[1]) == (b"echo:hi", port)  # answered from that socket
            added, removed = transport.rebind([("127.0.0.1", second), ("127.0.0.1", third)])
            assert (added, removed) == ([("127.0.0.1", third)], [("127.0.0.1", first)])
            assert kept.fileno() == -1  # closed
            await peer.sendto(b"again", ("127.0.0.1", third))
            assert (await peer.recvfrom(100))[1][1] == third
            nursery.cancel_scope.cancel()
    peer.close()


async def test_a_rebind_that_cannot_bind_changes_nothing(clock: trio.testing.MockClock) -> None:
    taken = await plain_socket()
    async with trio.open_nursery() as nursery:
        transport, _, local = await start(nursery, Echo())
        before = transport.sockets
        with pytest.raises(BindError):
            transport.rebind([("127.0.0.1", 0), address_of(taken)])
        assert transport.sockets == before and transport.local_addresses == local
        nursery.cancel_scope.cancel()
    taken.close()
