"""``keys show``: the RSA keys the node loaded (res_crypto's command and layout)."""

from __future__ import annotations

from collections.abc import Callable

from pbxedge.control.registry import CommandContext, CommandRegistry, UsageError
from pbxedge.keys import KeyStore

__all__ = ["register_keys_commands"]


def register_keys_commands(registry: CommandRegistry, keys: Callable[[], KeyStore]) -> None:
    """*keys* returns the keys in force (a reload reads them again)."""

    def show(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return keys().show_text()

    registry.register(
        "keys show", show,
        summary="Displays RSA key information",
        usage="Usage: keys show\n"
        "       Displays information about RSA keys known by pbxedge",
    )
