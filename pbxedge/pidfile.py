"""``pbxedge --pidfile FILE``: the process id for init scripts and monitors.

The file is written once the node holds its control socket (so a second instance, which
exits at that point, never overwrites the first one's file), created atomically with the
id and a newline, and removed when the node exits, only if it still holds our id.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType

__all__ = ["PidFile", "PidFileError"]


class PidFileError(Exception):
    pass


class PidFile:
    def __init__(self, path: Path, pid: int) -> None:
        self.path = path
        self.pid = pid

    @classmethod
    def create(cls, path: Path) -> PidFile:
        pid = os.getpid()
        temporary = path.with_name(f".{path.name}.{pid}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(f"{pid}\n")
            temporary.replace(path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise PidFileError(f"cannot write the pid file {path}: {exc.strerror or exc}") from exc
        return cls(path, pid)

    def remove(self) -> None:
        try:
            if self.path.read_text().strip() == str(self.pid):
                self.path.unlink()
        except OSError:
            pass  # gone already, or replaced by someone else's: theirs to keep

    def __enter__(self) -> PidFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.remove()
