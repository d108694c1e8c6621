"""``keys show`` over the keys the node loaded."""

from __future__ import annotations

from pbxedge.control.keys_commands import register_keys_commands
from pbxedge.control.registry import CommandContext, CommandRegistry
from pbxedge.keys import KeyStore
from tests.vectors import asterisk_vectors


async def test_keys_show_prints_the_loaded_keys() -> None:
    # The shared private keys are world-readable and so refused; the public ones load.
    keys, _problems = KeyStore.load(asterisk_vectors() / "keys")
    registry = CommandRegistry()
    register_keys_commands(registry, keys)
    ctx = CommandContext(registry)
    shown = await registry.execute(ctx, "keys show")
    assert shown == keys.show_text()
    assert "iaxpeer            PUBLIC   [Loaded]" in shown
    assert (await registry.execute(ctx, "keys show extra")).startswith("Usage: keys show")
