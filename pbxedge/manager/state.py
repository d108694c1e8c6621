"""The parts of the node the manager's actions act on (:class:`ManagerContext`), given by
the node when it builds the manager."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from dialplan.engine import Engine
from pbxedge.control.registry import CommandRegistry
from pbxedge.iax2.regclient import RegistryRow
from pbxedge.registry_views import PeerRow
from pbxedge.store import Store

__all__ = ["IaxView", "ManagerContext", "Reloader", "reload_not_supported"]

# The node's reload: called with the Reload action's Module (None: everything); returns
# None when done, or the reason it was not (the action's error Message).
Reloader = Callable[[str | None], Awaitable[str | None]]


async def reload_not_supported(module: str | None) -> str | None:
    return "Module does not support reload"


@dataclass(frozen=True)
class IaxView:
    """The IAX2 side as IAXpeers, IAXpeerlist, IAXregistry and IAXnetstats see it."""

    peers: Callable[[], list[PeerRow]]
    registrations: Callable[[], list[RegistryRow]]
    # One tuple per call, the values of a ``iax2 show netstats`` row.
    netstats: Callable[[], list[tuple[object, ...]]]


@dataclass
class ManagerContext:
    """The parts of the node the actions use."""

    engine: Engine
    commands: CommandRegistry
    store: Store | None = None
    reload: Reloader = reload_not_supported
    request_stop: Callable[[], None] = lambda: None
    iax: IaxView | None = None
    cdr_enabled: Callable[[], bool] = lambda: True  # cdr.conf enable, as reloaded
    realtime_enabled: bool = False
