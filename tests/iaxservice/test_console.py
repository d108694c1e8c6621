"""Console commands about calls, in Asterisk's layouts."""

from __future__ import annotations

from types import SimpleNamespace

import trio

from dialplan.dialer import DialResult, DialStatus
from pbxedge.iaxservice.channel_commands import show_netstats
from pbxedge.keys import KeyStore
from tests.dialplan.fakes import FakeChannel
from tests.iax2.link import transfer
from tests.iax2.test_endpoint import CLIENT, SERVER, linked_pair, mini_voice
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

CHANNELS_HEADER = (
    "Channel               Peer                                      Username    ID (Lo/Rem)  "
    "Seq (Tx/Rx)  Lag      Jitter  JitBuf  Format  FirstMsg    LastMsg\n"
)
NETSTATS_HEADER = (
    "                                -------- LOCAL ---------------------  -------- REMOTE "
    "--------------------\n"
    "Channel                    RTT  Jit  Del  Lost   %  Drop  OOO  Kpkts  Jit  Del  Lost   %  "
    "Drop  OOO  Kpkts FirstMsg    LastMsg\n"
)


def _pair() -> tuple[Stack, Stack]:
    callee = build_stack(callee_iax_conf(free_udp_port()), CALLEE_EXTENSIONS, KeyStore([]))
    caller = build_stack(caller_iax_conf(free_udp_port(), callee.port), CALLER_EXTENSIONS,
                         KeyStore([]))
    return callee, caller


async def test_idle_node_layouts(autojump_clock: object) -> None:
    callee, _ = _pair()
    async with running(callee):
        assert await callee.cli("iax2 show channels") == CHANNELS_HEADER + (
            "0 active IAX channels\n")
        assert await callee.cli("iax2 show netstats") == NETSTATS_HEADER + (
            "0 active IAX channels\n")
        # Asterisk's text (asterisk-cli-outputs.txt, "iax2 show stats"), then pbxedge's counters.
        assert await callee.cli("iax2 show stats") == (
            "    IAX Statistics\n---------------------\n"
            "Outstanding frames: 0 (0 ingress, 0 egress)\n"
            "0 timed and 0 untimed transmits; MTU 0/0/1240\n"
            "Packets in transmit queue: 0 dead, 0 final, 0 total\n\n"
            "Datagrams: 0 received, 0 sent\n"
            "Voice frames: 0 received, 0 sent\n"
            "Calls: 0 processed, 0 active\n"
            "Dropped: 0 malformed, 0 undecryptable, 0 for unknown calls, 0 invalid tokens\n"
            "Stateless replies: 0\n")
        assert await callee.cli("core show channels") == (
            "Channel              Location             State   Application(Data)             \n"
            "0 active channels\n0 active calls\n0 calls processed\n")
        usage = await callee.cli("iax2 show callnumber usage")
        assert usage.startswith("Address" + " " * 39 + "Callno Usage Callno Limit\n")
        assert "Non-CallToken Validation Callno Limit: 8192\n" in usage
        assert "Regular Callno Available:              16382\n" in usage
        assert await callee.cli("iax2 show callnumber usage 10.1.1.1") == (
            usage.splitlines(keepends=True)[0]
            + "No call number table entries for 10.1.1.1 found\n")
        assert await callee.cli("channel request hangup IAX2/x-1") == (
            "IAX2/x-1 is not a known channel\n")


async def test_debug_switches(autojump_clock: object) -> None:
    callee, caller = _pair()
    async with running(caller):
        assert await caller.cli("iax2 set debug on") == "IAX2 Debugging Enabled\n"
        assert caller.iax.debug.enabled
        assert await caller.cli("iax2 set debug peer a-md5") == (
            f"IAX2 Debugging Enabled for IP: 127.0.0.1:{callee.port}\n")
        assert caller.iax.debug.only == ("127.0.0.1", callee.port)
        assert await caller.cli("iax2 set debug off") == "IAX2 Debugging Disabled\n"
        assert not caller.iax.debug.enabled
        assert (await caller.cli("iax2 set debug sideways")).startswith("Usage:")


async def test_live_call_in_every_listing_then_hung_up_from_the_console(
    autojump_clock: object,
) -> None:
    callee, caller = _pair()
    async with running(callee, caller) as nursery:
        channel = FakeChannel(name="Local/test-1")
        done = trio.Event()
        results: list[DialResult] = []

        async def dial() -> None:
            results.append(await caller.calls.dialer.dial(channel, ["IAX2/a-md5/600"], 30, ""))
            done.set()

        nursery.start_soon(dial)
        await caller.wait_until_answered()
        ((leg, leg_callno),) = caller.calls.channels()
        ((inbound, in_callno),) = callee.calls.channels()
        assert leg.name == f"IAX2/a-md5-{leg_callno}"
        assert inbound.name == f"IAX2/md5peer-{in_callno}"

        rows = (await callee.cli("iax2 show channels")).splitlines()
        assert rows[-1] == "1 active IAX channel"
        row = rows[1]
        assert row.startswith(f"{inbound.name:<20.20}  127.0.0.1")
        assert f"  md5peer     {in_callno:05d}/{leg_callno:05d}  " in row
        assert "  -0001ms  0000ms  ulaw    Rx:NEW" in row

        netstats = (await callee.cli("iax2 show netstats")).splitlines()
        assert netstats[2].startswith(f"{inbound.name:<24} ")
        assert netstats[-1] == "1 active IAX channel"

        core = (await callee.cli("core show channels")).splitlines()
        assert core[1].startswith(f"{inbound.name:<20.20} ")
        # Answer() waits up to 500 ms for the caller's audio (none comes), then Wait(30).
        await trio.sleep(0.6)
        core = (await callee.cli("core show channels")).splitlines()
        assert core[1].startswith(f"{inbound.name:<20.20} {'600@from-iax:2':<20} Up      Wait(30)")
        assert core[-3:] == ["1 active channel", "1 active call", "1 call processed"]
        detail = await callee.cli(f"core show channel {inbound.name}")
        assert f"           Name: {inbound.name}\n" in detail
        assert "  NativeFormats: (ulaw)\n    WriteFormat: ulaw\n     ReadFormat: ulaw\n" in detail
        assert "      Extension: 600\n       Priority: 2\n    Application: Wait\n" in detail

        assert await callee.cli(f"channel request hangup {inbound.name}") == (
            f"Requested Hangup on channel '{inbound.name}'\n")
        await done.wait()
        assert results == [DialResult(DialStatus.ANSWER, 16)]
        while callee.calls.channels():
            await trio.sleep(0.01)
        assert (await callee.cli("core show channels")).endswith(
            "0 active channels\n0 active calls\n1 call processed\n")


def test_netstats_remote_columns_are_the_rr_of_the_peers_pong() -> None:
    client, server, a, _b = linked_pair()
    for ms in (20, 60, 40):
        server.receive_datagram(mini_voice(a, ms), CLIENT, 1.0)
    client.handle_timer(21.0)  # the call's first PING, and a LAGRQ
    transfer(client, server, CLIENT, 21.0)
    transfer(server, client, SERVER, 21.0)  # PONG with the server's RR IEs, LAGRP
    service = SimpleNamespace(iax=SimpleNamespace(endpoint=client), channel_of=lambda _: None)
    [row] = show_netstats(service).splitlines()[2:-1]  # type: ignore[arg-type]
    columns = row.split()
    assert columns[0] == "(None)"
    # LOCAL after the RTT: no jitter buffer, and no audio reached the client.
    assert columns[2:9] == ["-1", "0", "-1", "-1", "0", "0", "0"]
    # REMOTE: the server's 3 frames (0 Kpkts), one of them out of order.
    assert columns[9:16] == ["0", "0", "0", "0", "0", "1", "0"]
    assert client.call_info(a).remote_rr.packets == 3


def test_netstats_local_columns_come_from_the_jitter_buffer() -> None:
    from pbxedge.media.jitterbuffer import JitterBufferSettings

    _client, server, a, b = linked_pair()
    server.set_jitterbuffer(b, JitterBufferSettings(), 1.0)
    for index, ms in enumerate((20, 40, 60, 100, 120)):  # the frame at 80 ms never comes
        server.receive_datagram(mini_voice(a, ms), CLIENT, 1.0 + index * 0.02 + (index % 2) * 0.03)
    server.handle_timer(2.0)
    service = SimpleNamespace(iax=SimpleNamespace(endpoint=server), channel_of=lambda _: None)
    [row] = show_netstats(service).splitlines()[2:-1]  # type: ignore[arg-type]
    columns = row.split()
    info = server.call_info(b)
    assert info.jitterbuffer and info.local_rr.jitter > 0
    assert columns[2:4] == [str(info.local_rr.jitter), str(info.local_rr.delay)]
    assert columns[4] == str(info.local_rr.loss_count) != "-1"
