"""``database show`` over the node's store."""

from __future__ import annotations

from pathlib import Path

from pbxedge.control.database_commands import register_database_commands
from pbxedge.control.registry import CommandContext, CommandRegistry
from pbxedge.store import Store


async def test_database_show_by_family_and_keytree(tmp_path: Path) -> None:
    store, problems = Store.open(tmp_path / "state.sqlite3")
    assert problems == []
    with store:
        store.db_put("cidname", "1001", "MD5 Peer")
        store.db_put("blacklist", "555", "1")
        registry = CommandRegistry()
        register_database_commands(registry, store)
        ctx = CommandContext(registry)
        everything = await registry.execute(ctx, "database show")
        assert everything.endswith("2 results found.\n")
        one = await registry.execute(ctx, "database show cidname 1001")
        assert one == f"{'/cidname/1001':<50}: {'MD5 Peer':<25}\n1 results found.\n"
        assert (await registry.execute(ctx, "database show a b c")).startswith("Usage:")
