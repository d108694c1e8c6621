"""``iax2 show users`` (peers are shown by the registration service, which knows their state)."""

from __future__ import annotations

import re
from collections.abc import Callable

from pbxedge.config.iax_models import IaxConfig
from pbxedge.control.iax2_show import show_users
from pbxedge.control.registry import CommandContext, CommandRegistry, UsageError

__all__ = ["like", "register_iax2_commands"]


def like(args: list[str]) -> re.Pattern[str] | None:
    """``[like <regex>]`` (POSIX extended in Asterisk; Python's syntax covers the usual cases)."""
    if not args:
        return None
    if len(args) != 2 or args[0].lower() != "like":
        raise UsageError
    try:
        return re.compile(args[1])
    except re.error as exc:
        raise UsageError from exc


def register_iax2_commands(registry: CommandRegistry, config: Callable[[], IaxConfig]) -> None:
    """*config* returns the configuration in force (it changes on reload)."""

    def users(ctx: CommandContext, args: list[str]) -> str:
        return show_users(config(), like(args))

    registry.register(
        "iax2 show users", users,
        summary="List defined IAX users",
        usage="Usage: iax2 show users [like <pattern>]\n"
        "       Lists all known IAX2 users.\n"
        "       Optional regular expression pattern is used to filter the user list.",
    )
