"""``dialplan show|reload`` and ``core show applications|functions`` on a live engine."""

from __future__ import annotations

from pathlib import Path

from dialplan.engine import Engine
from dialplan.loader import load_dialplan
from pbxedge.control.dialplan_commands import register_dialplan_commands
from pbxedge.control.registry import CommandContext, CommandRegistry

FIRST = "[office]\nexten => 100,1,NoOp(first)\n"
SECOND = "[office]\nexten => 100,1,NoOp(second)\nexten => 200,1,Hangup()\n"


def _console(extensions: Path) -> tuple[Engine, CommandRegistry, CommandContext]:
    engine = Engine(load_dialplan(extensions))
    registry = CommandRegistry()
    register_dialplan_commands(registry, engine, extensions)
    return engine, registry, CommandContext(registry)


async def test_reload_swaps_the_plan_and_keeps_run_time_extensions(tmp_path: Path) -> None:
    extensions = tmp_path / "extensions.conf"
    extensions.write_text(FIRST)
    engine, registry, ctx = _console(extensions)
    engine.plan.add_extension("iaxregistrations", "alice", 1, "NoOp", "alice")
    assert "NoOp(first)" in await registry.execute(ctx, "dialplan show office")

    extensions.write_text(SECOND)
    assert await registry.execute(ctx, "dialplan reload") == "Dialplan reloaded.\n"
    shown = await registry.execute(ctx, "dialplan show")
    assert "NoOp(second)" in shown and "'200' =>" in shown and "NoOp(first)" not in shown
    assert engine.plan.exists("iaxregistrations", "alice")  # registrations survive


async def test_a_broken_file_leaves_the_running_plan_alone(tmp_path: Path) -> None:
    extensions = tmp_path / "extensions.conf"
    extensions.write_text(FIRST)
    engine, registry, ctx = _console(extensions)
    plan = engine.plan
    extensions.write_text("[office]\nexten => 100,banana,NoOp()\n")
    reply = await registry.execute(ctx, "dialplan reload")
    assert reply.endswith("Dialplan not reloaded.\n")
    assert f"{extensions}:2: error:" in reply
    assert engine.plan is plan


async def test_applications_and_functions_are_listed(tmp_path: Path) -> None:
    extensions = tmp_path / "extensions.conf"
    extensions.write_text(FIRST)
    _, registry, ctx = _console(extensions)
    applications = await registry.execute(ctx, "core show applications")
    assert "Answer" in applications and "AGI" in applications
    assert "DIALPLAN_EXISTS" in await registry.execute(ctx, "core show functions")
