"""Real pbxedge processes registering to each other, through restarts and packet loss."""

from __future__ import annotations

import re
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pbxedge.iax2.enums import IaxSubclass
from tests.integration.conftest import free_udp_port
from tests.integration.regnodes import (
    RegNode,
    friend,
    general,
    keygen,
    peer_row,
    registered_row,
)
from tests.integration.relay import Direction, LossyRelay, drop_iax, outages

REGISTRY = "iax2 show registry"
PEERS = "iax2 show peers"


@pytest.fixture
def nodes(node_dir: Path) -> Iterator[list[RegNode]]:
    """Nodes a test creates; every one still running is stopped at the end."""
    created: list[RegNode] = []
    yield created
    for node in created:
        node.stop()


def _pair(
    folder: Path, nodes: list[RegNode], method: str, *, a_port: int | None = None,
    a_target: int | None = None, b_target: int | None = None,
) -> tuple[RegNode, RegNode]:
    """A and B, each registering to the other (through *_target ports when given)."""
    a_port, b_port = a_port or free_udp_port(), free_udp_port()
    if method == "rsa":
        _share_keys(folder)
        a_secret, b_secret = "[akey]", "[bkey]"
        a_cred, b_cred = "inkeys = akey", "inkeys = bkey"
    else:
        a_secret, b_secret = "asecret", "bsecret"
        a_cred, b_cred = "secret = asecret", "secret = bsecret"
    a = RegNode(folder / "a", a_port, general(a_port)
                + f"register => nodea:{a_secret}@127.0.0.1:{a_target or b_port}\n"
                + friend("nodeb", b_cred, method))
    b = RegNode(folder / "b", b_port, general(b_port)
                + f"register => nodeb:{b_secret}@127.0.0.1:{b_target or a_port}\n"
                + friend("nodea", a_cred, method))
    nodes.extend([a, b])
    return a, b


def _share_keys(folder: Path) -> None:
    """akey and bkey made once: each side gets its own private key and the other's public."""
    made = folder / "made"
    keygen(made, "akey")
    keygen(made, "bkey")
    for side, own, other in (("a", "akey", "bkey"), ("b", "bkey", "akey")):
        keys = folder / side / "keys"
        keys.mkdir(parents=True)
        shutil.copy2(made / f"{own}.key", keys / f"{own}.key")
        shutil.copy2(made / f"{other}.pub", keys / f"{other}.pub")


@pytest.mark.parametrize("method", ["md5", "plaintext", "rsa"])
def test_both_ways_at_once(node_dir: Path, nodes: list[RegNode], method: str) -> None:
    a, b = _pair(node_dir, nodes, method)
    a.start()
    b.start()
    a.wait_for(REGISTRY, registered_row(b.port, "nodea"))
    b.wait_for(REGISTRY, registered_row(a.port, "nodeb"))
    peers = a.wait_for(PEERS, peer_row("nodeb", b.port))
    assert "1 iax2 peers [1 online, 0 offline, 0 unmonitored]" in peers
    assert re.search(r"\(T\)", peers)
    b.wait_for(PEERS, peer_row("nodea", a.port))
    detail = a.rx("iax2 show peer nodeb")
    assert f"  Addr->IP     : 127.0.0.1 Port {b.port}\n" in detail
    assert "  Trunk        : Yes\n" in detail
    stored = a.rx("database show IAX/Registry")
    assert re.search(rf"^/IAX/Registry/nodeb\s+: 127\.0\.0\.1:{b.port}:\d+\s*$", stored, re.M)
    for secret in ("asecret", "bsecret"):
        assert secret not in a.rx(PEERS) + detail + a.rx(REGISTRY)


def test_registration_adds_and_unregister_removes_the_regcontext_extension(
    node_dir: Path, nodes: list[RegNode]
) -> None:
    a, b = _pair(node_dir, nodes, "md5")
    a.start()
    b.start()
    a.wait_for(PEERS, peer_row("nodeb", b.port))
    plan = a.wait_for("dialplan show iaxregistrations", r"'nodeb' =>")
    assert "NoOp(nodeb)" in plan
    assert a.rx("iax2 unregister nodeb") == "Peer nodeb unregistered\n"
    assert "'nodeb' =>" not in a.rx("dialplan show iaxregistrations")


def test_registrar_restarted_mid_registration(node_dir: Path, nodes: list[RegNode]) -> None:
    a_port = free_udp_port()
    with LossyRelay(("127.0.0.1", a_port)) as relay:
        b_port = free_udp_port()
        a = RegNode(node_dir / "a", a_port, general(a_port) + friend("nodeb", "secret = s"))
        b = RegNode(node_dir / "b", b_port, general(b_port)
                    + f"register => nodeb:s@127.0.0.1:{relay.client_port}\n")
        nodes.extend([a, b])
        a.start()
        b.start()
        b.wait_for(REGISTRY, registered_row(relay.client_port, "nodeb"))
        # Let A's REGACKs get lost, so B's next attempt hangs between REGAUTH and REGACK…
        relay.rule = drop_iax(Direction.TO_CLIENT, IaxSubclass.REGACK)
        b.rx("iax2 register now nodeb")
        b.wait_for(REGISTRY, r"\sAuth\. Sent$")
        # …then restart the registrar under it. Nobody touches B again.
        a.stop(signal.SIGKILL)
        relay.rule = lambda direction, data, index: False
        a.start()
        b.wait_for(REGISTRY, registered_row(relay.client_port, "nodeb"))
        a.wait_for(PEERS, peer_row("nodeb", relay.server_port))


def test_client_restarted_on_a_new_port(node_dir: Path, nodes: list[RegNode]) -> None:
    a, b = _pair(node_dir, nodes, "md5")
    a.start()
    b.start()
    a.wait_for(PEERS, peer_row("nodeb", b.port))
    b.stop()
    moved_port = free_udp_port()
    b.port = moved_port
    b.body = re.sub(r"bindport = \d+", f"bindport = {moved_port}", b.body)
    b.start()
    a.wait_for(PEERS, peer_row("nodeb", moved_port))
    b.wait_for(REGISTRY, registered_row(a.port, "nodeb"))


def test_both_recover_from_bursts_of_loss(node_dir: Path, nodes: list[RegNode]) -> None:
    a_port = free_udp_port()
    with LossyRelay(("127.0.0.1", a_port)) as relay:
        # Both directions go dark for 1.5 s out of every 4 s: a quarter of the datagrams
        # and more than a third of the time.
        relay.rule = outages(every=4.0, lasting=1.5)
        a, b = _pair(node_dir, nodes, "md5", a_port=a_port, a_target=relay.server_port,
                     b_target=relay.client_port)
        a.start()
        b.start()
        b.wait_for(REGISTRY, registered_row(relay.client_port, "nodeb"))
        a.wait_for(REGISTRY, registered_row(relay.server_port, "nodea"))
        a.wait_for(PEERS, peer_row("nodeb", relay.server_port))
        b.wait_for(PEERS, peer_row("nodea", relay.client_port))
        # Fresh attempts through the lossy relay until both directions have lost datagrams
        # in an outage (and at least three rounds); the pause between rounds makes the
        # attempts span several outage cycles instead of one quiet stretch.
        give_up = time.monotonic() + 30.0
        rounds = 0
        while (rounds < 3 or min(relay.dropped.values()) == 0) and time.monotonic() < give_up:
            b.rx("iax2 register now nodeb")
            a.rx("iax2 register now nodea")
            b.wait_for(REGISTRY, registered_row(relay.client_port, "nodeb"))
            a.wait_for(REGISTRY, registered_row(relay.server_port, "nodea"))
            rounds += 1
            time.sleep(0.5)
        assert min(relay.dropped.values()) > 0, relay.dropped
        a.wait_for(PEERS, peer_row("nodeb", relay.server_port))


def test_restart_keeps_registrations_with_their_remaining_time(
    node_dir: Path, nodes: list[RegNode]
) -> None:
    a, b = _pair(node_dir, nodes, "md5")
    a.body = a.body.replace("minregexpire = 60", "minregexpire = 600").replace(
        "maxregexpire = 3600", "maxregexpire = 600")
    a.start()
    b.start()
    a.wait_for(PEERS, peer_row("nodeb", b.port))
    b.stop()
    before = _expire(a.rx("iax2 show peer nodeb"))
    assert 0 < before <= 600
    a.stop()
    a.start()
    # The console answers as soon as the node starts; the restore follows a moment later.
    detail = a.wait_for("iax2 show peer nodeb", rf"Addr->IP     : 127\.0\.0\.1 Port {b.port}$")
    after = _expire(detail)
    assert 0 < after <= before
    stored = a.rx("database show IAX/Registry")
    left = int(re.findall(rf"127\.0\.0\.1:{b.port}:(\d+)", stored)[0])
    # The database view rounds up, the console truncates.
    assert after <= left <= before + 1


def _expire(detail: str) -> int:
    match = re.search(r"^  Expire       : (-?\d+)$", detail, re.M)
    assert match, detail
    return int(match.group(1))
