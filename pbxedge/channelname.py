"""IAX2 channel names: ``IAX2/<host>-<callno>`` (``ast_iax2_new``, chan_iax2.c 6008/6016).

``<host>`` is, in order of precedence (iax2.md §8.2):

* inbound, after successful authentication: the matched user's name (8281);
* the name of the peer whose address is the call's ip:port (``iax2_getpeername``), which
  is also the outbound case when a configured peer is dialled;
* otherwise ``ip:port``.

Example from the captures: a guest call from 127.0.0.1:4571 was named
``IAX2/plainpeer-782`` because peer ``plainpeer`` was registered from that address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping

from pbxedge.config.iax_models import Peer
from pbxedge.iax2.showframe import format_addr

__all__ = [
    "Address",
    "channel_name",
    "configured_address",
    "host_label",
    "peer_name_at",
]

Address = tuple[str, int]


def channel_name(host_label: str, callno: int) -> str:
    """``IAX2/<host>-<callno>`` with our local call number in decimal."""
    return f"IAX2/{host_label}-{callno}"


def host_label(addr: Address, *, peer_name: str | None = None, user_name: str | None = None) -> str:
    """The ``<host>`` part: the authenticated user, else the peer at *addr*, else ip:port."""
    return user_name or peer_name or format_addr(*addr)


def peer_name_at(
    addr: Address,
    peers: Mapping[str, Peer],
    current_address: Callable[[Peer], Address | None],
) -> str | None:
    """The first peer (file order) whose current address is exactly *addr*.

    *current_address* is what the node knows: where a dynamic peer registered from, a
    static peer's resolved ``host``/``port`` (see :func:`configured_address`). Several peers
    registered from one address is common (one client, several accounts); Asterisk then
    returns whichever its hash table yields first, pbxedge the first in file order.
    """
    host, port = addr
    for peer in peers.values():
        current = current_address(peer)
        if current is not None and _same_ip(current[0], host) and current[1] == port:
            return peer.name
    return None


def configured_address(peer: Peer) -> Address | None:
    """A static peer's address as configured (None for dynamic peers)."""
    return (peer.host, peer.port) if peer.host and not peer.dynamic else None


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b
