"""``iax2 show users|peers|peer`` console commands (argument parsing + registration)."""

from __future__ import annotations

import re
from collections.abc import Callable

from pbxedge.config.iax_models import IaxConfig
from pbxedge.control.iax2_show import show_peer, show_peers, show_users
from pbxedge.control.peer_status import PeerStatusProvider
from pbxedge.control.registry import CommandContext, CommandRegistry, UsageError

__all__ = ["register_iax2_commands"]


def _like(args: list[str]) -> re.Pattern[str] | None:
    """``[like <regex>]`` (POSIX extended in Asterisk; Python's syntax covers the usual cases)."""
    if not args:
        return None
    if len(args) != 2 or args[0].lower() != "like":
        raise UsageError
    try:
        return re.compile(args[1])
    except re.error as exc:
        raise UsageError from exc


def register_iax2_commands(
    registry: CommandRegistry,
    config: Callable[[], IaxConfig],
    status: PeerStatusProvider | None = None,
) -> None:
    """*config* returns the configuration in force (it changes on reload).

    With *status*, ``iax2 show peers``/``iax2 show peer`` are served from the configuration
    and that provider; a node with a registration service registers its own, live ones.
    """

    def users(ctx: CommandContext, args: list[str]) -> str:
        return show_users(config(), _like(args))

    def peers(ctx: CommandContext, args: list[str]) -> str:
        registered_only = bool(args) and args[0].lower() == "registered"
        pattern = _like(args[1:] if registered_only else args)
        assert status is not None
        return show_peers(config(), status, pattern, registered_only)

    def peer(ctx: CommandContext, args: list[str]) -> str:
        # "load" asks Asterisk to fetch a realtime peer; all peers here are loaded already.
        if len(args) not in (1, 2) or (len(args) == 2 and args[1].lower() != "load"):
            raise UsageError
        assert status is not None
        return show_peer(config(), status, args[0])

    registry.register(
        "iax2 show users", users,
        summary="List defined IAX users",
        usage="Usage: iax2 show users [like <pattern>]\n"
        "       Lists all known IAX2 users.\n"
        "       Optional regular expression pattern is used to filter the user list.",
    )
    if status is None:
        return
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
