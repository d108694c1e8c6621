"""The channels of ``logger.conf`` (:mod:`pbxedge.logconf`): console, files and syslog,
each with its own levels and formatter, swapped as a whole on reload, and ``logger rotate``.

:func:`apply_channels` opens every channel of the new configuration before it removes the
old ones, so a file that cannot be opened leaves the logging as it was.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pbxedge import log
from pbxedge.logconf import ChannelKind, LogChannel, LoggerConfig, RotateStrategy

__all__ = ["apply_channels", "channels_text", "rotate", "run_after_rotate"]

SYSLOG_SOCKET = "/dev/log"


class _ChannelFilter(logging.Filter):
    """Only the channel's levels. The console always shows VERBOSE up to the verbosity, as
    Asterisk's console does; ``verbose(N)`` gives a channel its own verbose level."""

    def __init__(self, channel: LogChannel) -> None:
        super().__init__()
        self._levels = channel.levels
        self._verbose_level = channel.verbose_level
        self._always_verbose = channel.kind is ChannelKind.CONSOLE

    def lowest_level(self) -> int:
        """The lowest record level this channel can let through now."""
        return log.lowest_shown_level(
            verbose=self._always_verbose or "verbose" in self._levels,
            verbose_level=self._verbose_level, debug="debug" in self._levels)

    def filter(self, record: logging.LogRecord) -> bool:
        levelno = record.levelno
        if levelno in (log.VERBOSE, logging.INFO):
            if not self._always_verbose and "verbose" not in self._levels:
                return False
            limit = log.verbosity() if self._verbose_level is None else self._verbose_level
            return log.verbose_level_of(record) <= limit
        if levelno == log.DEBUG:
            return ("debug" in self._levels
                    and getattr(record, "debug_level", 1) <= log.debug_level())
        return log.LEVEL_NAMES.get(levelno, "error") in self._levels


class _JsonFormatter(logging.Formatter):
    """Asterisk's ``[json]`` formatter: one object a line."""

    def __init__(self, dateformat: str) -> None:
        super().__init__()
        self._dateformat = dateformat
        self._hostname = socket.gethostname()

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({
            "hostname": self._hostname,
            "timestamp": log.strftime(self._dateformat, record.created),
            "identifiers": {"lwp": record.process},
            "logmsg": {"level": record.levelname, "file": record.filename,
                       "line": record.lineno, "function": record.funcName,
                       "message": record.getMessage()},
        })


class _FileChannel(logging.FileHandler):
    """A log file that ``logger rotate`` can archive and reopen."""

    def rotate(self, strategy: RotateStrategy) -> Path:
        """Archive the file per *strategy* and reopen it; returns what
        ``exec_after_rotate`` calls ``${filename}``."""
        self.acquire()
        try:
            if self.stream is not None:
                self.stream.close()
            named = _archive(Path(self.baseFilename), strategy)
            self.stream = self._open()
        finally:
            self.release()
        return named


def _archive(path: Path, strategy: RotateStrategy) -> Path:
    """Move *path* aside; returns the archive (``rotate``: the file's own name, as Asterisk's
    ``${filename}`` then is)."""
    if strategy is RotateStrategy.NONE or not path.exists():
        return path

    def numbered(number: int) -> Path:
        return path.with_name(f"{path.name}.{number}")

    if strategy is RotateStrategy.TIMESTAMP:
        target = path.with_name(f"{path.name}.{int(time.time())}")
    elif strategy is RotateStrategy.ROTATE:
        last = 0
        while numbered(last).exists():
            last += 1
        for number in range(last, 0, -1):
            numbered(number - 1).rename(numbered(number))
        path.rename(numbered(0))
        return path
    else:
        number = 0
        while numbered(number).exists():
            number += 1
        target = numbered(number)
    path.rename(target)
    return target


@dataclass
class _Installed:
    config: LoggerConfig | None = None
    handlers: tuple[tuple[LogChannel, logging.Handler], ...] = ()


_INSTALLED = _Installed()


def _open_channel(channel: LogChannel, config: LoggerConfig) -> logging.Handler:
    """The handler of one channel; raises OSError when its file or syslog cannot be opened."""
    handler: logging.Handler
    if channel.kind is ChannelKind.CONSOLE:
        handler = log.console_handler()
    elif channel.kind is ChannelKind.SYSLOG:
        facility = logging.handlers.SysLogHandler.facility_names[channel.facility]
        handler = logging.handlers.SysLogHandler(SYSLOG_SOCKET, facility)
    else:
        assert channel.path is not None
        channel.path.parent.mkdir(parents=True, exist_ok=True)
        handler = _FileChannel(channel.path, encoding="utf-8")
    if channel.formatter == "json":
        handler.setFormatter(_JsonFormatter(config.dateformat))
    else:
        handler.setFormatter(log.AsteriskFormatter(config.dateformat,
                                                   plain=channel.formatter == "plain"))
    handler.addFilter(_ChannelFilter(channel))
    return handler


def apply_channels(config: LoggerConfig) -> list[str]:
    """Install *config*'s channels in place of the current ones, all or nothing.

    Returns the problems (a file or syslog that cannot be opened); with any, nothing
    changes. Without a ``logger.conf`` (``config.present`` false) the built-in console
    comes back. ``--log FILE`` stays either way: the command line asked for it.
    """
    opened: list[tuple[LogChannel, logging.Handler]] = []
    problems: list[str] = []
    for channel in config.channels:
        try:
            opened.append((channel, _open_channel(channel, config)))
        except OSError as exc:
            where = f"{channel.origin}: " if channel.origin else ""
            problems.append(f"{where}error: cannot open log channel '{channel.name}': "
                            f"{exc.strerror or exc}")
    if problems:
        for _channel, handler in opened:
            handler.close()
        return problems
    for _channel, handler in _INSTALLED.handlers:
        log.detach(handler)
    log.show_builtin_console(not config.present)
    for _channel, handler in opened:
        log.attach(handler)
    _INSTALLED.config = config
    _INSTALLED.handlers = tuple(opened)
    return []


def rotate() -> list[str]:
    """``logger rotate``: archive every log file as ``rotatestrategy`` says and reopen it.

    Returns the ``exec_after_rotate`` commands to run, ``${filename}`` filled in.
    """
    config = _INSTALLED.config
    if config is None:
        return []
    commands = []
    for _channel, handler in _INSTALLED.handlers:
        if isinstance(handler, _FileChannel):
            named = handler.rotate(config.rotatestrategy)
            if config.exec_after_rotate:
                commands.append(config.exec_after_rotate.replace("${filename}", str(named)))
    return commands


def run_after_rotate(commands: list[str]) -> None:
    """Start the ``exec_after_rotate`` commands; they run on their own, as in Asterisk."""
    for command in commands:
        try:
            subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        except OSError as exc:
            log.error(f"exec_after_rotate '{command}' failed: {exc.strerror or exc}")


_ALL = frozenset(("debug", "notice", "warning", "error", "verbose"))


def _levels_text(levels: frozenset[str]) -> str:
    order = ("debug", "notice", "warning", "error", "verbose")
    return " - " + " ".join(name.upper() for name in order if name in levels)


def channels_text() -> str:
    """``logger show channels``, in Asterisk's layout."""
    row = "{:<35} {:<8} {:<10} {:<7} {}\n"
    rows: list[tuple[str, str, str, frozenset[str]]] = []
    config = _INSTALLED.config
    if config is None or not config.present:
        rows.append(("", "Console", "default", _ALL))
    for channel, _handler in _INSTALLED.handlers:
        name = str(channel.path) if channel.path is not None else (
            channel.name if channel.kind is ChannelKind.SYSLOG else "")
        rows.append((name, channel.kind.value.capitalize(), channel.formatter, channel.levels))
    log_file = log.builtin_log_file()
    if log_file is not None:
        rows.append((str(log_file), "File", "default", _ALL))
    header = [row.format("Channel", "Type", "Formatter", "Status", "Configuration"),
              row.format("-------", "----", "---------", "------", "-------------")]
    return "".join(header + [row.format(name, kind, formatter, "Enabled", _levels_text(levels))
                             for name, kind, formatter, levels in rows])
