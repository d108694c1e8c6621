"""Registrations survive a restart with the time they had left, never more."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from pbxedge.iax2.regclient import RegState
from pbxedge.store import Store
from tests.iaxservice.reg_stack import (
    WallClock,
    free_udp_port,
    load_config,
    running_node,
    wait_for,
)


def _confs(tmp_path: Path) -> tuple[object, object, int]:
    a_port, b_port = free_udp_port(), free_udp_port()
    a_conf = load_config(tmp_path, "a", (
        f"[general]\nbindport = {a_port}\nbindaddr = 127.0.0.1\nmaxregexpire = 600\n"
        "regcontext = iaxregistrations\n"
        "[nodeb]\ntype = friend\nhost = dynamic\nsecret = s\nqualify = yes\n"
        "[gone]\ntype = friend\nhost = dynamic\nsecret = s\n"))
    b_conf = load_config(tmp_path, "b", (
        f"[general]\nbindport = {b_port}\nbindaddr = 127.0.0.1\n"
        f"register => nodeb:s@127.0.0.1:{a_port}\n"))
    return a_conf, b_conf, b_port


async def test_restart_keeps_unexpired_registrations_and_their_remaining_time(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    a_conf, b_conf, b_port = _confs(tmp_path)
    wall = WallClock()
    path = tmp_path / "state.sqlite3"
    store, problems = Store.open(path, clock=wall)
    assert not problems
    with store:
        async with running_node(a_conf, store=store, wall_clock=wall) as a:  # type: ignore[arg-type]
            async with running_node(b_conf, seed=2) as b:  # type: ignore[arg-type]
                await wait_for(lambda: b.reg.registry_rows()[0].state is RegState.REGISTERED)
            left_before = a.reg.registrar.expires_in("nodeb", trio.current_time())
        assert left_before is not None
        shown = [line.rstrip() for line in store.database_show("IAX/Registry").splitlines()]
        assert shown == [
            f"/IAX/Registry/nodeb                               : 127.0.0.1:{b_port}:60",
            "1 results found.",
        ]
        # A registration that ran out while the node was down must not come back.
        store.save_registration("gone", "127.0.0.1", 5000, wall() + 5, 60)
        await trio.sleep(20)  # the node is down for 20 s

    store, problems = Store.open(path, clock=wall)
    assert not problems
    with store:
        async with running_node(a_conf, store=store, wall_clock=wall) as a:  # type: ignore[arg-type]
            assert a.reg.address_of("nodeb") == ("127.0.0.1", b_port)
            assert a.reg.address_of("gone") is None
            left = a.reg.registrar.expires_in("nodeb", trio.current_time())
            assert left is not None and left <= left_before - 20
            assert a.engine.plan.exists("iaxregistrations", "nodeb")
            detail = await a.cli("iax2 show peer nodeb")
            assert f"  Expire       : {left}\n" in detail
            # The restored peer is poked at once; nobody answers any more.
            await wait_for(lambda: a.reg.qualify.status("nodeb").text == "UNREACHABLE")
            # And it expires at its original time, then leaves the store too.
            await wait_for(lambda: a.reg.address_of("nodeb") is None)
            assert store.load_registrations(wall()) == []
            assert not a.engine.plan.exists("iaxregistrations", "nodeb")
