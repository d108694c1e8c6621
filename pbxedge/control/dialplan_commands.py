"""``dialplan show``, ``core show applications|functions`` (``dialplan reload`` is a reload
command, :mod:`pbxedge.control.reload_commands`)."""

from __future__ import annotations

from dialplan.console import show_applications, show_dialplan, show_functions
from dialplan.engine import Engine
from pbxedge.control.registry import CommandContext, CommandRegistry

__all__ = ["register_dialplan_commands"]


def register_dialplan_commands(registry: CommandRegistry, engine: Engine) -> None:
    def show(ctx: CommandContext, args: list[str]) -> str:
        return show_dialplan(engine.plan, " ".join(args) or None)

    registry.register("dialplan show", show, summary="Show dialplan",
                      usage="Usage: dialplan show [[exten@]context]\n"
                      "       Show dialplan")
    registry.register("core show applications",
                      lambda ctx, args: show_applications(engine.registry),
                      summary="Shows registered dialplan applications",
                      usage="Usage: core show applications")
    registry.register("core show functions",
                      lambda ctx, args: show_functions(engine.registry),
                      summary="Shows registered dialplan functions",
                      usage="Usage: core show functions")
