"""Asterisk-style logging: ``[YYYY-MM-DD HH:MM:SS] LEVEL[pid] file.py: message``.

Every layer logs through the module functions here (``notice``, ``warning``, ``error``,
``debug``, ``verbose``) so one place decides the line layout and what is shown.
VERBOSE messages carry a level and are shown only when the node's verbosity
(``-v`` count, or ``core set verbose N``) reaches it, like Asterisk's ``ast_verb``.

:func:`configure` installs the built-in channels: the console and ``--log FILE``.
``logger.conf``'s channels (:mod:`pbxedge.logchannels`) are added with :func:`attach` and
may replace the built-in console.

Text that came from the network goes into a message through :func:`printable`, which
escapes and shortens it.  The formatter escapes whatever is still unprintable in a message
as a safety net, so one record is always exactly one line of text: no message can forge a
line, move the terminal, or fail to encode.  Events a peer can repeat at will are logged
through a :class:`RateLimiter`.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

__all__ = [
    "DEBUG",
    "DEFAULT_DATEFORMAT",
    "ERROR",
    "LEVEL_NAMES",
    "NOTICE",
    "VERBOSE",
    "WARNING",
    "AsteriskFormatter",
    "RateLimiter",
    "attach",
    "builtin_log_file",
    "configure",
    "console_handler",
    "debug",
    "debug_level",
    "detach",
    "error",
    "lowest_shown_level",
    "notice",
    "printable",
    "set_debug_level",
    "set_verbosity",
    "show_builtin_console",
    "strftime",
    "verbose",
    "verbose_level_of",
    "verbosity",
    "warning",
]

DEBUG = logging.DEBUG
VERBOSE = 15
NOTICE = 25
WARNING = logging.WARNING
ERROR = logging.ERROR

logging.addLevelName(VERBOSE, "VERBOSE")
logging.addLevelName(NOTICE, "NOTICE")

_LOGGER = logging.getLogger("pbxedge")
# Our handlers decide everything; the root logger must not print a second copy.
_LOGGER.propagate = False
# The dialplan package logs under its own name (it does not import pbxedge); the node's
# handlers serve it too, so Verbose() and Log() reach the console and the log file.
_LOGGERS = (_LOGGER, logging.getLogger("dialplan"))

# stacklevel so that the "file.py" of a line is the caller of notice()/warning()/...,
# not this module.
_CALLER = 2


# How much of one string from the network a line shows, escapes included: names and
# numbers as long as Asterisk's (AST_MAX_EXTENSION, 80) fit; 255 bytes of garbage do not.
WIRE_TEXT_LIMIT = 80
_CUT = "..."


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        # A byte that was not UTF-8, kept by the "surrogateescape" decoding of IE strings.
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str | bytes, limit: int | None = WIRE_TEXT_LIMIT) -> str:
    """*text* from the network, as a log line may show it.

    Control and other unprintable characters (``\\n``, ``\\r``, ESC, ...) and bytes that
    are not UTF-8 become ``\\xNN`` (``\\uNNNN`` above U+00FF); a backslash is doubled, so
    an escape in the line always stands for one character.  A result longer than *limit*
    is cut, between escapes, and ends in ``...``.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    if text.isprintable() and "\\" not in text:
        if limit is None or len(text) <= limit:
            return text
        return text[: limit - len(_CUT)] + _CUT
    pieces = ["\\\\" if ch == "\\" else ch if ch.isprintable() else _escape(ch) for ch in text]
    if limit is None or sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    kept: list[str] = []
    room = limit - len(_CUT)
    for piece in pieces:
        room -= len(piece)
        if room < 0:
            break
        kept.append(piece)
    return "".join(kept) + _CUT


def _one_line(message: str) -> str:
    """Escape what is still unprintable in a whole message (a newline included)."""
    if message.isprintable():
        return message
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in message)


class _Gate:
    """Verbosity and debug level, shared by every handler (changed at run time)."""

    verbosity = 0
    debug = 0


LEVEL_NAMES = {DEBUG: "debug", NOTICE: "notice", WARNING: "warning", ERROR: "error",
                logging.CRITICAL: "error"}


def verbose_level_of(record: logging.LogRecord) -> int:
    # Libraries' INFO (the dialplan's Verbose()/Log()) counts as verbose level 1.
    return 1 if record.levelno == logging.INFO else getattr(record, "verbose_level", 0)


class _LevelFilter(logging.Filter):
    """The built-in channels: every level, VERBOSE up to the verbosity, DEBUG up to the
    debug level."""

    def lowest_level(self) -> int:
        """The lowest record level this filter can let through now."""
        return lowest_shown_level(verbose=True, verbose_level=None, debug=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno in (VERBOSE, logging.INFO):
            return verbose_level_of(record) <= _Gate.verbosity
        if record.levelno == DEBUG:
            return getattr(record, "debug_level", 1) <= _Gate.debug
        return True


class _CurrentStderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a line is emitted, not at set-up.

    Test runners and the console swap ``sys.stderr``; a handler holding an old one
    would write into a closed stream.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """The base class assigns a stream in __init__; the current one always wins."""


# Asterisk's logger.conf ``dateformat``; pbxedge's default is ISO 8601 to the second.
DEFAULT_DATEFORMAT = "%Y-%m-%d %H:%M:%S"
_FRACTION = re.compile(r"%%|%(\d?)q")


def strftime(dateformat: str, when: float) -> str:
    """strftime plus Asterisk's ``%Nq``: N digits of the fraction of the second (3 by
    default)."""
    if "q" in dateformat:
        def fraction(match: re.Match[str]) -> str:
            if match.group(0) == "%%":
                return "%%"
            digits = int(match.group(1) or 3)
            return f"{when % 1:.{digits}f}"[2:] if digits else ""

        dateformat = _FRACTION.sub(fraction, dateformat)
    return time.strftime(dateformat, time.localtime(when))


class AsteriskFormatter(logging.Formatter):
    """``[2026-11-27 05:18:23] NOTICE[1234] node.py: message``, always one line;
    *plain* adds the line and function (``node.py:120 run_node: message``)."""

    def __init__(self, dateformat: str = DEFAULT_DATEFORMAT, *, plain: bool = False) -> None:
        super().__init__()
        self._dateformat = dateformat
        self._plain = plain

    def format(self, record: logging.LogRecord) -> str:
        stamp = strftime(self._dateformat, record.created)
        where = (f"{record.filename}:{record.lineno} {record.funcName}" if self._plain
                 else record.filename)
        return (
            f"[{stamp}] {record.levelname}[{record.process}] "
            f"{where}: {_one_line(record.getMessage())}"
        )


@dataclass
class _Builtin:
    """The channels the command line sets up: the console, and ``--log FILE``."""

    stream: TextIO | None = None
    console: logging.Handler | None = None
    log_file: logging.FileHandler | None = None


_BUILTIN = _Builtin()


def lowest_shown_level(*, verbose: bool, verbose_level: int | None, debug: bool) -> int:
    """The lowest level a channel can show now: DEBUG when it takes debug and there is a
    debug level, VERBOSE (below the libraries' INFO) when it takes verbose and there is a
    verbosity (*verbose_level*: its own, None: the node's), else NOTICE."""
    if debug and _Gate.debug > 0:
        return DEBUG
    limit = _Gate.verbosity if verbose_level is None else verbose_level
    if verbose and limit > 0:
        return VERBOSE
    return NOTICE


def _is_channel(handler: logging.Handler) -> bool:
    """A channel of the node's: its filter knows which levels it shows."""
    return any(hasattr(f, "lowest_level") for f in handler.filters)


def _lowest_level(handler: logging.Handler) -> int:
    # A record must pass every filter of the handler: the strictest one counts.
    return max([handler.level, DEBUG] + [int(f.lowest_level()) for f in handler.filters
                                         if hasattr(f, "lowest_level")])


def _handlers_of(logger: logging.Logger) -> Iterator[logging.Handler]:
    """Every handler a record of *logger* reaches (its parents' too while it propagates)."""
    current: logging.Logger | None = logger
    while current is not None:
        yield from current.handlers
        current = current.parent if current.propagate else None


def _refresh_levels() -> None:
    """Give each logger the lowest level one of its handlers passes now, so a message no
    channel would show is not even built (the lines of a call cost as much as a good part
    of the call): the level follows verbosity, debug level and channels. A handler that
    is not a channel of ours (someone else's, on the root logger) takes everything."""
    for logger in _LOGGERS:
        level = min(map(_lowest_level, _handlers_of(logger)), default=DEBUG)
        if logger.level != level:
            logger.setLevel(level)


def console_handler() -> logging.Handler:
    """A new handler writing to the console stream :func:`configure` was given."""
    stream = _BUILTIN.stream
    return logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()


def attach(handler: logging.Handler) -> None:
    """Send every line of the node (and of the dialplan) to *handler* as well."""
    for logger in _LOGGERS:
        logger.addHandler(handler)
    _refresh_levels()


def detach(handler: logging.Handler) -> None:
    for logger in _LOGGERS:
        logger.removeHandler(handler)
    handler.close()
    _refresh_levels()


def show_builtin_console(shown: bool) -> None:
    """Whether the built-in console channel writes (logger.conf's ``console`` replaces it)."""
    console = _BUILTIN.console
    if console is None:
        return
    for logger in _LOGGERS:
        logger.removeHandler(console)
    if shown:
        attach(console)
    else:
        _refresh_levels()


def builtin_log_file() -> Path | None:
    """The ``--log FILE`` in use, if any."""
    handler = _BUILTIN.log_file
    return Path(handler.baseFilename) if handler is not None else None


def configure(
    verbosity: int = 0,
    debug_level: int = 0,
    log_file: Path | None = None,
    stream: TextIO | None = None,
) -> None:
    """(Re)install the built-in handlers: the console stream, plus *log_file* when given.
    The other channels (logger.conf's) are removed; handlers that are no channel of the
    node's (a test harness's) stay."""
    global _BUILTIN
    for logger in _LOGGERS:
        for handler in list(logger.handlers):
            if _is_channel(handler):
                detach(handler)
    _Gate.verbosity = verbosity
    _Gate.debug = debug_level
    _BUILTIN = _Builtin(stream=stream)
    _BUILTIN.console = console_handler()
    if log_file is not None:
        _BUILTIN.log_file = logging.FileHandler(log_file, encoding="utf-8")
    for builtin in (_BUILTIN.console, _BUILTIN.log_file):
        if builtin is not None:
            builtin.setFormatter(AsteriskFormatter())
            builtin.addFilter(_LevelFilter())
            attach(builtin)


def set_verbosity(level: int) -> None:
    _Gate.verbosity = max(0, level)
    _refresh_levels()


def verbosity() -> int:
    return _Gate.verbosity


def set_debug_level(level: int) -> None:
    _Gate.debug = max(0, level)
    _refresh_levels()


def debug_level() -> int:
    return _Gate.debug


def verbose(level: int, message: str) -> None:
    """Log *message* when the verbosity is at least *level* (Asterisk's ``ast_verb``)."""
    _LOGGER.log(VERBOSE, message, extra={"verbose_level": level}, stacklevel=_CALLER)


def notice(message: str) -> None:
    _LOGGER.log(NOTICE, message, stacklevel=_CALLER)


def warning(message: str) -> None:
    _LOGGER.log(WARNING, message, stacklevel=_CALLER)


def error(message: str) -> None:
    _LOGGER.log(ERROR, message, stacklevel=_CALLER)


def debug(message: str, level: int = 1) -> None:
    """Log *message* when the debug level (``-d`` count) is at least *level*."""
    _LOGGER.log(DEBUG, message, extra={"debug_level": level}, stacklevel=_CALLER)


@dataclass(slots=True)
class _Window:
    """One key's interval: when it opened and how many messages it held back."""

    start: float
    repeats: int = 0
    # Set by RateLimiter.admit: the level and file of the summary line flush() writes.
    level: int | None = None
    origin: str = ""


class RateLimiter:
    """Lets a noisy message through at most once per *interval* seconds per key.

    A flood of datagrams must not flood the log: the first message of a burst is logged,
    the rest are counted.  Keys are chosen by the caller (for example the kind of event and
    the source address), so one noisy peer does not hide another; at most *max_keys* are
    remembered, the oldest given up first.  The count reaches the log one of two ways:

    * :meth:`admit` (events a peer can repeat at will): when the interval ends, one line
      says ``<what> from <source> repeated N times in the last 10 s``, even when the flood
      has stopped, provided :meth:`flush` runs at :meth:`next_summary`; ``flush(everything=
      True)`` writes the lines still pending when the node stops.
    * :meth:`allow`, :meth:`warning`, :meth:`notice`: the next message let through says how
      many similar ones were suppressed (the transport's own warnings).
    """

    def __init__(
        self,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1024,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._max_keys = max_keys
        self._windows: dict[str, _Window] = {}  # oldest first

    def allow(self, key: str) -> tuple[bool, int]:
        """Whether a message for *key* may be logged now, and how many were held back."""
        now = self._clock()
        window = self._windows.get(key)
        if window is not None and now - window.start < self.interval:
            window.repeats += 1
            return False, 0
        self._open(key, _Window(now), now)
        return True, window.repeats if window is not None else 0

    def admit(self, what: str, source: str, level: int = WARNING) -> bool:
        """Whether to log an event of kind *what* from *source* now.

        The caller logs the event's line(s) itself when admitted.  Repeats within the
        interval are counted and summarised at *level*, as from the caller's file.
        """
        key = f"{what} from {source}"
        now = self._clock()
        window = self._windows.get(key)
        if window is not None:
            if now - window.start < self.interval:
                window.repeats += 1
                return False
            self._close(key, now)  # the summary of the last burst comes before the new line
        # The summary names the file of the first line, which the caller logs next.
        origin = sys._getframe(1).f_code.co_filename
        self._open(key, _Window(now, level=level, origin=origin), now)
        return True

    def next_summary(self) -> float | None:
        """When :meth:`flush` has a summary line to write next (None: nothing held back)."""
        return min(
            (w.start + self.interval for w in self._windows.values()
             if w.repeats and w.level is not None),
            default=None,
        )

    def flush(self, *, everything: bool = False) -> None:
        """End the :meth:`admit` intervals that are over (all, with *everything*), writing
        the summary of each that held messages back."""
        now = self._clock()
        for key, window in list(self._windows.items()):
            if not everything and now - window.start < self.interval:
                break  # the rest opened later
            if window.level is not None:
                self._close(key, now)

    def _open(self, key: str, window: _Window, now: float) -> None:
        self._windows.pop(key, None)
        if len(self._windows) >= self._max_keys:
            # Bounded memory even when every datagram comes from a new address.
            self._close(next(iter(self._windows)), now)
        self._windows[key] = window

    def _close(self, key: str, now: float) -> None:
        window = self._windows.pop(key)
        if not window.repeats or window.level is None or not _LOGGER.isEnabledFor(window.level):
            return
        times = "1 time" if window.repeats == 1 else f"{window.repeats} times"
        seconds = max(1, round(now - window.start))
        message = f"{key} repeated {times} in the last {seconds} s"
        _LOGGER.handle(_LOGGER.makeRecord(_LOGGER.name, window.level, window.origin, 0,
                                          message, (), None))

    def warning(self, key: str, message: str) -> None:
        self._emit(WARNING, key, message)

    def notice(self, key: str, message: str) -> None:
        self._emit(NOTICE, key, message)

    def _emit(self, level: int, key: str, message: str) -> None:
        allowed, held_back = self.allow(key)
        if not allowed:
            return
        if held_back:
            message = f"{message} ({held_back} similar messages suppressed)"
        # Two frames up: the caller of warning()/notice() on this limiter.
        _LOGGER.log(level, message, stacklevel=_CALLER + 1)
