"""The state folder is for the node's user only.

It holds the SQLite database (registered peers' addresses and user names, the astdb, which
may hold ``dbsecret`` secrets) and the console socket. A folder created by pbxedge is 0700
and its files 0600 from the start; a folder or database that already exists with looser
modes (0755 and 0644 after a plain ``mkdir`` and a default umask) is tightened at startup by
taking away every group and other permission, and each change is reported so an admin
knows why a mode changed.

A folder with the sticky bit (``/tmp`` given as ``--state``) is shared by design and is left
as it is; the files in it are still tightened.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from pbxedge.store import COMPANION_SUFFIXES

__all__ = ["PRIVATE_DIR_MODE", "ModeChange", "make_state_private"]

PRIVATE_DIR_MODE = 0o700
# Group and other bits: what "private" takes away.
_SHARED_BITS = 0o077


@dataclass(frozen=True)
class ModeChange:
    """A path whose mode let other users in: changed, or left with the reason why."""

    path: Path
    old: int
    new: int
    failure: str | None = None

    @property
    def changed(self) -> bool:
        return self.failure is None

    def __str__(self) -> str:
        if self.failure is None:
            return (f"{self.path}: mode changed from {self.old:04o} to {self.new:04o} "
                    "(the node's state is for its own user only)")
        return (f"{self.path}: mode {self.old:04o} lets other users reach the node's state, "
                f"and it was not changed: {self.failure}")


def make_state_private(state: Path, database: Path) -> list[ModeChange]:
    """Create *state* (mode 0700) or tighten it, and tighten *database* and SQLite's
    companion files beside it if they exist.

    :raises OSError: *state* cannot be created.
    """
    state.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    files = [database, *(database.with_name(database.name + s) for s in COMPANION_SUFFIXES)]
    found = (_tighten(path) for path in [state, *files])
    return [change for change in found if change is not None]


def _tighten(path: Path) -> ModeChange | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    old = stat.S_IMODE(status.st_mode)
    new = old & ~_SHARED_BITS
    if new == old:
        return None
    if stat.S_ISDIR(status.st_mode) and old & stat.S_ISVTX:
        return ModeChange(path, old, new, "it is a shared folder (sticky bit)")
    try:
        os.chmod(path, new)
    except OSError as exc:
        return ModeChange(path, old, new, exc.strerror or str(exc))
    return ModeChange(path, old, new)
