"""Where peers are right now, as the call layer needs it.

The registration service knows where dynamic peers registered from and what qualify
measured; :class:`StaticPeerDirectory` knows only the configuration and serves as the
fallback (and in tests).
"""

from __future__ import annotations

from typing import Protocol

from pbxedge.channelname import peer_name_at
from pbxedge.config.iax_models import IaxConfig, Peer
from pbxedge.iax2.dialstring import PeerRuntime

__all__ = ["Address", "PeerDirectory", "StaticPeerDirectory"]

Address = tuple[str, int]


class PeerDirectory(Protocol):
    def address_of(self, peer: str) -> Address | None: ...

    def runtime(self, peer: str) -> PeerRuntime: ...

    def peer_at(self, addr: Address) -> str | None: ...


class StaticPeerDirectory:
    """Configured ``host``/``port`` (or ``defaultip``) only; no qualify figures."""

    def __init__(self, config: IaxConfig) -> None:
        self._peers = config.peers

    def _configured(self, peer: Peer) -> Address | None:
        if peer.host and not peer.dynamic:
            return peer.host, peer.port
        if peer.defaultip:
            return peer.defaultip, peer.port
        return None

    def address_of(self, peer: str) -> Address | None:
        found = self._peers.get(peer)
        return self._configured(found) if found is not None else None

    def runtime(self, peer: str) -> PeerRuntime:
        return PeerRuntime(address=self.address_of(peer))

    def peer_at(self, addr: Address) -> str | None:
        return peer_name_at(addr, self._peers, self._configured)
