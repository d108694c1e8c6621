"""Two in-process nodes registering to each other over loopback UDP."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from pbxedge.config.iax_models import IaxConfig
from pbxedge.iax2.regclient import RegState
from pbxedge.iaxservice.registrations import RegistrationService
from pbxedge.keys import KeyStore, keygen_main
from tests.iaxservice.reg_stack import (
    free_udp_port,
    load_config,
    running_node,
    wait_for,
)


def _general(port: int, extra: str = "") -> str:
    return (
        f"[general]\nbindport = {port}\nbindaddr = 127.0.0.1\nminregexpire = 60\n"
        f"maxregexpire = 3600\nregcontext = iaxregistrations\n{extra}\n"
    )


def _friend(name: str, auth: str, credential: str) -> str:
    return (
        f"[{name}]\ntype = friend\nhost = dynamic\ntrunk = yes\nqualify = yes\n"
        f"auth = {auth}\n{credential}\n"
    )


def _registrar(tmp_path: Path, port: int, extra: str = "") -> IaxConfig:
    """Node "a": accepts the registration of friend nodeb (MD5, secret "s")."""
    return load_config(tmp_path, "a", _general(port) + _friend("nodeb", "md5", "secret = s")
                       + extra)


def _registrant(tmp_path: Path, name: str, port: int, registrar_port: int,
                secret: str = "s") -> IaxConfig:
    """A node registering as nodeb to the registrar at *registrar_port*."""
    return load_config(tmp_path, name, _general(port)
                       + f"register => nodeb:{secret}@127.0.0.1:{registrar_port}\n")


def _state(reg: RegistrationService) -> RegState:
    return reg.registry_rows()[0].state


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    for name in ("akey", "bkey"):
        assert keygen_main(["--dir", str(tmp_path / "keys"), name]) == 0
    store, problems = KeyStore.load(tmp_path / "keys")
    assert not problems
    return store


# (auth, credential line for the peer section, register => secret part) per side
_METHODS = {
    "md5": (("md5", "secret = bsecret", "bsecret"), ("md5", "secret = asecret", "asecret")),
    "plaintext": (
        ("plaintext", "secret = bsecret", "bsecret"),
        ("plaintext", "secret = asecret", "asecret"),
    ),
    "rsa": (("rsa", "inkeys = bkey", "[bkey]"), ("rsa", "inkeys = akey", "[akey]")),
}


@pytest.mark.parametrize("method", sorted(_METHODS))
async def test_both_ways_at_once(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, keys: KeyStore, method: str
) -> None:
    (b_auth, b_cred, b_secret), (a_auth, a_cred, a_secret) = _METHODS[method]
    a_port, b_port = free_udp_port(), free_udp_port()
    a_conf = load_config(tmp_path, "a", _general(a_port)
                         + f"register => nodea:{a_secret}@127.0.0.1:{b_port}\n"
                         + _friend("nodeb", b_auth, b_cred))
    b_conf = load_config(tmp_path, "b", _general(b_port)
                         + f"register => nodeb:{b_secret}@127.0.0.1:{a_port}\n"
                         + _friend("nodea", a_auth, a_cred))
    async with running_node(a_conf, keys=keys) as a, running_node(b_conf, keys=keys, seed=2) as b:
        await wait_for(lambda: _state(a.reg) is RegState.REGISTERED
                       and _state(b.reg) is RegState.REGISTERED)
        assert a.reg.address_of("nodeb") == ("127.0.0.1", b_port)
        assert b.reg.address_of("nodea") == ("127.0.0.1", a_port)
        await wait_for(lambda: a.reg.qualify.status("nodeb").text.startswith("OK")
                       and b.reg.qualify.status("nodea").text.startswith("OK"))
        peers = await a.cli("iax2 show peers")
        assert peers.splitlines()[1].startswith("nodeb            127.0.0.1")
        assert f"(D)  (null)                                    {b_port} (T)      OK (1 ms)" \
            in peers
        assert peers.endswith("1 iax2 peers [1 online, 0 offline, 0 unmonitored]\n")
        registry = await b.cli("iax2 show registry")
        row = registry.splitlines()[1]
        assert row.startswith(f"127.0.0.1:{a_port}")
        assert "nodeb" in row and f"127.0.0.1:{b_port}" in row
        assert row.endswith("60  Registered")
        # Refreshes keep both registered well past several refresh periods.
        for _ in range(8):
            await trio.sleep(50)
            assert a.reg.address_of("nodeb") is not None
            assert b.reg.address_of("nodea") is not None
        await wait_for(lambda: _state(a.reg) is RegState.REGISTERED
                       and _state(b.reg) is RegState.REGISTERED, 5)


async def test_registrar_restart_mid_registration_recovers(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    a_port, b_port = free_udp_port(), free_udp_port()
    a_conf = _registrar(tmp_path, a_port)
    b_conf = _registrant(tmp_path, "b", b_port, a_port)
    async with running_node(b_conf, seed=2) as b:
        # No registrar yet: the client times out and backs off.
        await wait_for(lambda: _state(b.reg) is RegState.TIMEOUT)
        async with running_node(a_conf) as a:
            await wait_for(lambda: _state(b.reg) is RegState.REGISTERED)
            # Stop the registrar while the client is between REGAUTH and REGACK.
            b.reg.register_now("nodeb")
            await wait_for(lambda: _state(b.reg) is not RegState.REGISTERED, 5)
        async with running_node(a_conf, seed=3) as a:
            start = trio.current_time()
            await wait_for(lambda: _state(b.reg) is RegState.REGISTERED)
            # Within one backoff step, not one refresh period.
            assert trio.current_time() - start < 45
            assert a.reg.address_of("nodeb") == ("127.0.0.1", b_port)


async def test_client_restart_moves_the_registration_to_its_new_port(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    a_port, b_port, b_port2 = free_udp_port(), free_udp_port(), free_udp_port()
    a_conf = _registrar(tmp_path, a_port)
    b_conf = _registrant(tmp_path, "b", b_port, a_port)
    b_conf2 = _registrant(tmp_path, "b2", b_port2, a_port)
    async with running_node(a_conf) as a:
        async with running_node(b_conf, seed=2) as b:
            await wait_for(lambda: _state(b.reg) is RegState.REGISTERED)
        assert a.reg.address_of("nodeb") == ("127.0.0.1", b_port)
        async with running_node(b_conf2, seed=3) as b:
            await wait_for(lambda: _state(b.reg) is RegState.REGISTERED)
            assert a.reg.address_of("nodeb") == ("127.0.0.1", b_port2)
            assert a.engine.plan.exists("iaxregistrations", "nodeb")


async def test_expiry_removes_address_and_extension(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    a_port, b_port = free_udp_port(), free_udp_port()
    a_conf = _registrar(tmp_path, a_port)
    b_conf = _registrant(tmp_path, "b", b_port, a_port)
    async with running_node(a_conf) as a:
        async with running_node(b_conf, seed=2) as b:
            await wait_for(lambda: _state(b.reg) is RegState.REGISTERED)
        assert a.engine.plan.exists("iaxregistrations", "nodeb")
        registered_at = trio.current_time()
        await wait_for(lambda: a.reg.address_of("nodeb") is None)
        # Granted 60 s plus the 10 s grace, counted from the last refresh.
        assert trio.current_time() - registered_at <= 70.5
        assert not a.engine.plan.exists("iaxregistrations", "nodeb")
        assert "UNKNOWN" in await a.cli("iax2 show peers")


async def test_rejected_client_backs_off_and_recovers_when_fixed(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    a_port, b_port = free_udp_port(), free_udp_port()
    a_conf = _registrar(tmp_path, a_port)
    bad = _registrant(tmp_path, "b", b_port, a_port, secret="x")
    good = _registrant(tmp_path, "b2", b_port, a_port)
    async with running_node(a_conf) as a:
        async with running_node(bad, seed=2) as b:
            await wait_for(lambda: _state(b.reg) is RegState.REJECTED)
            assert a.reg.address_of("nodeb") is None
        async with running_node(good, seed=2) as b:
            await wait_for(lambda: _state(b.reg) is RegState.REGISTERED)


async def test_console_unregister_and_register_now(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    a_port, b_port = free_udp_port(), free_udp_port()
    a_conf = _registrar(tmp_path, a_port,
                        "[static]\ntype = peer\nhost = 127.0.0.1\nport = 4999\n")
    b_conf = _registrant(tmp_path, "b", b_port, a_port)
    async with running_node(a_conf) as a, running_node(b_conf, seed=2) as b:
        await wait_for(lambda: _state(b.reg) is RegState.REGISTERED)
        assert await a.cli("iax2 unregister nodeb") == "Peer nodeb unregistered\n"
        assert await a.cli("iax2 unregister nodeb") == "Peer nodeb not registered\n"
        assert await a.cli("iax2 unregister static") == "Peer static not registered\n"
        assert await a.cli("iax2 unregister ghost") == "Peer unknown: ghost. Not unregistered\n"
        assert not a.engine.plan.exists("iaxregistrations", "nodeb")
        assert await b.cli("iax2 register now other") == (
            "No registration matches 'other' (give a register => username or host)\n")
        assert await b.cli("iax2 register now nodeb") == (
            f"Registering 'nodeb' to '127.0.0.1:{a_port}' now\n")
        await wait_for(lambda: a.reg.address_of("nodeb") is not None)
        detail = await a.cli("iax2 show peer nodeb")
        assert f"  Addr->IP     : 127.0.0.1 Port {b_port}\n" in detail
        expire = next(line for line in detail.splitlines() if "Expire" in line)
        assert 50 <= int(expire.split(":")[1]) <= 60
        assert "  Dynamic      : Yes\n" in detail
        assert await a.cli("iax2 show peer ghost") == "Peer ghost not found.\n\n"
        registered = await a.cli("iax2 show peers registered")
        assert "nodeb" in registered and "static" in registered
        assert "static" not in await a.cli("iax2 show peers like ^node")
        assert (await a.cli("iax2 show peers like [")).startswith("Usage: iax2 show peers")
