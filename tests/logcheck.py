"""What the node writes, checked: its log file line by line, and nothing on stderr."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path

from pbxedge import log

LINE = re.compile(
    r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] (?P<level>[A-Z]+)\[(?P<pid>\d+)\] "
    r"(?P<file>[\w.]+): (?P<message>.*)$"
)

# Text a peer may put in a USERNAME (or any string IE): bytes that are not UTF-8, and a
# forged log line with a terminal escape ("clear screen").
NOT_UTF8 = (b"\xff" * 255).decode("utf-8", "surrogateescape")
FORGED = ("\n[2026-12-02 09:00:00] NOTICE[1] reg_server.py: Registration from 'admin' accepted"
          "\x1b[2J")


def checked_lines(text: str | bytes) -> list[str]:
    """The lines of a log, after checking each one has the node's layout and that no
    terminal escape or undecodable byte is in it."""
    data = text.encode() if isinstance(text, str) else text
    assert b"\x1b" not in data
    lines = data.decode("utf-8").splitlines()  # strict: fails on anything unencodable
    bad = [line for line in lines
           if not LINE.match(line) or line.startswith("[2026-12-02 09:00:00] NOTICE[1] ")]
    assert not bad, bad
    return lines


@contextlib.contextmanager
def nothing_on_stderr() -> Iterator[None]:
    """Fails when anything is written to ``sys.stderr`` in the block (a traceback of the
    logging module, a warning, a stray print)."""
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        yield
    assert captured.getvalue() == ""


@contextlib.contextmanager
def node_log(path: Path) -> Iterator[Path]:
    """The node's log handlers, writing to *path* (and the console to a buffer), with
    nothing allowed on stderr meanwhile."""
    log.configure(log_file=path, stream=io.StringIO())
    try:
        with nothing_on_stderr():
            yield path
    finally:
        log.configure()
