"""The reload commands Asterisk admins type, and ``logger …``.

``reload``, ``core reload`` and ``module reload [NAME…]`` reload everything or the named
modules; ``iax2 reload``, ``dialplan reload``, ``moh reload`` and ``logger reload`` one
module each. All go through the node's :class:`~pbxedge.reload.Reloader`.
"""

from __future__ import annotations

import trio

from pbxedge import logchannels
from pbxedge.control.registry import CommandContext, CommandRegistry, Handler, UsageError
from pbxedge.reload import Reloader

__all__ = ["register_reload_commands"]


def register_reload_commands(registry: CommandRegistry, reloader: Reloader) -> None:
    async def reload_all(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return (await reloader.reload()).text()

    async def module_reload(ctx: CommandContext, args: list[str]) -> str:
        if not args:
            return (await reloader.reload()).text()
        return "".join([(await reloader.reload(name)).text() for name in args])

    def one(module: str) -> Handler:
        async def handler(ctx: CommandContext, args: list[str]) -> str:
            if args:
                raise UsageError
            return (await reloader.reload(module)).text()

        return handler

    async def dialplan_reload(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        result = await reloader.reload("pbx_config.so")
        # Asterisk's own answer; the problems (file:line) come before it.
        return "".join(f"{p}\n" for p in result.problems) + (
            "Dialplan reloaded.\n" if result.ok else "Dialplan not reloaded.\n")

    async def logger_rotate(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        commands = logchannels.rotate()
        await trio.to_thread.run_sync(logchannels.run_after_rotate, commands)
        return ""

    def logger_channels(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return logchannels.channels_text()

    for name in ("reload", "core reload"):
        registry.register(name, reload_all, summary="Global reload",
                          usage=f"Usage: {name}\n"
                          "       Reloads every configuration file; with an error in any, "
                          "nothing changes.")
    registry.register("module reload", module_reload,
                      summary="Reload configuration for a module",
                      usage="Usage: module reload [module ...]\n"
                      "       Reloads the named modules (chan_iax2.so, pbx_config.so,\n"
                      "       res_musiconhold.so, indications, cdr, logger), or all of them.")
    for name, module, summary in (
            ("iax2 reload", "chan_iax2.so", "Reload IAX configuration"),
            ("moh reload", "res_musiconhold.so", "Reload MusicOnHold"),
            ("logger reload", "logger", "Reopens the log files")):
        registry.register(name, one(module), summary=summary,
                          usage=f"Usage: {name}\n       {summary}.")
    registry.register("dialplan reload", dialplan_reload,
                      summary="Reload extensions and *only* extensions",
                      usage="Usage: dialplan reload\n       Reload extensions.conf only")
    registry.register("logger rotate", logger_rotate, summary="Rotates and reopens the log files",
                      usage="Usage: logger rotate\n"
                      "       Rotates and reopens the log files (logger.conf rotatestrategy).")
    registry.register("logger show channels", logger_channels, summary="List configured log channels",
                      usage="Usage: logger show channels\n       List configured logger channels.")
