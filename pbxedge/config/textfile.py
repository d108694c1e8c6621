"""Opening one config file, top-level or included, without trusting what the name points at.

An ``#include`` can name any path, so the file behind it may be a device that never ends
(``/dev/zero``), a FIFO that blocks forever, something huge or binary, or a file that
holds secrets. Every config file is therefore read only if it is a regular file of at
most :func:`max_config_bytes` bytes with no NUL byte; anything else is refused with a
reason that never quotes the content.

Undecodable UTF-8 is not a reason to refuse: Asterisk reads bytes, and Latin-1 comments
or caller names are common in real configs, so such bytes become U+FFFD.
"""

from __future__ import annotations

import os
import stat

__all__ = [
    "DEFAULT_MAX_CONFIG_BYTES",
    "MAX_CONFIG_BYTES_ENV",
    "NotReadable",
    "TooLarge",
    "max_config_bytes",
    "read_config_text",
]

DEFAULT_MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_CONFIG_BYTES_ENV = "PBXEDGE_CONFIG_MAX_BYTES"

# O_NONBLOCK: opening a FIFO without a writer must not wait for one (fstat then refuses it).
# O_NOCTTY: a terminal named by mistake must not become the node's controlling terminal.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


class NotReadable(Exception):
    """The file exists but is refused; the message completes "PATH ..." (e.g. "is a directory")."""


class TooLarge(NotReadable):
    """The file holds more bytes than were allowed; *size* is at least that many."""

    def __init__(self, size: int) -> None:
        super().__init__(f"is too large ({size} bytes)")
        self.size = size


def max_config_bytes() -> int:
    """The size limit for one load (a file with all it includes): the environment
    variable ``PBXEDGE_CONFIG_MAX_BYTES`` when set, else 16 MiB.

    :raises ValueError: the variable is not a positive whole number.
    """
    raw = os.environ.get(MAX_CONFIG_BYTES_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_CONFIG_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{MAX_CONFIG_BYTES_ENV} must be a positive number of bytes, not {raw[:40]!r}")
    return value


def read_config_text(path: str, budget: int) -> tuple[str, int]:
    """The text of the regular file *path*, which may hold at most *budget* bytes, and
    its size in bytes.

    :raises OSError: the file cannot be found or opened.
    :raises TooLarge: the file holds more than *budget* bytes.
    :raises NotReadable: the file is not a regular file or holds NUL bytes (not a text file).
    """
    # stat first, so that a device is never even opened (opening some has side effects);
    # fstat after opening, so a file swapped in between is checked too.
    _check_kind_and_size(os.stat(path), budget)
    with open(path, "rb", opener=lambda name, _flags: os.open(name, _OPEN_FLAGS)) as handle:
        _check_kind_and_size(os.fstat(handle.fileno()), budget)
        # One byte more than allowed tells a file that grew since fstat from one that fits.
        data = handle.read(budget + 1)
    if len(data) > budget:
        raise TooLarge(len(data))
    if b"\0" in data:
        raise NotReadable("is not a text file (it contains NUL bytes)")
    return data.decode("utf-8", errors="replace"), len(data)


def _check_kind_and_size(status: os.stat_result, budget: int) -> None:
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for test, name in _KINDS if test(status.st_mode)), "of an unusual type")
        raise NotReadable(f"is not a regular file (it is {kind})")
    if status.st_size > budget:
        raise TooLarge(status.st_size)
