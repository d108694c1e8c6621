"""A reload applied to running registration services: what stays, what starts again, what
ends (two in-process nodes on loopback UDP, virtual time)."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from pbxedge.iax2.regclient import RegState
from pbxedge.iaxservice.registrations import RegistrationService
from pbxedge.keys import KeyStore
from tests.iaxservice.reg_stack import free_udp_port, load_config, running_node, wait_for


def _general(port: int) -> str:
    return (f"[general]\nbindport = {port}\nbindaddr = 127.0.0.1\n"
            "regcontext = iaxregistrations\n")


def _friend(name: str) -> str:
    return f"\n[{name}]\ntype = friend\nhost = dynamic\nqualify = yes\nsecret = s\n"


def _states(reg: RegistrationService) -> dict[str, RegState]:
    return {row.username: row.state for row in reg.registry_rows()}


async def test_a_reload_keeps_what_did_not_change(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    a_port, b_port = free_udp_port(), free_udp_port()
    a_conf = load_config(tmp_path, "a", _general(a_port) + _friend("nodeb") + _friend("nodec"))
    lines = (f"register => nodeb:s@127.0.0.1:{a_port}\n"
             f"register => nodec:s@127.0.0.1:{a_port}\n")
    b_conf = load_config(tmp_path, "b", _general(b_port) + lines)
    async with running_node(a_conf) as a, running_node(b_conf, seed=2) as b:
        registered = {"nodeb": RegState.REGISTERED, "nodec": RegState.REGISTERED}
        await wait_for(lambda: _states(b.reg) == registered)
        await wait_for(lambda: a.reg.qualify.status("nodeb").text.startswith("OK"))
        clients = [line.client for line in b.reg.outbound.lines]
        refreshes = [client.get_timer() for client in clients]

        # The same register => lines: the registrations and their schedules stay.
        b.reg.reconfigure(load_config(tmp_path, "b", _general(b_port) + lines), KeyStore([]))
        assert [line.client for line in b.reg.outbound.lines] == clients
        assert [client.get_timer() for client in clients] == refreshes

        # nodec leaves a's configuration: its registration ends, nodeb's stays, and so does
        # nodeb's qualify status.
        notes = a.reg.reconfigure(load_config(tmp_path, "a", _general(a_port) + _friend("nodeb")),
                                  KeyStore([]))
        assert notes[0] == "peers: 1 (0 added, 1 removed, 1 registrations ended)"
        assert a.reg.address_of("nodec") is None
        assert not a.engine.plan.exists("iaxregistrations", "nodec")
        assert a.reg.address_of("nodeb") == ("127.0.0.1", b_port)
        assert a.engine.plan.exists("iaxregistrations", "nodeb")
        assert a.reg.qualify.status("nodeb").text.startswith("OK")

        # A changed line registers again at once: with a wrong secret it is rejected...
        wrong = f"register => nodeb:bad@127.0.0.1:{a_port}\n"
        b.reg.reconfigure(load_config(tmp_path, "b", _general(b_port) + wrong), KeyStore([]))
        assert len(b.reg.outbound.lines) == 1
        await wait_for(lambda: _states(b.reg) == {"nodeb": RegState.REJECTED}, 10)
        # ...and with the right one registered again.
        right = f"register => nodeb:s@127.0.0.1:{a_port}\n"
        b.reg.reconfigure(load_config(tmp_path, "b", _general(b_port) + right), KeyStore([]))
        await wait_for(lambda: _states(b.reg) == {"nodeb": RegState.REGISTERED}, 10)
