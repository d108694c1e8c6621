"""``dialplan show``, ``dialplan reload``, ``core show applications|functions``."""

from __future__ import annotations

from pathlib import Path

from dialplan.console import show_applications, show_dialplan, show_functions
from dialplan.engine import Engine
from dialplan.loader import check, load_dialplan
from pbxedge import log
from pbxedge.config.diagnostics import Severity
from pbxedge.control.registry import CommandContext, CommandRegistry

__all__ = ["register_dialplan_commands"]


def register_dialplan_commands(registry: CommandRegistry, engine: Engine,
                               extensions: Path) -> None:
    def show(ctx: CommandContext, args: list[str]) -> str:
        return show_dialplan(engine.plan, " ".join(args) or None)

    def reload(ctx: CommandContext, args: list[str]) -> str:
        problems = check(extensions)
        errors = [p for p in problems if p.severity is Severity.ERROR]
        if errors:
            # A broken file never replaces a working plan; calls keep being routed.
            return "".join(f"{p}\n" for p in errors) + "Dialplan not reloaded.\n"
        # Sharing the run-time table keeps registrations (regcontext) and globals; calls
        # already running finish on the plan they started with.
        engine.reload(load_dialplan(extensions, runtime=engine.plan.runtime))
        log.notice(f"dialplan reloaded from {extensions}")
        return "Dialplan reloaded.\n"

    registry.register("dialplan show", show, summary="Show dialplan",
                      usage="Usage: dialplan show [[exten@]context]\n"
                      "       Show dialplan")
    registry.register("dialplan reload", reload, summary="Reload extensions and *only* extensions",
                      usage="Usage: dialplan reload\n"
                      "       Reload extensions.conf only")
    registry.register("core show applications",
                      lambda ctx, args: show_applications(engine.registry),
                      summary="Shows registered dialplan applications",
                      usage="Usage: core show applications")
    registry.register("core show functions",
                      lambda ctx, args: show_functions(engine.registry),
                      summary="Shows registered dialplan functions",
                      usage="Usage: core show functions")
