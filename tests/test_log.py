"""Asterisk-style log lines, verbosity gating, log file, rate limiting."""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pbxedge import log, logchannels
from pbxedge.logconf import LoggerConfig, load_logger_config
from tests.logcheck import FORGED, LINE, NOT_UTF8, checked_lines, nothing_on_stderr


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    log.configure(verbosity=0, stream=out)
    yield out
    log.configure()


def _lines(out: io.StringIO) -> list[re.Match[str]]:
    matches = [LINE.match(line) for line in out.getvalue().splitlines()]
    assert all(matches), out.getvalue()
    return [m for m in matches if m is not None]


def test_layout_names_level_pid_and_calling_file(stream: io.StringIO) -> None:
    log.notice("hello")
    log.warning("careful")
    log.error("broken")
    lines = _lines(stream)
    assert [m["level"] for m in lines] == ["NOTICE", "WARNING", "ERROR"]
    assert {m["pid"] for m in lines} == {str(os.getpid())}
    assert {m["file"] for m in lines} == {"test_log.py"}
    assert [m["message"] for m in lines] == ["hello", "careful", "broken"]


def test_verbose_is_gated_by_verbosity(stream: io.StringIO) -> None:
    log.verbose(1, "hidden at 0")
    log.set_verbosity(2)
    log.verbose(2, "shown at 2")
    log.verbose(3, "hidden at 2")
    assert [m["message"] for m in _lines(stream)] == ["shown at 2"]
    assert _lines(stream)[0]["level"] == "VERBOSE"


def test_debug_is_gated_by_debug_level(stream: io.StringIO) -> None:
    log.debug("hidden")
    log.set_debug_level(1)
    log.debug("shown")
    log.debug("deeper", level=2)
    assert [m["message"] for m in _lines(stream)] == ["shown"]


def test_log_file_gets_the_same_lines(tmp_path: Path) -> None:
    out = io.StringIO()
    path = tmp_path / "pbxedge.log"
    log.configure(verbosity=1, log_file=path, stream=out)
    try:
        log.verbose(1, "to both")
    finally:
        log.configure()
    assert path.read_text() == out.getvalue()
    assert out.getvalue().endswith(": to both\n")


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_holds_back_and_then_counts(stream: io.StringIO) -> None:
    clock = Clock()
    limiter = log.RateLimiter(interval=10.0, clock=clock)
    for _ in range(5):
        limiter.warning("10.0.0.1", "dropped malformed datagram from 10.0.0.1")
    limiter.warning("10.0.0.2", "dropped malformed datagram from 10.0.0.2")
    clock.now += 10.0
    limiter.warning("10.0.0.1", "dropped malformed datagram from 10.0.0.1")
    assert [m["message"] for m in _lines(stream)] == [
        "dropped malformed datagram from 10.0.0.1",
        "dropped malformed datagram from 10.0.0.2",
        "dropped malformed datagram from 10.0.0.1 (4 similar messages suppressed)",
    ]
    assert {m["file"] for m in _lines(stream)} == {"test_log.py"}


def test_a_line_no_channel_shows_is_not_even_built(
        tmp_path: Path, stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the node's channels: the test harness's own handlers take every level.
    for name in ("pbxedge", ""):
        logger = logging.getLogger(name or None)
        monkeypatch.setattr(logger, "handlers", [h for h in logger.handlers
                                                 if getattr(h, "stream", None) is stream])
    child, dialplan = logging.getLogger("pbxedge.iax2"), logging.getLogger("dialplan")
    log.set_verbosity(0)
    assert not child.isEnabledFor(logging.INFO) and not dialplan.isEnabledFor(logging.DEBUG)
    assert child.isEnabledFor(log.NOTICE)
    log.set_verbosity(1)
    assert child.isEnabledFor(log.VERBOSE) and dialplan.isEnabledFor(logging.INFO)
    assert not child.isEnabledFor(logging.DEBUG)
    log.set_debug_level(1)
    assert child.isEnabledFor(logging.DEBUG)
    log.set_verbosity(0)
    log.set_debug_level(0)
    # A logger.conf channel with its own verbose(3) shows verbose lines at verbosity 0.
    (tmp_path / "logger.conf").write_text("[logfiles]\nfull.log => verbose(3),notice\n")
    config, _ = load_logger_config(tmp_path / "logger.conf", tmp_path)
    assert logchannels.apply_channels(config) == []
    try:
        assert child.isEnabledFor(logging.INFO) and not child.isEnabledFor(logging.DEBUG)
        log.verbose(2, "shown in full.log")
    finally:
        logchannels.apply_channels(LoggerConfig())
    assert (tmp_path / "full.log").read_text().endswith(": shown in full.log\n")
    assert not child.isEnabledFor(logging.INFO)


def test_rate_limiter_memory_is_bounded() -> None:
    clock = Clock()
    limiter = log.RateLimiter(interval=10.0, clock=clock, max_keys=3)
    for n in range(10):
        clock.now += 0.1
        assert limiter.allow(f"key{n}") == (True, 0)
    # The oldest keys were forgotten, so they are allowed again at once.
    assert limiter.allow("key0") == (True, 0)
    assert limiter.allow("key9") == (False, 0)


# -- text from the network -------------------------------------------------------------------


def test_printable_escapes_bytes_that_are_not_utf8() -> None:
    assert log.printable(b"ok\xff\xfe".decode("utf-8", "surrogateescape")) == "ok\\xff\\xfe"
    assert log.printable(b"ok\xff\xfe") == "ok\\xff\\xfe"


def test_printable_escapes_control_characters_and_doubles_backslashes() -> None:
    assert log.printable("a\nb\rc\x1b[2J\x00\x7f\x85") == "a\\x0ab\\x0dc\\x1b[2J\\x00\\x7f\\x85"
    assert log.printable("\u2028\u202e\U000e0001") == "\\u2028\\u202e\\U000e0001"
    assert log.printable("C:\\x0a") == "C:\\\\x0a"  # cannot pass for an escaped newline
    assert log.printable("Zoë 1001 <x@y>") == "Zoë 1001 <x@y>"


def test_printable_bounds_the_length_between_escapes() -> None:
    assert log.printable("x" * 80) == "x" * 80
    assert log.printable("x" * 81) == "x" * 77 + "..."
    assert log.printable(NOT_UTF8) == "\\xff" * 19 + "..."
    assert log.printable("ab\ncd", limit=6) == "ab..."
    assert log.printable(NOT_UTF8, limit=None) == "\\xff" * 255


def test_no_message_can_break_a_line_or_the_encoding(tmp_path: Path) -> None:
    """The formatter is the safety net for text that reached a message unescaped."""
    out = io.StringIO()
    path = tmp_path / "pbxedge.log"
    log.configure(log_file=path, stream=out)
    try:
        with nothing_on_stderr():  # no "--- Logging error ---" traceback
            log.warning("user " + FORGED)
            log.notice("user " + NOT_UTF8)
    finally:
        log.configure()
    lines = checked_lines(path.read_bytes())
    assert path.read_text() == out.getvalue()
    assert len(lines) == 2
    assert lines[0].endswith("user \\x0a[2026-12-02 09:00:00] NOTICE[1] reg_server.py: "
                             "Registration from 'admin' accepted\\x1b[2J")
    assert lines[1].endswith("user " + "\\xff" * 255)


# -- summarised repeats --------------------------------------------------------------------


def test_repeats_are_summarised_when_the_interval_ends(stream: io.StringIO) -> None:
    clock = Clock()
    limiter = log.RateLimiter(interval=10.0, clock=clock)
    assert limiter.next_summary() is None
    assert limiter.admit("Token-less NEW", "10.0.0.1")
    for _ in range(1999):
        clock.now += 0.001
        assert not limiter.admit("Token-less NEW", "10.0.0.1")
    assert limiter.admit("Token-less NEW", "10.0.0.2")  # another source has its own count
    assert limiter.next_summary() == 110.0
    clock.now = 109.9
    limiter.flush()
    assert _lines(stream) == []
    clock.now = 110.0  # the flood has stopped: the count is written all the same
    limiter.flush()
    (line,) = _lines(stream)
    assert line["message"] == "Token-less NEW from 10.0.0.1 repeated 1999 times in the last 10 s"
    assert (line["level"], line["file"]) == ("WARNING", "test_log.py")
    assert limiter.next_summary() is None  # 10.0.0.2 came once: nothing to summarise
    clock.now = 200.0
    limiter.flush()
    assert len(_lines(stream)) == 1
    assert limiter.admit("Token-less NEW", "10.0.0.1")  # a new burst starts with a full line


def test_a_late_repeat_writes_the_summary_before_its_own_line(stream: io.StringIO) -> None:
    clock = Clock()
    limiter = log.RateLimiter(interval=10.0, clock=clock)
    for _ in range(3):
        if limiter.admit("Refused REGREQ", "10.0.0.1", log.NOTICE):
            log.notice("refused")
    clock.now += 30.0
    if limiter.admit("Refused REGREQ", "10.0.0.1", log.NOTICE):
        log.notice("refused again")
    assert [(m["level"], m["message"]) for m in _lines(stream)] == [
        ("NOTICE", "refused"),
        ("NOTICE", "Refused REGREQ from 10.0.0.1 repeated 2 times in the last 30 s"),
        ("NOTICE", "refused again"),
    ]


def test_pending_summaries_are_written_on_flush_everything_and_on_eviction(
    stream: io.StringIO,
) -> None:
    clock = Clock()
    limiter = log.RateLimiter(interval=10.0, clock=clock, max_keys=2)
    for source in ("10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2"):
        limiter.admit("Failed authentication", source)
    clock.now += 2.0
    limiter.admit("Failed authentication", "10.0.0.3")  # 10.0.0.1 is given up, not lost
    limiter.admit("Failed authentication", "10.0.0.3")
    limiter.flush(everything=True)
    assert [m["message"] for m in _lines(stream)] == [
        "Failed authentication from 10.0.0.1 repeated 1 time in the last 2 s",
        "Failed authentication from 10.0.0.2 repeated 1 time in the last 2 s",
        "Failed authentication from 10.0.0.3 repeated 1 time in the last 1 s",
    ]
    assert limiter.next_summary() is None
