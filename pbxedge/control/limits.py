"""What the console may hold of the node (set from the command line, used by the server).

Apart from the server so that ``pbxedge -rx`` does not import trio to read the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConsoleLimits"]


@dataclass(frozen=True)
class ConsoleLimits:
    max_clients: int = 64
    """Connections served at once; more are refused with a reason."""
    idle_timeout: float = 60.0
    """Seconds a connection may wait for its next request, or leave a reply unread."""
