"""Channel names (iax2.md §8.2)."""

from __future__ import annotations

import pytest

from pbxedge.channelname import (
    Address,
    channel_name,
    configured_address,
    host_label,
    peer_name_at,
)
from pbxedge.config.diagnostics import Origin
from pbxedge.config.iax_models import Peer

ORIGIN = Origin("iax.conf", 1)
PEERS = {
    p.name: p
    for p in [
        Peer(name="a-md5", origin=ORIGIN, host="127.0.0.1", port=4570),
        Peer(name="md5peer", origin=ORIGIN, dynamic=True),
        Peer(name="plainpeer", origin=ORIGIN, dynamic=True),
        Peer(name="far", origin=ORIGIN, host="pbx.example.com"),
    ]
}
REGISTERED: dict[str, Address] = {"plainpeer": ("127.0.0.1", 4571)}


def current(peer: Peer) -> Address | None:
    return REGISTERED.get(peer.name) or configured_address(peer)


def test_channel_name() -> None:
    # an AllStarLink log line (app_rpt #422) and the guest call of the captures
    assert channel_name("173.185.108.179:4569", 9796) == "IAX2/173.185.108.179:4569-9796"
    assert channel_name("plainpeer", 782) == "IAX2/plainpeer-782"


@pytest.mark.parametrize(
    ("addr", "peer"),
    [
        (("127.0.0.1", 4571), "plainpeer"),  # registered from there (the guest call)
        (("127.0.0.1", 4570), "a-md5"),  # static host:port
        (("127.0.0.1", 4572), None),  # the port must match too
        (("192.0.2.1", 4569), None),
    ],
)
def test_peer_name_at(addr: Address, peer: str | None) -> None:
    assert peer_name_at(addr, PEERS, current) == peer


def test_first_peer_in_file_order_wins() -> None:
    both = {"md5peer": ("127.0.0.1", 4571), "plainpeer": ("127.0.0.1", 4571)}
    assert peer_name_at(("127.0.0.1", 4571), PEERS, lambda p: both.get(p.name)) == "md5peer"


@pytest.mark.parametrize(
    ("addr", "peer_name", "user_name", "label"),
    [
        (("127.0.0.1", 4571), "plainpeer", None, "plainpeer"),
        (("127.0.0.1", 4571), "plainpeer", "md5peer", "md5peer"),  # after authentication
        (("127.0.0.1", 4571), None, None, "127.0.0.1:4571"),
        (("2001:db8::1", 4569), None, None, "[2001:db8::1]:4569"),
    ],
)
def test_host_label(
    addr: Address, peer_name: str | None, user_name: str | None, label: str
) -> None:
    assert host_label(addr, peer_name=peer_name, user_name=user_name) == label


def test_configured_address() -> None:
    assert configured_address(PEERS["far"]) == ("pbx.example.com", 4569)
    assert configured_address(PEERS["md5peer"]) is None
