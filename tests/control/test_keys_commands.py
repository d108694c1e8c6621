"""``keys show`` over the keys the node loaded."""

from __future__ import annotations

from pathlib import Path

from pbxedge.control.keys_commands import register_keys_commands
from pbxedge.control.registry import CommandContext, CommandRegistry
from pbxedge.keys import KeyStore
from tests.vectors import copy_keys


async def test_keys_show_prints_the_loaded_keys(tmp_path: Path) -> None:
    # World-readable private keys are refused; the public ones load and are all that is shown.
    keys, problems = KeyStore.load(copy_keys(tmp_path / "keys", private_mode=0o644))
    assert len(problems) == 2 and all("has mode 0644" in problem for problem in problems)
    registry = CommandRegistry()
    register_keys_commands(registry, lambda: keys)
    ctx = CommandContext(registry)
    shown = await registry.execute(ctx, "keys show")
    assert shown == keys.show_text()
    assert "iaxpeer            PUBLIC   [Loaded]" in shown
    assert "PRIVATE" not in shown and shown.endswith("\n2 known RSA keys.\n")
    assert (await registry.execute(ctx, "keys show extra")).startswith("Usage: keys show")
