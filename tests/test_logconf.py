"""logger.conf: reading it (file:line problems), and its channels at work: levels per
file, verbose(N), formatters, dateformat, rotation, all-or-nothing replacement."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pbxedge import log, logchannels
from pbxedge.logconf import ChannelKind, LoggerConfig, RotateStrategy, load_logger_config

CONF = """[general]
dateformat = %F %T.%3q
rotatestrategy = rotate
exec_after_rotate = gzip -9 ${filename}.2

[logfiles]
console => notice,warning,error
messages.log => notice,warning,error
full.log => [plain]verbose(3),*
/var/log/elsewhere => error
syslog.local0 => warning,error
odd.log => notice,shouting
"""


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    out = io.StringIO()
    log.configure(verbosity=1, debug_level=1, stream=out)
    yield out
    logchannels.apply_channels(LoggerConfig())
    log.configure()


def _load(folder: Path, text: str) -> tuple[LoggerConfig, list[str]]:
    (folder / "logger.conf").write_text(text)
    config, problems = load_logger_config(folder / "logger.conf", folder / "logs")
    return config, [str(p) for p in problems]


def test_the_file_is_read_as_asterisk_reads_it(tmp_path: Path) -> None:
    config, problems = _load(tmp_path, CONF)
    assert problems == [f"{tmp_path}/logger.conf:12: warning: odd.log: unknown log level "
                        "'shouting' (ignored); known: debug, notice, warning, error, verbose, "
                        "verbose(N), *"]
    assert config.present and config.dateformat == "%F %T.%3q"
    assert config.rotatestrategy is RotateStrategy.ROTATE
    assert config.exec_after_rotate == "gzip -9 ${filename}.2"
    kinds = [(c.name, c.kind, c.path) for c in config.channels]
    assert kinds == [
        ("console", ChannelKind.CONSOLE, None),
        ("messages.log", ChannelKind.FILE, tmp_path / "logs" / "messages.log"),
        ("full.log", ChannelKind.FILE, tmp_path / "logs" / "full.log"),
        ("/var/log/elsewhere", ChannelKind.FILE, Path("/var/log/elsewhere")),
        ("syslog.local0", ChannelKind.SYSLOG, None),
        ("odd.log", ChannelKind.FILE, tmp_path / "logs" / "odd.log"),
    ]
    full = config.channels[2]
    assert full.formatter == "plain" and full.verbose_level == 3
    assert full.levels == {"debug", "notice", "warning", "error", "verbose"}
    assert config.channels[4].facility == "local0"


def test_bad_values_are_errors_with_their_line(tmp_path: Path) -> None:
    _, problems = _load(tmp_path, "[general]\nrotatestrategy = weekly\n[logfiles]\n"
                                  "x.log => [fancy]notice\nsyslog.local9 => error\n")
    assert [p.split(": error: ")[0] for p in problems] == [
        f"{tmp_path}/logger.conf:2", f"{tmp_path}/logger.conf:4", f"{tmp_path}/logger.conf:5"]


def test_no_file_keeps_the_built_in_channels(tmp_path: Path) -> None:
    config, problems = load_logger_config(tmp_path / "logger.conf", tmp_path)
    assert (config.present, config.channels, problems) == (False, (), [])


def test_appendhostname_names_the_files_after_the_machine(tmp_path: Path) -> None:
    (tmp_path / "logger.conf").write_text("[general]\nappendhostname = yes\n[logfiles]\n"
                                          "messages => notice\n")
    config, _ = load_logger_config(tmp_path / "logger.conf", tmp_path, hostname="box7")
    assert config.channels[0].path == tmp_path / "messages.box7"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_each_file_gets_its_levels(tmp_path: Path, console: io.StringIO) -> None:
    config, _ = _load(tmp_path, "[general]\ndateformat = %Y %q|%1q|%%q\n[logfiles]\n"
                                "console => error\n"
                                "messages.log => notice,warning,error\n"
                                "full.log => [plain]verbose(3),*\n"
                                "events.json => [json]notice\n")
    assert logchannels.apply_channels(config) == []
    log.notice("a notice")
    log.verbose(3, "verbose three")
    log.verbose(4, "verbose four")
    log.debug("a debug line")
    log.error("an error")
    logs = tmp_path / "logs"
    pid = os.getpid()
    assert [line.split("] ", 1)[1] for line in _lines(logs / "messages.log")] == [
        f"NOTICE[{pid}] test_logconf.py: a notice", f"ERROR[{pid}] test_logconf.py: an error"]
    full = _lines(logs / "full.log")
    # [plain] names the line and the function.
    assert [re.sub(r"^\[.*?\] \w+\[\d+\] test_logconf.py:\d+ ", "", line) for line in full] == [
        f"test_each_file_gets_its_levels: {message}"
        for message in ("a notice", "verbose three", "a debug line", "an error")]
    assert re.match(r"\[\d{4} \d{3}\|\d\|%q\] NOTICE", full[0])  # %q: fractions of a second
    record = json.loads(_lines(logs / "events.json")[0])
    assert record["logmsg"]["message"] == "a notice" and record["logmsg"]["level"] == "NOTICE"
    # The console channel shows its levels, plus verbose up to the console's verbosity.
    shown = console.getvalue()
    assert "an error" in shown and "a notice" not in shown and "verbose three" not in shown
    assert "messages.log" in logchannels.channels_text()


def test_a_channel_that_cannot_open_changes_nothing(tmp_path: Path,
                                                    console: io.StringIO) -> None:
    good, _ = _load(tmp_path, "[logfiles]\nmessages.log => notice\n")
    assert logchannels.apply_channels(good) == []
    (tmp_path / "blocker").write_text("a file where a folder should be")
    bad, _ = _load(tmp_path, "[logfiles]\nnew.log => notice\n"
                             f"{tmp_path}/blocker/x.log => notice\n")
    problems = logchannels.apply_channels(bad)
    assert len(problems) == 1 and problems[0].startswith(f"{tmp_path}/logger.conf:3: error:")
    log.notice("still here")
    assert _lines(tmp_path / "logs" / "messages.log")[-1].endswith("still here")
    assert (tmp_path / "logs" / "new.log").read_text() == ""  # opened, never used


@pytest.mark.parametrize(("strategy", "after"), [
    ("sequential", ["messages", "messages.0", "messages.1"]),
    ("rotate", ["messages", "messages.0", "messages.1"]),
    ("none", ["messages"]),
])
def test_rotation(tmp_path: Path, console: io.StringIO, strategy: str,
                  after: list[str]) -> None:
    config, _ = _load(tmp_path, f"[general]\nrotatestrategy = {strategy}\n"
                                "exec_after_rotate = echo ${filename}\n"
                                "[logfiles]\nmessages => notice\n")
    assert logchannels.apply_channels(config) == []
    logs = tmp_path / "logs"
    for word in ("first", "second"):
        log.notice(word)
        commands = logchannels.rotate()
    log.notice("third")
    assert sorted(p.name for p in logs.iterdir()) == after
    assert _lines(logs / "messages")[-1].endswith("third")
    if strategy == "sequential":  # the newest archive has the highest number
        assert _lines(logs / "messages.1")[-1].endswith("second")
        assert commands == [f"echo {logs}/messages.1"]
    elif strategy == "rotate":  # the oldest has the highest number
        assert _lines(logs / "messages.1")[-1].endswith("first")
        assert commands == [f"echo {logs}/messages"]
