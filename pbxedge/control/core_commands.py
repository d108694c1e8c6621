"""``core …`` and ``help`` console commands, in Asterisk's output layouts."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pbxedge import __version__, log
from pbxedge.control.registry import CommandContext, CommandRegistry, UsageError
from pbxedge.paths import NodePaths

__all__ = ["CoreInfo", "format_uptime", "register_core_commands"]

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_WEEK = 7 * _DAY
_YEAR = 365 * _DAY
_UNITS = (("year", _YEAR), ("week", _WEEK), ("day", _DAY), ("hour", _HOUR), ("minute", _MINUTE))


@dataclass
class CoreInfo:
    """Facts about the running node that the core commands report."""

    paths: NodePaths
    started_at: float = field(default_factory=time.time)
    last_reload: float = field(default_factory=time.time)
    clock: Callable[[], float] = time.time


def format_uptime(seconds: int) -> str:
    """Asterisk's ``print_uptimestr``: ``1 minute, 5 seconds``.

    Like Asterisk, a unit is used only when strictly exceeded (60 s is "60 seconds").
    """
    parts: list[str] = []
    for name, size in _UNITS:
        if seconds > size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    if seconds > 0 or not parts:
        parts.append(f"{seconds} second{'' if seconds == 1 else 's'}")
    return ", ".join(parts)


def _version_line() -> str:
    uname = platform.uname()
    return (
        f"pbxedge {__version__} running on {uname.node} on a {uname.machine} "
        f"running {uname.system} {uname.release} with Python {platform.python_version()}\n"
    )


def _uptime_text(info: CoreInfo, args: list[str]) -> str:
    if args not in ([], ["seconds"]):
        raise UsageError
    now = info.clock()
    up = max(0, int(now - info.started_at))
    reload_age = max(0, int(now - info.last_reload))
    if args:
        return f"System uptime: {up}\nLast reload: {reload_age}\n"
    return f"System uptime: {format_uptime(up)}\nLast reload: {format_uptime(reload_age)}\n"


def _setting(label: str, value: object) -> str:
    return f"  {label + ':':<29}{value}\n"


def _settings_text(info: CoreInfo) -> str:
    uname = platform.uname()
    paths = info.paths
    return "".join(
        [
            "\nPBX Core settings\n-----------------\n",
            _setting("Version", __version__),
            _setting("Root console verbosity", log.verbosity()),
            _setting("Debug level", log.debug_level()),
            _setting("Startup time", time.strftime("%H:%M:%S", time.localtime(info.started_at))),
            _setting(
                "Last reload time", time.strftime("%H:%M:%S", time.localtime(info.last_reload))
            ),
            _setting("System", f"{uname.system}/{uname.release} on {uname.machine}"),
            _setting("System name", uname.node),
            _setting("Running directory", os.getcwd()),
            _setting("Process ID", os.getpid()),
            "\n* Directories\n  -------------\n",
            _setting("Configuration file", paths.config),
            _setting("Extensions file", paths.extensions),
            _setting("IAX2 Keys directory", paths.keys),
            _setting("AGI Scripts directory", paths.agi_bin),
            _setting("State directory", paths.state),
            _setting("Database", paths.database),
            _setting("Control socket", paths.control_socket),
            "\n",
        ]
    )


@dataclass(frozen=True)
class _Level:
    """A log level the console can set, with the words of Asterisk's replies."""

    get: Callable[[], int]
    set: Callable[[int], None]
    was: str  # "Verbosity" / "Core debug"


_VERBOSE = _Level(log.verbosity, log.set_verbosity, "Verbosity")
_DEBUG = _Level(log.debug_level, log.set_debug_level, "Core debug")


def _set_level(level: _Level, args: list[str]) -> str:
    """``core set verbose|debug [atleast] N|off``, with Asterisk's replies."""
    if args and args[0].lower() == "atleast":
        at_least, args = True, args[1:]
    else:
        at_least = False
    if len(args) != 1:
        raise UsageError
    if args[0].lower() == "off":
        new = 0
    elif args[0].isdigit():
        new = int(args[0])
    else:
        raise UsageError
    old = level.get()
    if at_least and new < old:
        new = old
    level.set(new)
    if new == 0:
        return f"{level.was} is now OFF\n" if old > 0 else ""
    if new == old:
        return f"{level.was} is at least {new}\n"
    return f"{level.was} was {old} and is now {new}\n"


def register_core_commands(registry: CommandRegistry, info: CoreInfo) -> None:
    def show_version(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return _version_line()

    def show_uptime(ctx: CommandContext, args: list[str]) -> str:
        return _uptime_text(info, args)

    def show_settings(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return _settings_text(info)

    def set_verbose(ctx: CommandContext, args: list[str]) -> str:
        return _set_level(_VERBOSE, args)

    def set_debug(ctx: CommandContext, args: list[str]) -> str:
        return _set_level(_DEBUG, args)

    def stop_now(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        ctx.request_stop()
        return ""

    def show_help(ctx: CommandContext, args: list[str]) -> str:
        return ctx.registry.help_text(args)

    registry.register(
        "core show version", show_version,
        summary="Display version info",
        usage="Usage: core show version\n       Shows pbxedge version information.",
    )
    registry.register(
        "core show uptime", show_uptime,
        summary="Show uptime information",
        usage="Usage: core show uptime [seconds]\n"
        "       Shows system uptime and time since the last reload; 'seconds' prints plain seconds.",
    )
    registry.register(
        "core show settings", show_settings,
        summary="Show some core settings",
        usage="Usage: core show settings\n       Show core system settings and paths.",
    )
    registry.register(
        "core set verbose", set_verbose,
        summary="Set level of verbose chattiness",
        usage="Usage: core set verbose [atleast] <level|off>\n"
        "       Sets the level of verbose messages to be displayed.",
    )
    registry.register(
        "core set debug", set_debug,
        summary="Set level of debug chattiness",
        usage="Usage: core set debug [atleast] <level|off>\n"
        "       Sets the level of debug messages to be displayed.",
    )
    registry.register(
        "core stop now", stop_now,
        summary="Shut down pbxedge immediately",
        usage="Usage: core stop now\n       Hangs up all calls and exits pbxedge.",
    )
    registry.register(
        "core show help", show_help,
        summary="Display help list, or specific help on a command",
        usage="Usage: core show help [topic]\n"
        "       Lists commands starting with topic, or the usage of one command.",
    )
    registry.register(
        "help", show_help,
        summary="Display help list, or specific help on a command",
        usage="Usage: help [topic]\n"
        "       Lists commands starting with topic, or the usage of one command.",
    )
