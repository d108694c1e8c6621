"""The node's persistent state: one SQLite file in the state directory.

It replaces Asterisk's astdb and holds:

- **registrations of peers that registered to us**, each with an *absolute* expiry time (unix
  seconds).  Asterisk stores only ``host:port:expiry`` and, after a restart, grants the peer a
  fresh full expiry (iax2.md §6.3, §10 row 3).  Keeping the absolute time means a restart never
  extends a registration: :meth:`Store.load_registrations` returns what is still valid and
  deletes what has expired;
- **an astdb-like key/value store** (families and keys, stored as ``/family/key`` like astdb), used
  by AGI ``DATABASE`` commands, ``dbsecret=family/key`` and the ``database show`` console view;
- the call detail records, and an **outbox** of writes for a shared Realtime database
  (registration updates, CDRs), kept until that database has them;
- the **alarms and self tests of phone boxes** (an alarm is written at every step, so a restart
  resumes it).

Registrations also appear in the key/value view under the family ``IAX/Registry``, as astdb shows
them, with the value ``host:port:remaining``:

- ``host:port`` is written the way Asterisk writes a socket address (``[::1]:4571`` for IPv6);
- ``remaining`` is the whole number of seconds, **rounded up**, until the registration expires.
  Asterisk writes the granted lifetime there; pbxedge writes what is left of it, which is the
  lifetime a peer still has if the value is read back after a restart.

That family is a view: ``db_put`` refuses it (:class:`ReservedFamilyError`), while ``db_del`` and
``db_deltree`` delete the registrations it shows.  Expired registrations are not shown.

Privacy: a missing file is created with mode 0600 (its folder 0700), and SQLite gives the ``-wal``
and ``-shm`` files the mode of the database; :mod:`pbxedge.private_state` tightens older ones.

Robustness (the node must start whatever the file holds): a missing file is created; a file that
is not a database, is malformed, or has another schema is renamed aside to
``<name>.corrupt-<UTC timestamp>`` (with its ``-wal``/``-shm``/``-journal`` companions) and a fresh
one is created; a file that cannot be opened at all (permissions, read-only disk) leaves the node on
an in-memory database.  :meth:`Store.open` never raises for these: it returns the problems as
strings for the caller to log.

The API is synchronous.  The node calls it from the trio thread: every call is a small indexed
query or a single-row write, far below a millisecond on a local disk, so a worker thread would cost
more than it saves.  Every write is one transaction (``BEGIN IMMEDIATE`` … ``COMMIT``), so a crash
leaves either the old or the new state.  After the file is open, SQLite errors (disk full, file
deleted underneath us) are raised as :class:`StoreError`.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pbxedge.cdr.record import CdrRecord
from pbxedge.iax2.showframe import format_addr

__all__ = [
    "COMPANION_SUFFIXES",
    "DEFAULT_FILENAME",
    "REGISTRY_FAMILY",
    "SCHEMA_VERSION",
    "AstDb",
    "OutboxEntry",
    "ReservedFamilyError",
    "Store",
    "StoreError",
    "StoredAlarm",
    "StoredBoxTest",
    "StoredRegistration",
    "format_database_show",
]

DEFAULT_FILENAME = "pbxedge.sqlite3"
REGISTRY_FAMILY = "IAX/Registry"
SCHEMA_VERSION = 4
# Older versions the store upgrades in place: version -> the tables it may lack (an upgrade
# creates those that are missing). Version 3 was written in two forms, one with the Realtime
# outbox and one with the phone-box tables; version 4 has both, so either 3 upgrades.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("cdr", "outbox", "alarms", "box_tests"),
    2: ("outbox", "alarms", "box_tests"),
    3: ("outbox", "alarms", "box_tests"),
}

# How long a write waits for another connection's lock before failing.  Only another pbxedge
# process (or a human with the sqlite3 shell) can hold it, so a short wait is plenty and keeps the
# trio thread from stalling.
_BUSY_TIMEOUT_SECONDS = 1.0

# Primary result codes (sqlite3.h) that mean "the bytes are not a sound database", as opposed to
# "the file cannot be reached" (permissions, locks, I/O), which must never cost the user the file.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26

_SCHEMA: dict[str, str] = {
    "meta": "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "registrations": (
        "CREATE TABLE registrations ("
        " peer TEXT PRIMARY KEY,"
        " host TEXT NOT NULL,"
        " port INTEGER NOT NULL,"
        " expires_at REAL NOT NULL,"
        " refresh INTEGER NOT NULL,"
        " username TEXT)"
    ),
    "kv": "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "cdr": (
        "CREATE TABLE cdr ("
        " id INTEGER PRIMARY KEY,"
        " accountcode TEXT, src TEXT, dst TEXT, dcontext TEXT, clid TEXT, channel TEXT,"
        " dstchannel TEXT, lastapp TEXT, lastdata TEXT,"
        " start REAL NOT NULL, answer REAL, \"end\" REAL NOT NULL,"
        " duration INTEGER NOT NULL, billsec INTEGER NOT NULL, disposition TEXT NOT NULL,"
        " amaflags TEXT NOT NULL, uniqueid TEXT, userfield TEXT, linkedid TEXT)"
    ),
    # A phone box's alarm from the press until a person acknowledges it (or the box gives
    # up): written at every step, so a restart resumes it where it was.
    "alarms": (
        "CREATE TABLE alarms ("
        " id INTEGER PRIMARY KEY, box TEXT NOT NULL, started_at REAL NOT NULL,"
        " state TEXT NOT NULL, attempts INTEGER NOT NULL, next_target INTEGER NOT NULL,"
        " closed_at REAL, closed_by TEXT)"
    ),
    "box_tests": (
        "CREATE TABLE box_tests ("
        " id INTEGER PRIMARY KEY, box TEXT NOT NULL, at REAL NOT NULL,"
        " passed INTEGER NOT NULL, detail TEXT NOT NULL)"
    ),
    # Writes for a shared database, kept until it has them (see OutboxEntry).
    "outbox": (
        "CREATE TABLE outbox ("
        " id INTEGER PRIMARY KEY,"
        " target TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " key TEXT,"
        " payload TEXT NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0)"
    ),
}
_CDR_COLUMNS = ("id", "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
                "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
                "disposition", "amaflags", "uniqueid", "userfield", "linkedid")
_CDR_INSERT = (f"INSERT INTO cdr ({', '.join(repr(c) for c in _CDR_COLUMNS[1:])}) "
               f"VALUES ({', '.join('?' * (len(_CDR_COLUMNS) - 1))})")
_EXPECTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "meta": ("name", "value"),
    "registrations": ("peer", "host", "port", "expires_at", "refresh", "username"),
    "kv": ("key", "value"),
    "cdr": _CDR_COLUMNS,
    "alarms": ("id", "box", "started_at", "state", "attempts", "next_target", "closed_at",
               "closed_by"),
    "box_tests": ("id", "box", "at", "passed", "detail"),
    "outbox": ("id", "target", "kind", "key", "payload", "attempts"),
}
# Files SQLite keeps beside the database; they belong to it and move aside with it.
COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")

_REGISTRY_PREFIX = f"/{REGISTRY_FAMILY}"


class StoreError(Exception):
    """A state operation failed after the store was opened (disk full, file removed, …)."""


class ReservedFamilyError(StoreError):
    """A write to the ``IAX/Registry`` view, which only the registrar may change."""


@dataclass(frozen=True, slots=True)
class StoredRegistration:
    """A peer that registered to us, as persisted."""

    peer: str
    """The peer's name in iax.conf."""
    host: str
    """The address it registered from."""
    port: int
    """The port it registered from."""
    expires_at: float
    """Absolute unix time at which the registration lapses."""
    refresh: int
    """The lifetime granted in the REGACK, in seconds."""
    username: str | None = None
    """The USERNAME it registered with, when the registrar records one."""

    def remaining(self, now: float) -> float:
        """Seconds left at unix time ``now`` (0 once expired)."""
        return max(0.0, self.expires_at - now)


@dataclass(frozen=True, slots=True)
class StoredAlarm:
    """A phone box's alarm as persisted (``state``: pending, acknowledged, given-up)."""

    id: int
    box: str
    started_at: float
    state: str
    attempts: int
    next_target: int
    closed_at: float | None = None
    closed_by: str | None = None


@dataclass(frozen=True, slots=True)
class StoredBoxTest:
    """The outcome of a phone box's periodic self test."""

    box: str
    at: float
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A write waiting for the shared (Realtime) database, oldest first.

    *target* names the database, *kind* the statement, *payload* its JSON arguments;
    *attempts* counts the tries whose outcome is unknown (the commit may have arrived).
    """

    id: int
    target: str
    kind: str
    key: str | None
    payload: str
    attempts: int


class _Unusable(Exception):
    """The file exists but is not a pbxedge state database we can use."""


class Store:
    """The SQLite-backed state of one node.  Create it with :meth:`open`."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        *,
        persistent: bool,
        clock: Callable[[], float],
    ) -> None:
        self._connection = connection
        self._clock = clock
        self.path = path
        """The file this store was asked to use."""
        self.persistent = persistent
        """False when the file could not be opened and the state lives in memory only."""
        self._in_transaction = False

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> tuple[Store, list[str]]:
        """Open (or create) the state file at ``path``; never raises for a bad file.

        :param clock: unix time source, used for the ``IAX/Registry`` view and for naming a
            corrupt file that is moved aside.
        :return: the store, and the problems met (empty when all went well), each a sentence
            naming the file, for the caller to log.
        """
        path = Path(path)
        problems: list[str] = []
        try:
            return cls(_open_checked(path), path, persistent=True, clock=clock), problems
        except _Unusable as unusable:
            try:
                aside = _move_aside(path, clock())
            except OSError as exc:
                problems.append(f"{path}: unusable state database ({unusable}), and moving it "
                                f"aside failed ({exc})")
            else:
                problems.append(f"{path}: unusable state database ({unusable}); moved aside to "
                                f"{aside.name}, starting with empty state")
                try:
                    return cls(_open_checked(path), path, persistent=True, clock=clock), problems
                except (_Unusable, OSError, sqlite3.Error) as exc:
                    problems.append(f"{path}: cannot create a fresh state database ({exc})")
        except (OSError, sqlite3.Error) as exc:
            problems.append(f"{path}: cannot open state database ({exc})")
        problems.append(f"{path}: state is kept in memory and will be lost at exit")
        memory = sqlite3.connect(":memory:", isolation_level=None)
        _create_schema(memory)
        return cls(memory, path, persistent=False, clock=clock), problems

    def close(self) -> None:
        """Close the database; the store must not be used afterwards."""
        self._connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ call detail records

    def save_cdr(self, record: CdrRecord) -> None:
        """Keep one call's detail record (the same row Master.csv gets)."""
        with self._write() as db:
            db.execute(
                _CDR_INSERT,
                (record.accountcode, record.src, record.dst, record.dcontext, record.clid,
                 record.channel, record.dstchannel, record.lastapp, record.lastdata,
                 record.start, record.answer, record.end, record.duration, record.billsec(),
                 record.disposition.value, record.amaflags.value, record.uniqueid,
                 record.userfield, record.linkedid))

    def cdrs(self) -> list[dict[str, object]]:
        """Every stored record, oldest first, as column -> value."""
        with self._read() as db:
            rows = db.execute("SELECT * FROM cdr ORDER BY id").fetchall()
        return [dict(zip(_CDR_COLUMNS, row, strict=True)) for row in rows]

    # ------------------------------------------------------------------ phone boxes

    def open_alarm(self, box: str, started_at: float) -> StoredAlarm:
        """Record a new pending alarm of *box*."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO alarms (box, started_at, state, attempts, next_target)"
                " VALUES (?, ?, 'pending', 0, 0)", (box, started_at))
            alarm_id = int(cursor.lastrowid or 0)
        return StoredAlarm(alarm_id, box, started_at, "pending", 0, 0)

    def update_alarm(self, alarm_id: int, attempts: int, next_target: int) -> None:
        with self._write() as db:
            db.execute("UPDATE alarms SET attempts = ?, next_target = ? WHERE id = ?",
                       (attempts, next_target, alarm_id))

    def close_alarm(self, alarm_id: int, state: str, closed_at: float,
                    closed_by: str | None = None) -> None:
        with self._write() as db:
            db.execute("UPDATE alarms SET state = ?, closed_at = ?, closed_by = ? WHERE id = ?",
                       (state, closed_at, closed_by, alarm_id))

    def pending_alarm(self, box: str) -> StoredAlarm | None:
        """The alarm of *box* still waiting for a person, oldest first."""
        with self._read() as db:
            row = db.execute("SELECT * FROM alarms WHERE box = ? AND state = 'pending'"
                             " ORDER BY id LIMIT 1", (box,)).fetchone()
        return StoredAlarm(*row) if row is not None else None

    def last_alarm(self, box: str) -> StoredAlarm | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM alarms WHERE box = ? ORDER BY id DESC LIMIT 1",
                             (box,)).fetchone()
        return StoredAlarm(*row) if row is not None else None

    def save_box_test(self, box: str, at: float, passed: bool, detail: str) -> None:
        with self._write() as db:
            db.execute("INSERT INTO box_tests (box, at, passed, detail) VALUES (?, ?, ?, ?)",
                       (box, at, int(passed), detail))

    def last_box_test(self, box: str) -> StoredBoxTest | None:
        with self._read() as db:
            row = db.execute("SELECT box, at, passed, detail FROM box_tests WHERE box = ?"
                             " ORDER BY id DESC LIMIT 1", (box,)).fetchone()
        return StoredBoxTest(str(row[0]), float(row[1]), bool(row[2]), str(row[3])) if row else None
    # ------------------------------------------------------------------ outbox

    def outbox_add(self, target: str, kind: str, payload: str, *, key: str | None = None) -> None:
        """Queue a write; one with a *key* replaces the pending ones with the same key
        (only the latest registration state of a peer matters)."""
        with self._write() as db:
            if key is not None:
                db.execute("DELETE FROM outbox WHERE target = ? AND key = ?", (target, key))
            db.execute("INSERT INTO outbox (target, kind, key, payload) VALUES (?, ?, ?, ?)",
                       (target, kind, key, payload))

    def outbox_pending(self, target: str, limit: int) -> list[OutboxEntry]:
        with self._read() as db:
            rows = db.execute("SELECT * FROM outbox WHERE target = ? ORDER BY id LIMIT ?",
                              (target, limit)).fetchall()
        return [OutboxEntry(*row) for row in rows]

    def outbox_attempted(self, ids: list[int]) -> None:
        with self._write() as db:
            db.executemany("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?",
                           [(i,) for i in ids])

    def outbox_done(self, ids: list[int]) -> None:
        with self._write() as db:
            db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def outbox_count(self, target: str | None = None) -> int:
        with self._read() as db:
            if target is None:
                row = db.execute("SELECT count(*) FROM outbox").fetchone()
            else:
                row = db.execute("SELECT count(*) FROM outbox WHERE target = ?",
                                 (target,)).fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ registrations

    def save_registration(
        self,
        peer: str,
        host: str,
        port: int,
        expires_at: float,
        refresh: int,
        username: str | None = None,
    ) -> None:
        """Record (or replace) ``peer``'s registration, valid until unix time ``expires_at``."""
        reg = StoredRegistration(peer, host, port, expires_at, refresh, username)
        self.write_registrations([(peer, reg)])

    def write_registrations(self, changes: Iterable[tuple[str, StoredRegistration | None]]) -> None:
        """Apply many saves (a registration) and deletes (None), in order, in one transaction:
        what a busy registrar has decided since its last write, at the cost of one commit."""
        with self._write() as db:
            for peer, reg in changes:
                if reg is None:
                    db.execute("DELETE FROM registrations WHERE peer = ?", (peer,))
                else:
                    _check_registration(reg)
                    db.execute("INSERT OR REPLACE INTO registrations VALUES (?, ?, ?, ?, ?, ?)",
                               (peer, reg.host, reg.port, reg.expires_at, reg.refresh,
                                reg.username))

    def delete_registration(self, peer: str) -> bool:
        """Forget ``peer``'s registration; True if there was one."""
        with self._write() as db:
            return db.execute("DELETE FROM registrations WHERE peer = ?", (peer,)).rowcount > 0

    def load_registrations(self, now: float) -> list[StoredRegistration]:
        """The registrations still valid at unix time ``now``, by peer name.

        Those that expired while the node was down are deleted in the same transaction.
        """
        with self._write() as db:
            db.execute("DELETE FROM registrations WHERE expires_at <= ?", (now,))
            rows = db.execute("SELECT * FROM registrations ORDER BY peer").fetchall()
        return [StoredRegistration(*row) for row in rows]

    # ------------------------------------------------------------------ astdb-like key/value

    def astdb(self) -> AstDb:
        """This store behind the dialplan's key/value interface."""
        return AstDb(self)

    def db_get(self, family: str, key: str) -> str | None:
        """The value at ``/family/key``, or None."""
        full_key = _full_key(family, key)
        if _in_tree(full_key, _REGISTRY_PREFIX):
            return dict(self._registry_rows(self._clock())).get(full_key)
        with self._read() as db:
            row = db.execute("SELECT value FROM kv WHERE key = ?", (full_key,)).fetchone()
        return None if row is None else str(row[0])

    def db_put(self, family: str, key: str, value: str) -> None:
        """Set ``/family/key`` to ``value``.

        :raises ReservedFamilyError: for keys under ``IAX/Registry``.
        """
        full_key = _full_key(family, key)
        if _in_tree(full_key, _REGISTRY_PREFIX):
            raise ReservedFamilyError(f"{full_key}: {REGISTRY_FAMILY} is kept by the registrar")
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (full_key, value))

    def db_del(self, family: str, key: str) -> bool:
        """Delete ``/family/key``; True if it existed."""
        return self._delete_tree(_full_key(family, key), whole_tree=False) > 0

    def db_deltree(self, family: str, prefix: str | None = None) -> int:
        """Delete ``/family`` (or ``/family/prefix``) and every key below it; return how many.

        Matching is by whole path segments: ``db_deltree("a", "b")`` removes ``/a/b`` and
        ``/a/b/c`` but not ``/a/bc``.
        """
        if not family:
            raise ValueError("family must not be empty")
        tree = f"/{family}" if prefix is None else _full_key(family, prefix)
        return self._delete_tree(tree, whole_tree=True)

    def db_show(self, prefix: str = "") -> list[tuple[str, str]]:
        """``(key, value)`` pairs under ``prefix`` (``""`` for all), sorted by key.

        ``prefix`` is ``family`` or ``family/keytree`` (a leading ``/`` is optional), matched by
        whole path segments.  Keys are full astdb keys such as ``/IAX/Registry/md5peer``.
        """
        tree = _normalise_prefix(prefix)
        with self._read() as db:
            stored = db.execute(
                "SELECT key, value FROM kv WHERE ? = '' OR key = ? OR substr(key, 1, ?) = ?",
                (tree, tree, len(tree) + 1, tree + "/"),
            ).fetchall()
        rows = [(str(key), str(value)) for key, value in stored]
        rows += [row for row in self._registry_rows(self._clock()) if _in_tree(row[0], tree)]
        return sorted(rows)

    def database_show(self, prefix: str = "") -> str:
        """The console text of ``database show [family [keytree]]``, Asterisk's layout."""
        return format_database_show(self.db_show(prefix))

    # ------------------------------------------------------------------ internals

    def _registry_rows(self, now: float) -> list[tuple[str, str]]:
        with self._read() as db:
            rows = db.execute(
                "SELECT peer, host, port, expires_at FROM registrations WHERE expires_at > ?",
                (now,),
            ).fetchall()
        return [
            (f"{_REGISTRY_PREFIX}/{peer}",
             f"{format_addr(host, port)}:{math.ceil(expires_at - now)}")
            for peer, host, port, expires_at in rows
        ]

    def _delete_tree(self, tree: str, *, whole_tree: bool) -> int:
        below = tree + "/" if whole_tree else None
        with self._write() as db:
            deleted = db.execute(
                "DELETE FROM kv WHERE key = ? OR (? IS NOT NULL AND substr(key, 1, ?) = ?)",
                (tree, below, len(tree) + 1, below),
            ).rowcount
            # The registry view is keyed /IAX/Registry/<peer>; delete the peers the tree covers.
            peers = [str(row[0]) for row in db.execute("SELECT peer FROM registrations")]
            doomed = [
                (peer,) for peer in peers
                if (key := f"{_REGISTRY_PREFIX}/{peer}") == tree
                or (below is not None and key.startswith(below))
            ]
            db.executemany("DELETE FROM registrations WHERE peer = ?", doomed)
        return int(deleted) + len(doomed)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make every write inside one transaction: a batch of rows at the cost of one commit.
        Each write inside is still all or nothing (a savepoint), so a caller may catch one
        failed write and go on; a failed commit undoes them all and raises
        :class:`StoreError`."""
        if self._in_transaction:
            yield
            return
        with self._write():
            self._in_transaction = True
            try:
                yield
            finally:
                self._in_transaction = False

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self._in_transaction:
            # Inside transaction(): each write is still all or nothing.
            yield from self._atomic("SAVEPOINT write", ("RELEASE write",),
                                    ("ROLLBACK TO write", "RELEASE write"))
        else:
            # IMMEDIATE takes the write lock up front, so two processes never deadlock
            # upgrading read locks; the busy timeout then serialises them.
            yield from self._atomic("BEGIN IMMEDIATE", ("COMMIT",), ("ROLLBACK",))

    def _atomic(self, begin: str, commit: tuple[str, ...],
                rollback: tuple[str, ...]) -> Iterator[sqlite3.Connection]:
        db = self._connection
        try:
            db.execute(begin)
            try:
                yield db
            except BaseException:
                for statement in rollback:
                    db.execute(statement)
                raise
            for statement in commit:
                db.execute(statement)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._connection
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc


def _check_registration(reg: StoredRegistration) -> None:
    if not reg.peer:
        raise ValueError("peer name must not be empty")
    if not 0 <= reg.port <= 0xFFFF:
        raise ValueError(f"port out of range: {reg.port}")
    if not math.isfinite(reg.expires_at):
        raise ValueError(f"expires_at must be a finite unix time, not {reg.expires_at}")
    if reg.refresh < 0:
        raise ValueError(f"refresh must not be negative: {reg.refresh}")


def format_database_show(rows: list[tuple[str, str]]) -> str:
    """Render rows as Asterisk's ``database show`` does (main/db.c: ``"%-50s: %-25s"`` per row,
    values padded too, then ``"%d results found."``, plural even for one)."""
    lines = [f"{key:<50}: {value:<25}" for key, value in rows]
    lines.append(f"{len(rows)} results found.")
    return "\n".join(lines) + "\n"


def _full_key(family: str, key: str) -> str:
    if not family or not key:
        raise ValueError("family and key must not be empty")
    return f"/{family}/{key}"


def _normalise_prefix(prefix: str) -> str:
    stripped = prefix.strip("/")
    return f"/{stripped}" if stripped else ""


def _in_tree(full_key: str, tree: str) -> bool:
    return tree == "" or full_key == tree or full_key.startswith(tree + "/")


def _open_checked(path: Path) -> sqlite3.Connection:
    """Connect to ``path``, creating the schema in an empty file, and verify it.

    :raises _Unusable: the file is corrupt or holds something else.
    :raises OSError, sqlite3.Error: the file cannot be reached at all.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _create_private(path)
    # isolation_level=None: no implicit transactions; Store._write issues them explicitly.
    connection = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        _check_integrity(connection)
        # WAL lets readers proceed during a write; NORMAL sync is safe with WAL (a power cut may
        # lose the last commits, never consistency), and registrations are refreshed anyway.
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        _create_schema(connection)
        _check_schema(connection)
    except sqlite3.DatabaseError as exc:
        connection.close()
        if exc.sqlite_errorcode & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            raise _Unusable(str(exc)) from exc
        raise
    except _Unusable:
        connection.close()
        raise
    return connection


def _create_private(path: Path) -> None:
    """Create *path* empty (a new database to SQLite) and readable by its owner only; SQLite
    gives its -wal and -shm files the mode of the database."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))


def _check_integrity(connection: sqlite3.Connection) -> None:
    # quick_check reads every page, which is what it takes to notice a malformed file; the state
    # file is a few kilobytes, so this costs nothing at startup.
    verdict = [str(row[0]) for row in connection.execute("PRAGMA quick_check")]
    if verdict != ["ok"]:
        raise _Unusable("integrity check failed: " + "; ".join(verdict[:3]))


def _create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables in an empty database; leave a non-empty one alone."""
    # Inside one IMMEDIATE transaction, so two processes opening a new file at once cannot both
    # create the tables.
    connection.execute("BEGIN IMMEDIATE")
    try:
        if not _table_names(connection):
            for statement in _SCHEMA.values():
                connection.execute(statement)
            connection.execute(
                "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _check_schema(connection: sqlite3.Connection) -> None:
    tables = _table_names(connection)
    if "meta" not in tables:
        raise _Unusable(f"not a pbxedge state database (tables: {', '.join(sorted(tables))})")
    row = connection.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    if row is not None and str(row[0]).isdigit() and int(row[0]) in _MIGRATIONS:
        _migrate(connection, int(row[0]))
        row = (str(SCHEMA_VERSION),)
    if row is None or str(row[0]) != str(SCHEMA_VERSION):
        found = "none" if row is None else row[0]
        raise _Unusable(f"schema version {found}, expected {SCHEMA_VERSION}")
    for table, expected in _EXPECTED_COLUMNS.items():
        columns = tuple(str(info[1]) for info in connection.execute(f"PRAGMA table_info({table})"))
        if columns != expected:
            raise _Unusable(f"table {table} has columns {columns}, expected {expected}")


def _migrate(connection: sqlite3.Connection, version: int) -> None:
    """Add what a state file of an earlier *version* lacks, keeping everything it holds."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        for table in _MIGRATIONS[version]:
            if table not in _table_names(connection):
                connection.execute(_SCHEMA[table])
        connection.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'",
                           (str(SCHEMA_VERSION),))
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _table_names(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(row[0]) for row in rows}


def _move_aside(path: Path, now: float) -> Path:
    """Rename the unusable file (and SQLite's companions) to ``<name>.corrupt-<timestamp>``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    attempt = 1
    while aside.exists():
        attempt += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{attempt}")
    path.rename(aside)
    for suffix in COMPANION_SUFFIXES:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            # A stale WAL beside a fresh database would be replayed into it: move it too.
            companion.rename(aside.with_name(aside.name + suffix))
    return aside


class AstDb:
    """The store as the dialplan's key/value protocol (AGI ``DATABASE GET/PUT/DEL``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, family: str, key: str) -> str | None:
        return self._store.db_get(family, key)

    def put(self, family: str, key: str, value: str) -> None:
        self._store.db_put(family, key, value)

    def delete(self, family: str, key: str) -> bool:
        return self._store.db_del(family, key)
