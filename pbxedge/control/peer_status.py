"""What the console shows about a peer at run time, and who supplies it.

The registration and qualify layers know a peer's current address and round-trip
time; the console only formats them.  They meet through :class:`PeerStatusProvider`.
Until a layer provides one, :class:`ConfiguredPeerStatus` answers from the
configuration alone (static address, no measurement yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

__all__ = [
    "ConfiguredPeerStatus",
    "PeerHealth",
    "PeerRuntime",
    "PeerStatusProvider",
    "health",
    "status_text",
]


@dataclass(frozen=True)
class PeerRuntime:
    """Run-time facts about one peer.

    ``last_ms`` follows Asterisk's ``lastms``: 0 = not measured yet, -1 = no answer
    to the last POKE, > 0 = last round-trip time in ms.
    """

    address: tuple[str, int] | None = None
    last_ms: int = 0
    # Asterisk prints its scheduler id here; -1 means "no registration pending".
    expire: int = -1


class PeerStatusProvider(Protocol):
    def runtime(self, peer_name: str) -> PeerRuntime | None:
        """The peer's run-time state, or None when nothing is known beyond its config."""


class ConfiguredPeerStatus:
    """Knows nothing at run time: every peer is as configured, never measured."""

    def runtime(self, peer_name: str) -> PeerRuntime | None:
        return None


class PeerHealth(Enum):
    ONLINE = "online"
    OFFLINE = "offline"
    UNMONITORED = "unmonitored"


def status_text(max_ms: int, last_ms: int) -> str:
    """Asterisk's ``peer_status`` wording for ``iax2 show peers`` / ``show peer``."""
    if max_ms == 0:
        return "Unmonitored"
    if last_ms < 0:
        return "UNREACHABLE"
    if last_ms > max_ms:
        return f"LAGGED ({last_ms} ms)"
    if last_ms > 0:
        return f"OK ({last_ms} ms)"
    return "UNKNOWN"


def health(max_ms: int, last_ms: int) -> PeerHealth:
    """The footer bucket: OK and LAGGED are online; UNKNOWN and UNREACHABLE offline."""
    if max_ms == 0:
        return PeerHealth.UNMONITORED
    return PeerHealth.ONLINE if last_ms > 0 else PeerHealth.OFFLINE
