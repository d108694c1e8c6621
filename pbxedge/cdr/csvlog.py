"""cdr_csv's ``Master.csv`` (and ``<accountcode>.csv`` with ``accountlogs``), byte for byte.

Each record is one ``write`` of a whole line (``O_APPEND``): a ``kill -9`` right after a
hangup finds the completed call in the file, and a crash mid-write can at worst leave a partial
last line, never a damaged earlier one. Against a power cut the files are synced to disk at most
once every :data:`SYNC_INTERVAL` seconds, when a record is written (Asterisk never syncs): one
sync per record would stall the node's event loop for a disk flush at every hangup, which
caps a busy node at a few hundred calls a second. Unlike Asterisk, the ``cdr-csv`` folder is
created.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from pbxedge.cdr.config import CdrConfig
from pbxedge.cdr.record import CdrRecord

__all__ = ["CsvCdrLog", "csv_line"]

logger = logging.getLogger("pbxedge.cdr")

SYNC_INTERVAL = 1.0  # seconds: what a power cut can cost at most (plus the write in flight)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _time(value: float | None, gmt: bool) -> str:
    if value is None:
        return ""  # an unset time is an empty, unquoted field
    stamp = time.gmtime(value) if gmt else time.localtime(value)
    return _quoted(time.strftime("%Y-%m-%d %H:%M:%S", stamp))


def csv_line(record: CdrRecord, config: CdrConfig) -> str:
    """One line as ``build_csv_record`` writes it."""
    fields = [_quoted(record.accountcode), _quoted(record.src), _quoted(record.dst),
              _quoted(record.dcontext), _quoted(record.clid), _quoted(record.channel),
              _quoted(record.dstchannel), _quoted(record.lastapp), _quoted(record.lastdata),
              _time(record.start, config.usegmtime), _time(record.answer, config.usegmtime),
              _time(record.end, config.usegmtime), str(record.duration),
              str(record.billsec(initiated_seconds=config.initiatedseconds)),
              _quoted(record.disposition.value), _quoted(record.amaflags.value)]
    if config.loguniqueid:
        fields.append(_quoted(record.uniqueid))
    if config.loguserfield:
        fields.append(_quoted(record.userfield))
    if config.newcdrcolumns:
        fields += [_quoted(record.peeraccount), _quoted(record.linkedid), str(record.sequence)]
    return ",".join(fields) + "\n"


class CsvCdrLog:
    def __init__(self, folder: Path, config: CdrConfig) -> None:
        self.folder = folder
        self.config = config
        self._made = False  # the folder exists (created once, not checked per record)
        self._unsynced: set[Path] = set()
        self._synced_at = -SYNC_INTERVAL  # time.monotonic() of the last sync

    @property
    def master(self) -> Path:
        return self.folder / "Master.csv"

    def write(self, record: CdrRecord) -> None:
        line = csv_line(record, self.config).encode("utf-8", errors="backslashreplace")
        targets = [self.master]
        if self.config.accountlogs and record.accountcode:
            name = record.accountcode.replace("/", "_")
            targets.append(self.folder / f"{name}.csv")
        try:
            if not self._made:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._made = True
            for path in targets:
                _append(path, line)
                self._unsynced.add(path)
            now = time.monotonic()
            if now - self._synced_at >= SYNC_INTERVAL:
                self._synced_at = now
                unsynced, self._unsynced = self._unsynced, set()
                for path in unsynced:
                    _sync(path)
        except OSError as exc:
            logger.error("Unable to write CDR to %s: %s", self.folder, exc)


def _append(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
