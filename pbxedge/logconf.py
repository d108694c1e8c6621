"""``logger.conf``: where log lines go, in Asterisk's format.

::

    [general]
    dateformat = %F %T.%3q        ; strftime, plus %Nq for N digits of the second's fraction
    appendhostname = no
    rotatestrategy = sequential    ; none | sequential | rotate | timestamp
    exec_after_rotate = gzip -9 ${filename}.2

    [logfiles]
    console => notice,warning,error
    messages.log => notice,warning,error,verbose(3)
    full.log => [plain]*
    syslog.local0 => warning,error

A relative file name is taken in the node's log folder (``--logdir``, Asterisk's
``astlogdir``). Levels pbxedge never logs (``dtmf``, ``fax``, ``security``, ``trace``) are
accepted and simply never match. Without the file the node keeps its built-in channels: the
console, and ``--log FILE`` when given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pbxedge.config.diagnostics import ConfigError, Diagnostic, Origin, Severity, excerpt
from pbxedge.config.loader import Category, load_config
from pbxedge.config.values import ValueFormError, parse_bool, parse_choice
from pbxedge.log import DEFAULT_DATEFORMAT

__all__ = [
    "ChannelKind",
    "LogChannel",
    "LoggerConfig",
    "RotateStrategy",
    "load_logger_config",
]

class RotateStrategy(StrEnum):
    NONE = "none"  # reopen only: an outside logrotate moved the files
    SEQUENTIAL = "sequential"  # messages -> messages.N, N the first free number (Asterisk's default)
    ROTATE = "rotate"  # messages.0 -> messages.1 ..., then messages -> messages.0
    TIMESTAMP = "timestamp"  # messages -> messages.<unix time>


class ChannelKind(StrEnum):
    CONSOLE = "console"
    FILE = "file"
    SYSLOG = "syslog"


# The levels a channel may name; "verbose" may carry its own level, "*" means all of them.
LEVELS = ("debug", "notice", "warning", "error", "verbose")
_SILENT_LEVELS = ("dtmf", "fax", "security", "trace")
_FORMATTERS = ("default", "plain", "json")
_VERBOSE_N = re.compile(r"verbose\((\d+)\)")
_FORMATTER = re.compile(r"\[(\w*)\]\s*")
_SYSLOG_FACILITIES = (
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog",
    "user", "uucp", *(f"local{n}" for n in range(8)),
)


@dataclass(frozen=True)
class LogChannel:
    """One line of ``[logfiles]``."""

    name: str  # as written: "console", "messages.log", "syslog.local0"
    kind: ChannelKind
    levels: frozenset[str]
    # verbose(N): the channel's own verbose level; None follows the console's verbosity.
    verbose_level: int | None = None
    formatter: str = "default"
    path: Path | None = None  # files only
    facility: str = "user"  # syslog only
    origin: Origin | None = None


@dataclass(frozen=True)
class LoggerConfig:
    dateformat: str = DEFAULT_DATEFORMAT
    rotatestrategy: RotateStrategy = RotateStrategy.SEQUENTIAL
    exec_after_rotate: str = ""
    channels: tuple[LogChannel, ...] = ()
    # False when there is no logger.conf: the node's built-in channels stay.
    present: bool = False
    file_path: Path | None = None

    @property
    def file_channels(self) -> tuple[LogChannel, ...]:
        return tuple(c for c in self.channels if c.kind is ChannelKind.FILE)


@dataclass
class _General:
    dateformat: str = DEFAULT_DATEFORMAT
    appendhostname: bool = False
    rotatestrategy: RotateStrategy = RotateStrategy.SEQUENTIAL
    exec_after_rotate: str = ""
    problems: list[Diagnostic] = field(default_factory=list)


# Options Asterisk has that change nothing here (queues, call ids, the I/O queue).
_ACCEPTED = ("use_callids", "queue_log", "queue_log_to_file", "queue_log_name",
             "queue_log_realtime_use_gmt", "logger_queue_limit", "custom_levels",
             "queue_adaptive_realtime")


def _read_general(category: Category, general: _General) -> None:
    for var in category.variables:
        key = var.name.lower()
        try:
            if key == "dateformat":
                general.dateformat = var.value.strip() or DEFAULT_DATEFORMAT
            elif key == "appendhostname":
                general.appendhostname = parse_bool(var.value)
            elif key == "rotatestrategy":
                general.rotatestrategy = RotateStrategy(
                    parse_choice(var.value, tuple(RotateStrategy)))
            elif key == "exec_after_rotate":
                general.exec_after_rotate = var.value.strip()
            elif key not in _ACCEPTED:
                general.problems.append(Diagnostic(
                    Severity.WARNING, f"unknown option '{excerpt(var.name)}' in [general] (ignored)",
                    var.origin))
        except ValueFormError as exc:
            general.problems.append(Diagnostic(Severity.ERROR, f"{var.name}: {exc}", var.origin))


def _channel(name: str, value: str, origin: Origin, log_dir: Path, hostname: str | None,
             problems: list[Diagnostic]) -> LogChannel | None:
    text = value.strip()
    formatter = "default"
    match = _FORMATTER.match(text)
    if match:
        formatter = match.group(1).lower()
        text = text[match.end():]
        if formatter not in _FORMATTERS:
            problems.append(Diagnostic(
                Severity.ERROR, f"{name}: unknown formatter '[{excerpt(formatter)}]'; "
                f"accepted: {', '.join(f'[{f}]' for f in _FORMATTERS)}", origin))
            return None
    levels: set[str] = set()
    verbose_level: int | None = None
    for word in (w.strip().lower() for w in text.split(",")):
        if not word:
            continue
        if word == "*":
            levels.update(LEVELS)
        elif (found := _VERBOSE_N.fullmatch(word)) is not None:
            levels.add("verbose")
            verbose_level = int(found.group(1))
        elif word in LEVELS:
            levels.add(word)
        elif word not in _SILENT_LEVELS:
            problems.append(Diagnostic(
                Severity.WARNING, f"{name}: unknown log level '{excerpt(word)}' (ignored); "
                f"known: {', '.join(LEVELS)}, verbose(N), *", origin))
    lowered = name.lower()
    if lowered == "console":
        return LogChannel(name, ChannelKind.CONSOLE, frozenset(levels), verbose_level,
                          formatter, origin=origin)
    if lowered == "syslog" or lowered.startswith("syslog."):
        facility = lowered.partition(".")[2] or "user"
        if facility not in _SYSLOG_FACILITIES:
            problems.append(Diagnostic(
                Severity.ERROR, f"{name}: unknown syslog facility '{excerpt(facility)}'; "
                f"accepted: {', '.join(_SYSLOG_FACILITIES)}", origin))
            return None
        return LogChannel(name, ChannelKind.SYSLOG, frozenset(levels), verbose_level,
                          formatter, facility=facility, origin=origin)
    path = Path(name) if name.startswith("/") else log_dir / name
    if hostname:
        path = path.with_name(f"{path.name}.{hostname}")
    return LogChannel(name, ChannelKind.FILE, frozenset(levels), verbose_level, formatter,
                      path=path, origin=origin)


def load_logger_config(path: Path, log_dir: Path,
                       hostname: str | None = None) -> tuple[LoggerConfig, list[Diagnostic]]:
    """Read *path*; a missing file gives the built-in setup and no problem.

    *hostname* is what ``appendhostname=yes`` appends (the machine's name by default).
    """
    if not path.is_file():
        return LoggerConfig(), []
    try:
        config = load_config(path)
    except ConfigError as exc:
        return LoggerConfig(), exc.diagnostics
    problems = list(config.diagnostics)
    general = _General()
    sections = config.sections()
    for category in sections:
        if category.name.lower() == "general":
            _read_general(category, general)
    problems.extend(general.problems)
    if general.appendhostname and hostname is None:
        import socket

        hostname = socket.gethostname()
    suffix = hostname if general.appendhostname else None
    channels: list[LogChannel] = []
    for category in sections:
        lowered = category.name.lower()
        if lowered == "general":
            continue
        if lowered != "logfiles":
            problems.append(Diagnostic(
                Severity.WARNING, f"unknown section [{excerpt(category.name)}] (ignored)",
                category.origin))
            continue
        for var in category.variables:
            channel = _channel(var.name.strip(), var.value, var.origin, log_dir, suffix,
                               problems)
            if channel is not None:
                channels.append(channel)
    return LoggerConfig(general.dateformat, general.rotatestrategy, general.exec_after_rotate,
                        tuple(channels), present=True, file_path=path), problems
