"""``database show`` on the node's state store (Asterisk's astdb view)."""

from __future__ import annotations

from pbxedge.control.registry import CommandContext, CommandRegistry, UsageError
from pbxedge.store import Store

__all__ = ["register_database_commands"]


def register_database_commands(registry: CommandRegistry, store: Store) -> None:
    def show(ctx: CommandContext, args: list[str]) -> str:
        if len(args) > 2:
            raise UsageError
        return store.database_show("/".join(args))

    registry.register(
        "database show", show,
        summary="Shows database contents",
        usage="Usage: database show [family [keytree]]\n"
        "       Shows pbxedge database contents, optionally restricted\n"
        "       to a given family, or family and keytree.",
    )
