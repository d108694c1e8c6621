"""pbxedge.store: persistence, absolute expiry, corrupt files, the astdb-like view."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from pbxedge.store import (
    DEFAULT_FILENAME,
    SCHEMA_VERSION,
    ReservedFamilyError,
    Store,
    StoredRegistration,
    format_database_show,
)

T0 = 1_800_000_000.0  # a fixed unix time, so expiry arithmetic is exact


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / DEFAULT_FILENAME


def open_clean(path: Path, clock: FakeClock | None = None) -> Store:
    store, problems = Store.open(path, clock=clock or FakeClock())
    assert problems == []
    assert store.persistent
    return store


def corrupt_files(path: Path) -> list[Path]:
    """The database files moved aside (their -wal/-shm companions left out)."""
    moved = path.parent.glob(f"{path.name}.corrupt-*")
    return sorted(p for p in moved if not p.name.endswith(("-wal", "-shm", "-journal")))


# ---------------------------------------------------------------- opening


def test_missing_file_and_directory_are_created(db_path: Path) -> None:
    with open_clean(db_path):
        pass
    assert db_path.is_file()
    assert corrupt_files(db_path) == []


def test_a_new_database_and_its_folder_are_private(db_path: Path) -> None:
    with open_clean(db_path) as store:
        store.save_registration("peer", "127.0.0.1", 4569, T0 + 60, 60)
        # SQLite creates the WAL files with the database's mode.
        files = [db_path, *(db_path.with_name(db_path.name + s) for s in ("-wal", "-shm"))]
        assert [stat.S_IMODE(f.stat().st_mode) for f in files] == [0o600] * 3
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700


def test_schema_version_is_recorded(db_path: Path) -> None:
    open_clean(db_path).close()
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone() == (
            "4",
        )


def test_empty_file_is_a_fresh_database(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"")
    with open_clean(db_path) as store:
        store.db_put("fam", "k", "v")
        assert store.db_get("fam", "k") == "v"


# ---------------------------------------------------------------- registrations


def test_registration_round_trip_survives_reopen(db_path: Path) -> None:
    with open_clean(db_path) as store:
        store.save_registration("md5peer", "127.0.0.1", 4571, T0 + 60, 60)
        store.save_registration("v6peer", "::1", 4572, T0 + 120, 120, username="alice")
    with open_clean(db_path) as store:
        assert store.load_registrations(T0) == [
            StoredRegistration("md5peer", "127.0.0.1", 4571, T0 + 60, 60, None),
            StoredRegistration("v6peer", "::1", 4572, T0 + 120, 120, "alice"),
        ]


def test_save_replaces_previous_registration(db_path: Path) -> None:
    with open_clean(db_path) as store:
        store.save_registration("p", "10.0.0.1", 4569, T0 + 60, 60)
        store.save_registration("p", "10.0.0.2", 4570, T0 + 90, 90)
        assert store.load_registrations(T0) == [
            StoredRegistration("p", "10.0.0.2", 4570, T0 + 90, 90)
        ]


def test_restart_keeps_only_the_remaining_time(db_path: Path) -> None:
    with open_clean(db_path) as store:
        store.save_registration("p", "127.0.0.1", 4571, T0 + 60, 60)
    # "Restart" 45 s later: the registration is back with 15 s left, not a fresh 60.
    with open_clean(db_path) as store:
        (restored,) = store.load_registrations(T0 + 45)
        assert restored.expires_at == T0 + 60
        assert restored.remaining(T0 + 45) == 15
        assert restored.remaining(T0 + 100) == 0


def test_expired_registrations_are_dropped_and_deleted_at_load(db_path: Path) -> None:
    with open_clean(db_path) as store:
        store.save_registration("old", "127.0.0.1", 4571, T0 + 10, 60)
        store.save_registration("edge", "127.0.0.1", 4572, T0 + 30, 60)
        store.save_registration("new", "127.0.0.1", 4573, T0 + 31, 60)
    with open_clean(db_path) as store:
        assert [r.peer for r in store.load_registrations(T0 + 30)] == ["new"]
        # Deleted, not merely hidden: going back in time does not resurrect them.
        assert [r.peer for r in store.load_registrations(T0)] == ["new"]


def test_delete_registration(db_path: Path) -> None:
    with open_clean(db_path) as store:
        store.save_registration("p", "127.0.0.1", 4571, T0 + 60, 60)
        assert store.delete_registration("p") is True
        assert store.delete_registration("p") is False
        assert store.load_registrations(T0) == []


@pytest.mark.parametrize(
    ("peer", "port", "expires_at", "refresh"),
    [("", 4569, T0, 60), ("p", 70000, T0, 60), ("p", 4569, float("nan"), 60),
     ("p", 4569, float("inf"), 60), ("p", 4569, T0, -1)],
)
def test_invalid_registration_is_refused(
    db_path: Path, peer: str, port: int, expires_at: float, refresh: int
) -> None:
    with open_clean(db_path) as store, pytest.raises(ValueError):
        store.save_registration(peer, "127.0.0.1", port, expires_at, refresh)


# ---------------------------------------------------------------- key/value


def test_kv_round_trip_and_delete(db_path: Path) -> None:
    with open_clean(db_path) as store:
        assert store.db_get("secrets", "alice") is None
        store.db_put("secrets", "alice", "s3cret")
        store.db_put("secrets", "alice", "changed")
    with open_clean(db_path) as store:
        assert store.db_get("secrets", "alice") == "changed"
        assert store.db_del("secrets", "alice") is True
        assert store.db_del("secrets", "alice") is False
        assert store.db_get("secrets", "alice") is None


def test_family_may_contain_slashes_like_astdb(db_path: Path) -> None:
    with open_clean(db_path) as store:
        store.db_put("a/b", "c", "1")
        assert store.db_get("a", "b/c") == "1"
        assert store.db_show() == [("/a/b/c", "1")]


def test_deltree_matches_whole_segments(db_path: Path) -> None:
    with open_clean(db_path) as store:
        for family, key in [("cf", "100"), ("cf", "100/x"), ("cf", "1000"), ("cfx", "1"),
                            ("other", "1")]:
            store.db_put(family, key, "v")
        assert store.db_deltree("cf", "100") == 2
        assert [k for k, _ in store.db_show()] == ["/cf/1000", "/cfx/1", "/other/1"]
        assert store.db_deltree("cf") == 1
        assert [k for k, _ in store.db_show()] == ["/cfx/1", "/other/1"]
        assert store.db_deltree("nothing") == 0


def test_show_filters_by_prefix_with_or_without_slash(db_path: Path) -> None:
    with open_clean(db_path) as store:
        store.db_put("b", "2", "two")
        store.db_put("a", "1", "one")
        store.db_put("ab", "1", "not under a")
        assert store.db_show() == [("/a/1", "one"), ("/ab/1", "not under a"), ("/b/2", "two")]
        assert store.db_show("a") == [("/a/1", "one")]
        assert store.db_show("/a/1") == [("/a/1", "one")]
        assert store.db_show("missing") == []


def test_empty_family_or_key_is_refused(db_path: Path) -> None:
    with open_clean(db_path) as store:
        for family, key in [("", "k"), ("f", "")]:
            with pytest.raises(ValueError):
                store.db_put(family, key, "v")
        with pytest.raises(ValueError):
            store.db_deltree("")


# ---------------------------------------------------------------- IAX/Registry view


def test_registry_view_shows_remaining_seconds_rounded_up(db_path: Path) -> None:
    clock = FakeClock()
    with open_clean(db_path, clock) as store:
        store.save_registration("md5peer", "127.0.0.1", 4571, T0 + 60, 60)
        store.save_registration("v6peer", "::1", 4572, T0 + 30.2, 60)
        store.save_registration("gone", "127.0.0.1", 4573, T0, 60)
        assert store.db_show("IAX/Registry") == [
            ("/IAX/Registry/md5peer", "127.0.0.1:4571:60"),
            ("/IAX/Registry/v6peer", "[::1]:4572:31"),
        ]
        clock.now = T0 + 20
        assert store.db_get("IAX/Registry", "md5peer") == "127.0.0.1:4571:40"
        assert store.db_get("IAX/Registry", "gone") is None


def test_registry_view_is_read_only_but_deletable(db_path: Path) -> None:
    with open_clean(db_path) as store:
        store.save_registration("p1", "127.0.0.1", 4571, T0 + 60, 60)
        store.save_registration("p2", "127.0.0.1", 4572, T0 + 60, 60)
        store.save_registration("p3", "127.0.0.1", 4573, T0 + 60, 60)
        store.db_put("IAX", "other", "kept")
        with pytest.raises(ReservedFamilyError):
            store.db_put("IAX/Registry", "p1", "1.2.3.4:4569:60")
        with pytest.raises(ReservedFamilyError):
            store.db_put("IAX", "Registry/p1", "1.2.3.4:4569:60")
        assert store.db_del("IAX/Registry", "p1") is True
        assert [r.peer for r in store.load_registrations(T0)] == ["p2", "p3"]
        assert store.db_deltree("IAX", "Registry") == 2
        assert store.load_registrations(T0) == []
        assert store.db_show("IAX") == [("/IAX/other", "kept")]


def test_database_show_text_uses_asterisk_layout(db_path: Path) -> None:
    with open_clean(db_path) as store:
        store.save_registration("md5peer", "127.0.0.1", 4571, T0 + 60, 60)
        store.db_put("IAX", "Registry2", "x")  # a neighbour family, not in the tree
        assert store.database_show("IAX/Registry") == (
            "/IAX/Registry/md5peer                             : 127.0.0.1:4571:60        \n"
            "1 results found.\n"
        )


def test_format_database_show_with_no_rows() -> None:
    assert format_database_show([]) == "0 results found.\n"


def test_format_database_show_does_not_truncate_long_keys() -> None:
    key = "/f/" + "k" * 60
    assert format_database_show([(key, "v")]).splitlines()[0] == f"{key}: {'v':<25}"


# ---------------------------------------------------------------- damaged files


def test_garbage_file_is_moved_aside_and_replaced(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    garbage = b"this is not sqlite at all\x00\xff" * 200
    db_path.write_bytes(garbage)
    store, problems = Store.open(db_path, clock=FakeClock())
    with store:
        assert store.persistent
        assert len(problems) == 1
        assert str(db_path) in problems[0]
        (aside,) = corrupt_files(db_path)
        assert aside.name == f"{DEFAULT_FILENAME}.corrupt-20270115T080000Z"
        assert aside.name in problems[0]
        assert aside.read_bytes() == garbage
        store.db_put("f", "k", "v")
    with open_clean(db_path) as reopened:
        assert reopened.db_get("f", "k") == "v"


def test_foreign_database_is_moved_aside(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as raw:
        raw.execute("CREATE TABLE astdb (key TEXT, value TEXT)")
        raw.execute("INSERT INTO astdb VALUES ('/a/b', 'c')")
    raw.close()
    store, problems = Store.open(db_path, clock=FakeClock())
    with store:
        assert len(problems) == 1 and "astdb" in problems[0]
        assert store.db_show() == []
        assert len(corrupt_files(db_path)) == 1


def test_wrong_schema_version_is_moved_aside(db_path: Path) -> None:
    open_clean(db_path).close()
    with sqlite3.connect(db_path) as raw:
        raw.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    raw.close()
    store, problems = Store.open(db_path, clock=FakeClock())
    store.close()
    assert len(problems) == 1 and "schema version 99" in problems[0]


def test_altered_table_is_moved_aside(db_path: Path) -> None:
    open_clean(db_path).close()
    with sqlite3.connect(db_path) as raw:
        raw.execute("ALTER TABLE kv ADD COLUMN extra TEXT")
    raw.close()
    store, problems = Store.open(db_path, clock=FakeClock())
    store.close()
    assert len(problems) == 1 and "table kv" in problems[0]


def test_truncated_database_is_moved_aside(db_path: Path) -> None:
    with open_clean(db_path) as store:
        for i in range(500):
            store.db_put("bulk", str(i), "x" * 100)
    whole = db_path.read_bytes()
    for companion in db_path.parent.glob(f"{db_path.name}-*"):
        companion.unlink()
    # Keep the header page, wreck the b-tree pages after it.
    db_path.write_bytes(whole[:4096] + b"\xa5" * (len(whole) - 4096))
    store, problems = Store.open(db_path, clock=FakeClock())
    with store:
        assert len(problems) == 1
        assert store.persistent
        assert store.db_show() == []


def test_repeated_corruption_in_one_second_keeps_every_copy(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    for round_number in range(3):
        db_path.write_bytes(b"garbage %d" % round_number * 100)
        Store.open(db_path, clock=FakeClock())[0].close()
    contents = sorted(p.read_bytes()[:9] for p in corrupt_files(db_path))
    assert contents == [b"garbage 0", b"garbage 1", b"garbage 2"]


def test_live_wal_moves_aside_with_the_foreign_file(db_path: Path) -> None:
    # Another process still has a foreign WAL-mode database open, so its -wal file exists; it
    # must leave with the file, or SQLite would replay it into the fresh database.
    db_path.parent.mkdir(parents=True)
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode = WAL")
        holder.execute("CREATE TABLE foreign_data (x TEXT)")
        holder.execute("INSERT INTO foreign_data VALUES ('in the wal')")
        assert db_path.with_name(db_path.name + "-wal").exists()
        store, problems = Store.open(db_path, clock=FakeClock())
        with store:
            assert len(problems) == 1 and "foreign_data" in problems[0]
            store.db_put("f", "k", "v")
        (aside,) = corrupt_files(db_path)
        assert aside.with_name(aside.name + "-wal").exists()
    finally:
        holder.close()
    with open_clean(db_path) as reopened:
        assert reopened.db_show() == [("/f/k", "v")]


def test_unreachable_path_falls_back_to_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state directory should be")
    store, problems = Store.open(blocker / DEFAULT_FILENAME, clock=FakeClock())
    with store:
        assert not store.persistent
        assert any("in memory" in p for p in problems)
        store.save_registration("p", "127.0.0.1", 4571, T0 + 60, 60)
        assert [r.peer for r in store.load_registrations(T0)] == ["p"]
    assert blocker.read_text().startswith("a file")


# ---------------------------------------------------------------- concurrency


def test_two_stores_on_one_file_see_each_other(db_path: Path) -> None:
    first = open_clean(db_path)
    second = open_clean(db_path)
    try:
        first.db_put("f", "k", "from first")
        assert second.db_get("f", "k") == "from first"
        second.save_registration("p", "127.0.0.1", 4571, T0 + 60, 60)
        assert [r.peer for r in first.load_registrations(T0)] == ["p"]
    finally:
        first.close()
        second.close()
    with open_clean(db_path) as third:
        assert third.db_get("f", "k") == "from first"


def test_simultaneous_first_opens_create_one_schema(db_path: Path) -> None:
    results: list[list[str]] = []
    start = threading.Barrier(8)

    def opener() -> None:
        start.wait()
        store, problems = Store.open(db_path, clock=FakeClock())
        store.db_put("threads", threading.current_thread().name, "1")
        store.close()
        results.append(problems)

    threads = [threading.Thread(target=opener, name=f"t{i}") for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [[]] * 8
    assert corrupt_files(db_path) == []
    with open_clean(db_path) as store:
        assert len(store.db_show("threads")) == 8


def test_a_phone_box_alarm_is_kept_until_it_is_closed(db_path: Path) -> None:
    with open_clean(db_path) as store:
        alarm = store.open_alarm("lift", T0)
        store.update_alarm(alarm.id, 3, 2)
        other = store.open_alarm("hall", T0 + 1)
    with open_clean(db_path) as store:  # a restart
        pending = store.pending_alarm("lift")
        assert pending is not None and (pending.attempts, pending.next_target) == (3, 2)
        store.close_alarm(alarm.id, "acknowledged", T0 + 40, "IAX2/desk/100")
        assert store.pending_alarm("lift") is None
        assert store.pending_alarm("hall") == other
        last = store.last_alarm("lift")
        assert last is not None and (last.state, last.closed_at, last.closed_by) == (
            "acknowledged", T0 + 40, "IAX2/desk/100")
        assert store.last_box_test("lift") is None
        store.save_box_test("lift", T0, False, "tone not heard")
        store.save_box_test("lift", T0 + 60, True, "tone heard")
        test = store.last_box_test("lift")
        assert test is not None and (test.at, test.passed, test.detail) == (
            T0 + 60, True, "tone heard")



# Each earlier form of the file, as the tables it lacks compared with today's: version 3 was
# written in two forms (with the Realtime outbox, or with the phone-box tables).
EARLIER_FORMS = {
    "1": ("cdr", "outbox", "alarms", "box_tests"),
    "2": ("outbox", "alarms", "box_tests"),
    "3 with the outbox": ("alarms", "box_tests"),
    "3 with the phone-box tables": ("outbox",),
}


@pytest.mark.parametrize("form", sorted(EARLIER_FORMS))
def test_every_earlier_state_file_upgrades_and_keeps_its_state(db_path: Path, form: str) -> None:
    with open_clean(db_path) as store:
        store.db_put("fam", "key", "kept")
        store.save_registration("peer", "127.0.0.1", 4569, T0 + 60, 60)
    with sqlite3.connect(db_path) as raw:
        for table in EARLIER_FORMS[form]:
            raw.execute(f"DROP TABLE {table}")
        raw.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (form[0],))
    with open_clean(db_path) as store:
        assert store.db_get("fam", "key") == "kept"
        assert [r.peer for r in store.load_registrations(T0)] == ["peer"]
        store.outbox_add("config", "register", "{}", key="box")
        assert store.outbox_count() == 1
        assert store.open_alarm("lift", T0).state == "pending"
        store.save_box_test("lift", T0, True, "tone heard")
        assert store.cdrs() == []
    assert corrupt_files(db_path) == []
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)


def test_outbox_keeps_the_latest_write_per_key_in_order(db_path: Path) -> None:
    with open_clean(db_path) as store:
        store.outbox_add("config", "register", "1", key="box")
        store.outbox_add("cdr", "cdr", "a")
        store.outbox_add("config", "unregister", "2", key="box")
        store.outbox_add("cdr", "cdr", "b")
        assert [e.payload for e in store.outbox_pending("config", 10)] == ["2"]
        pending = store.outbox_pending("cdr", 10)
        assert [e.payload for e in pending] == ["a", "b"]
        store.outbox_attempted([pending[0].id])
        store.outbox_done([pending[1].id])
        assert [(e.payload, e.attempts) for e in store.outbox_pending("cdr", 10)] == [("a", 1)]
        assert store.outbox_count("cdr") == 1
        assert store.outbox_count() == 2
