"""Console commands over live registration and qualify data (iax2.md §9, §15.10).

``iax2 show peers [registered] [like RE]``, ``iax2 show peer NAME``, ``iax2 show registry``,
``iax2 unregister PEER`` and ``iax2 register now NAME``, in Asterisk's layouts
(:mod:`pbxedge.registry_views`). ``database show`` (including ``IAX/Registry``) is the
store's own command.
"""

from __future__ import annotations

from typing import Protocol

from pbxedge.control.iax2_commands import like
from pbxedge.control.registry import CommandContext, CommandRegistry, UsageError
from pbxedge.iax2.regclient import RegistryRow
from pbxedge.registry_views import (
    PeerDetail,
    PeerRow,
    peer_not_found,
    show_peer,
    show_peers,
    show_registry,
)

__all__ = ["RegistrationConsole", "register_registration_commands"]


class RegistrationConsole(Protocol):
    """What the commands read and do; :class:`RegistrationService` provides it."""

    def peer_rows(self) -> list[PeerRow]: ...

    async def refresh_locations(self) -> None:
        """Read again where realtime peers registered at other nodes are."""
        ...

    def peer_detail(self, name: str) -> PeerDetail | None: ...

    def registry_rows(self) -> list[RegistryRow]: ...

    def unregister(self, name: str) -> str: ...

    def register_now(self, name: str) -> str: ...


def _peers_args(args: list[str]) -> tuple[bool, str | None]:
    registered = bool(args) and args[0].lower() == "registered"
    pattern = like(args[1:] if registered else args)
    return registered, None if pattern is None else pattern.pattern


def register_registration_commands(registry: CommandRegistry, source: RegistrationConsole) -> None:
    async def peers(ctx: CommandContext, args: list[str]) -> str:
        registered, like = _peers_args(args)
        await source.refresh_locations()
        return show_peers(source.peer_rows(), registered_only=registered, like=like)

    def peer(ctx: CommandContext, args: list[str]) -> str:
        # "load" asks Asterisk to fetch a realtime peer; every peer here is loaded already.
        if len(args) not in (1, 2) or (len(args) == 2 and args[1].lower() != "load"):
            raise UsageError
        detail = source.peer_detail(args[0])
        return peer_not_found(args[0]) if detail is None else show_peer(detail)

    def registry_(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return show_registry(source.registry_rows())

    def unregister(ctx: CommandContext, args: list[str]) -> str:
        if len(args) != 1:
            raise UsageError
        return source.unregister(args[0])

    def register_now(ctx: CommandContext, args: list[str]) -> str:
        if len(args) != 1:
            raise UsageError
        return source.register_now(args[0])

    registry.register(
        "iax2 show peers", peers,
        summary="List defined IAX peers",
        usage="Usage: iax2 show peers [registered] [like <pattern>]\n"
        "       Lists all known IAX2 peers.\n"
        "       Optional 'registered' argument lists only peers with known addresses.\n"
        "       Optional regular expression pattern is used to filter the peer list.",
    )
    registry.register(
        "iax2 show peer", peer,
        summary="Show details on specific IAX peer",
        usage="Usage: iax2 show peer <name>\n"
        "       Display details on specific IAX peer",
    )
    registry.register(
        "iax2 show registry", registry_,
        summary="Display IAX registration status",
        usage="Usage: iax2 show registry\n"
        "       Lists all registration requests and status.",
    )
    registry.register(
        "iax2 unregister", unregister,
        summary="Unregister (force expiration) an IAX2 peer from the registry",
        usage="Usage: iax2 unregister <peername>\n"
        "       Unregister (force expiration) an IAX2 peer from the registry.",
    )
    registry.register(
        "iax2 register now", register_now,
        summary="Register now to an IAX2 server",
        usage="Usage: iax2 register now <username|host>\n"
        "       Starts a new attempt at once for the register => lines whose\n"
        "       username or host is the one given, forgetting any backoff.",
    )
