"""``dialplan show`` and ``core show applications|functions`` on a live engine."""

from __future__ import annotations

from pathlib import Path

from dialplan.engine import Engine
from dialplan.loader import load_dialplan
from pbxedge.control.dialplan_commands import register_dialplan_commands
from pbxedge.control.registry import CommandContext, CommandRegistry

FIRST = "[office]\nexten => 100,1,NoOp(first)\n"


def _console(extensions: Path) -> tuple[Engine, CommandRegistry, CommandContext]:
    engine = Engine(load_dialplan(extensions))
    registry = CommandRegistry()
    register_dialplan_commands(registry, engine)
    return engine, registry, CommandContext(registry)


async def test_applications_and_functions_are_listed(tmp_path: Path) -> None:
    extensions = tmp_path / "extensions.conf"
    extensions.write_text(FIRST)
    _, registry, ctx = _console(extensions)
    applications = await registry.execute(ctx, "core show applications")
    assert "Answer" in applications and "AGI" in applications
    assert "DIALPLAN_EXISTS" in await registry.execute(ctx, "core show functions")
