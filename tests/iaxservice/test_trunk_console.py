"""Console commands about trunking: iax2 show trunks, iax2 set mtu, iax2 set debug trunk."""

from __future__ import annotations

import logging

import pytest
import trio

from pbxedge.iax2.frames import MetaTrunkFrame, TrunkEntry
from tests.iaxservice.stacks import running
from tests.iaxservice.test_console import _pair

FOOTER = "(tick 20 ms, MTU 1240, up to 128000 bytes per peer, timestamps off)\n"


async def test_show_trunks_lists_each_trunk_peer_with_its_rates(autojump_clock: object) -> None:
    callee, caller = _pair()
    async with running(caller):
        assert await caller.cli("iax2 show trunks") == (
            "Peer             Address                Calls   Tx dgm/s  Tx bytes/s   Rx dgm/s"
            "  Rx bytes/s  Dropped\n" f"0 trunk peers {FOOTER}")
        trunks = caller.iax.endpoint.trunks
        peer = trunks.join(("127.0.0.1", callee.port), trio.current_time())
        for tick in range(100):  # two seconds of one call's voice
            peer.add(5, tick * 20, b"\xff" * 160, trio.current_time())
            trunks.tick(trio.current_time())
            await trio.sleep(0.02)
        rows = (await caller.cli("iax2 show trunks")).splitlines()
        assert rows[1].split() == ["a-md5", f"127.0.0.1:{callee.port}", "1", "50.0", "8600",
                                   "0.0", "0", "0"]
        assert rows[2] == f"1 trunk peer {FOOTER}".rstrip("\n")


async def test_set_mtu(autojump_clock: object) -> None:
    _, caller = _pair()
    settings = caller.iax.endpoint.trunks.settings
    async with running(caller):
        assert await caller.cli("iax2 set mtu 0") == "Trunk MTU control disabled (mtu was 1240)\n"
        assert settings.mtu == 0
        assert await caller.cli("iax2 set mtu 100") == "Trunk MTU must be between 172 and 4000\n"
        assert await caller.cli("iax2 set mtu 600") == "Trunk MTU changed from 0 to 600\n"
        assert await caller.cli("iax2 set mtu default") == "Trunk MTU changed from 600 to 1240\n"
        assert settings.mtu == 1240
        assert (await caller.cli("iax2 set mtu lots")).startswith("Usage: iax2 set mtu")


async def test_debug_trunk_logs_each_trunk_datagram(autojump_clock: object,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    _callee, caller = _pair()
    async with running(caller):
        assert await caller.cli("iax2 set debug trunk on") == "IAX2 Trunk Debugging Enabled\n"
        caplog.set_level(logging.WARNING, "pbxedge.iax2.debug")
        meta = MetaTrunkFrame(40, (TrunkEntry(7, b"\x01" * 160), TrunkEntry(9, b"\x02" * 160)),
                              False)
        sock = trio.socket.socket(type=trio.socket.SOCK_DGRAM)
        await sock.bind(("127.0.0.1", 0))
        await sock.sendto(meta.encode(), ("127.0.0.1", caller.port))
        await trio.sleep(0.1)
        port = sock.getsockname()[1]
        assert [r.getMessage() for r in caplog.records] == [
            f"Rx-Trunk 127.0.0.1:{port}: 2 call chunks of 2 calls in 336 bytes, trunk ts 40"]
        assert await caller.cli("iax2 set debug trunk off") == (
            "IAX2 Trunk Debugging Disabled\n")
        await sock.sendto(meta.encode(), ("127.0.0.1", caller.port))
        await trio.sleep(0.1)
        assert len(caplog.records) == 1
        sock.close()
        assert (await caller.cli("iax2 set debug trunk maybe")).startswith("Usage:")
