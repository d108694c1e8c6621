"""cdr.conf batch mode: Master.csv at the hangup, the other backends a batch at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from dialplan.call import Step
from dialplan.engine import CallOutcome
from pbxedge.cdr.config import CdrConfig, load_cdr_config
from pbxedge.cdr.csvlog import CsvCdrLog
from pbxedge.cdr.record import CdrRecord
from pbxedge.cdr.recorder import CdrBatches, CdrRecorder
from pbxedge.store import Store, StoreError
from tests.cdr.test_cdr import _Channel

BATCH = CdrConfig(batch=True, size=3, time=60)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Events:
    def __init__(self) -> None:
        self.records: list[CdrRecord] = []

    def save_cdr(self, record: CdrRecord) -> None:
        self.records.append(record)


def _end(recorder: CdrRecorder, n: int) -> None:
    recorder.call_ended(_Channel(name=f"IAX2/guest-{n}", uniqueid=f"1.{n}"),
                        CallOutcome("hangup", 16, [Step("office", "600", 1, "Echo", "")],
                                    ended_at=1010.5))


def _lines(folder: Path) -> list[str]:
    return (folder / "cdr-csv" / "Master.csv").read_text().splitlines()


def _recorder(tmp_path: Path, config: CdrConfig = BATCH) -> tuple[CdrRecorder, Store, _Events,
                                                                   _Clock]:
    store, _ = Store.open(tmp_path / "state.db")
    events, clock = _Events(), _Clock()
    recorder = CdrRecorder(config, CsvCdrLog(tmp_path / "cdr-csv", config), (store, events),
                           store.transaction, clock)
    return recorder, store, events, clock


def test_batch_options_are_read_and_bounded_like_asterisk(tmp_path: Path) -> None:
    conf = tmp_path / "cdr.conf"
    conf.write_text("[general]\nbatch = yes\nsize = 10\ntime = 5\nsafeshutdown = no\n")
    config, problems = load_cdr_config(conf)
    assert (config.batch, config.size, config.time, problems) == (True, 10, 5, [])
    conf.write_text("[general]\nbatch = yes\nsize = 1001\ntime = soon\n")
    config, problems = load_cdr_config(conf)
    assert (config.size, config.time) == (100, 300)  # the defaults stand
    assert [f"{conf}:3:" in str(problems[0]), f"{conf}:4:" in str(problems[1])] == [True, True]
    assert CdrConfig().batch is False


def test_without_batch_mode_every_backend_gets_the_record_at_the_hangup(tmp_path: Path) -> None:
    recorder, store, events, _ = _recorder(tmp_path, CdrConfig())
    _end(recorder, 1)
    assert len(_lines(tmp_path)) == len(store.cdrs()) == len(events.records) == 1
    assert recorder.due is None


def test_a_batch_is_posted_when_size_records_wait_and_the_csv_never_waits(
        tmp_path: Path) -> None:
    recorder, store, events, _ = _recorder(tmp_path)
    _end(recorder, 1)
    _end(recorder, 2)
    assert len(_lines(tmp_path)) == 2
    assert (store.cdrs(), events.records, recorder.waiting) == ([], [], 2)
    _end(recorder, 3)
    assert [row["channel"] for row in store.cdrs()] == [f"IAX2/guest-{n}" for n in (1, 2, 3)]
    assert [r.channel for r in events.records] == [f"IAX2/guest-{n}" for n in (1, 2, 3)]
    assert (recorder.waiting, recorder.due) == (0, None)


def test_a_batch_is_posted_time_seconds_after_its_first_record(tmp_path: Path) -> None:
    recorder, store, _, clock = _recorder(tmp_path)
    _end(recorder, 1)
    assert recorder.due == 160.0
    clock.now = 130.0
    _end(recorder, 2)
    assert recorder.due == 160.0  # counted from the first record
    recorder.post_due(159.9)
    assert store.cdrs() == []
    recorder.post_due(160.0)
    assert len(store.cdrs()) == 2 and recorder.due is None


def test_a_batch_is_one_transaction_and_a_failing_backend_loses_nothing_else(
        tmp_path: Path) -> None:
    recorder, store, events, _ = _recorder(tmp_path)

    class _Broken:
        def save_cdr(self, record: CdrRecord) -> None:
            raise StoreError("disk full")

    recorder.sinks = (_Broken(), *recorder.sinks)
    commits: list[str] = []
    store._connection.set_trace_callback(  # counting the commits
        lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    for n in (1, 2, 3):
        _end(recorder, n)
    assert commits == ["COMMIT"]
    assert len(store.cdrs()) == len(events.records) == 3


def test_a_failed_commit_is_logged_not_raised(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    recorder, store, _, _ = _recorder(tmp_path)
    for n in (1, 2):
        _end(recorder, n)
    store.close()
    recorder.post_waiting()
    assert "2 CDRs not stored" in caplog.text
    assert len(_lines(tmp_path)) == 2  # Master.csv has them


def test_after_the_final_post_records_go_straight_to_the_backends(tmp_path: Path) -> None:
    recorder, store, _, _ = _recorder(tmp_path)
    _end(recorder, 1)
    recorder.post_waiting(final=True)
    assert len(store.cdrs()) == 1
    _end(recorder, 2)  # a call that ended while the node stopped
    assert len(store.cdrs()) == 2 and recorder.due is None


def test_a_write_inside_a_transaction_is_still_all_or_nothing(tmp_path: Path) -> None:
    store, _ = Store.open(tmp_path / "state.db")
    with store.transaction():
        store.db_put("fam", "a", "1")
        with pytest.raises(StoreError), store._write() as db:  # one write failing halfway
            db.execute("INSERT INTO kv VALUES ('/fam/b', '2')")
            db.execute("INSERT INTO kv VALUES ('/fam/a', 'again')")  # the key exists
        store.db_put("fam", "c", "3")
    assert store.db_show("/fam") == [("/fam/a", "1"), ("/fam/c", "3")]


async def test_the_service_posts_a_batch_when_its_time_is_up_and_what_waits_at_stop(
        tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    store, _ = Store.open(tmp_path / "state.db")
    recorder = CdrRecorder(BATCH, None, (store,), store.transaction)
    batches = CdrBatches(recorder)
    async with trio.open_nursery() as nursery:
        await nursery.start(batches.run)
        await trio.sleep(5)
        _end(recorder, 1)
        await trio.sleep(59.9)
        assert store.cdrs() == []
        await trio.sleep(0.2)
        assert len(store.cdrs()) == 1
        _end(recorder, 2)
        await trio.sleep(30)
        await batches.stop()
        assert len(store.cdrs()) == 2
        nursery.cancel_scope.cancel()


async def test_outside_batch_mode_the_calls_of_one_scheduler_pass_share_a_commit(
        tmp_path: Path) -> None:
    store, _ = Store.open(tmp_path / "state.db")
    events = _Events()
    recorder = CdrRecorder(CdrConfig(), CsvCdrLog(tmp_path / "cdr-csv", CdrConfig()), (store,),
                           store.transaction, notify=(events,))
    batches = CdrBatches(recorder)
    commits: list[str] = []
    store._connection.set_trace_callback(
        lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    async with trio.open_nursery() as nursery:
        await nursery.start(batches.run)
        for n in (1, 2, 3):  # three hangups in one pass
            _end(recorder, n)
        # Master.csv and the manager's event at each hangup, the database a pass later.
        assert len(_lines(tmp_path)) == len(events.records) == 3
        assert (store.cdrs(), recorder.waiting) == ([], 3)
        await trio.testing.wait_all_tasks_blocked()
        assert (len(store.cdrs()), commits) == (3, ["COMMIT"])
        _end(recorder, 4)
        await trio.testing.wait_all_tasks_blocked()
        assert (len(store.cdrs()), len(commits), recorder.due) == (4, 2, None)
        assert len(events.records) == 4
        await batches.stop()
        nursery.cancel_scope.cancel()
