"""CDRs: cdr_csv's line layout, cdr.conf, the recorder's choices and the SQLite copy."""

from __future__ import annotations

import calendar
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dialplan.call import Step
from dialplan.engine import CallOutcome
from pbxedge.cdr.config import CdrConfig, load_cdr_config
from pbxedge.cdr.csvlog import CsvCdrLog, csv_line
from pbxedge.cdr.record import AmaFlags, CdrRecord, Disposition, disposition_for
from pbxedge.cdr.recorder import CdrRecorder
from pbxedge.store import Store

GMT = CdrConfig(usegmtime=True)


def _utc(text: str) -> float:
    return float(calendar.timegm((*tuple(int(x) for x in text.replace("-", " ").replace(":", " ").split()), 0, 0, 0)))  # type: ignore[arg-type]


def _echo_record(**changes: object) -> CdrRecord:
    values: dict[str, object] = dict(
        accountcode="", src="5550100", dst="echo", dcontext="media",
        clid='"mclient" <5550100>', channel="IAX2/127.0.0.1:49243-6381", dstchannel="",
        lastapp="Echo", lastdata="", start=_utc("2026-12-02 15:36:56") + 0.6,
        answer=_utc("2026-12-02 15:36:56") + 0.9, end=_utc("2026-12-02 15:36:58") + 0.1,
        disposition=Disposition.ANSWERED, amaflags=AmaFlags.DOCUMENTATION,
        uniqueid="1764689816.1")
    values.update(changes)
    return CdrRecord(**values)  # type: ignore[arg-type]


def test_line_is_byte_for_byte_cdr_csv() -> None:
    # The Echo row of media.md §7.1, measured on Asterisk 22.
    assert csv_line(_echo_record(), GMT) == (
        '"","5550100","echo","media","""mclient"" <5550100>","IAX2/127.0.0.1:49243-6381","",'
        '"Echo","","2026-12-02 15:36:56","2026-12-02 15:36:56","2026-12-02 15:36:58",1,1,'
        '"ANSWERED","DOCUMENTATION"\n')


def test_unanswered_time_is_an_empty_unquoted_field() -> None:
    record = _echo_record(answer=None, disposition=Disposition.BUSY, lastapp="Dial",
                          lastdata="Local/busy@media,10", dstchannel="Local/busy@media-00000001;1")
    line = csv_line(record, GMT)
    assert ',"2026-12-02 15:36:56",,"2026-12-02 15:36:58",1,0,"BUSY",' in line


def test_optional_columns_follow_the_csv_options() -> None:
    config = CdrConfig(usegmtime=True, loguniqueid=True, loguserfield=True, newcdrcolumns=True)
    line = csv_line(_echo_record(userfield="x", linkedid="L", sequence=3), config)
    assert line.endswith('"DOCUMENTATION","1764689816.1","x","","L",3\n')


def test_billsec_rounds_with_initiatedseconds() -> None:
    record = _echo_record(answer=0.0, end=1.6, start=0.0)
    assert record.billsec() == 1 and record.billsec(initiated_seconds=True) == 2


@pytest.mark.parametrize(("answered", "dialstatus", "congestion", "expected"), [
    (True, "BUSY", False, Disposition.ANSWERED),
    (False, "BUSY", False, Disposition.BUSY),
    (False, "NOANSWER", False, Disposition.NO_ANSWER),
    (False, "CHANUNAVAIL", False, Disposition.FAILED),
    (False, "CONGESTION", False, Disposition.FAILED),
    (False, "CONGESTION", True, Disposition.CONGESTION),
    (False, None, False, Disposition.NO_ANSWER),
])
def test_disposition(answered: bool, dialstatus: str | None, congestion: bool,
                     expected: Disposition) -> None:
    assert disposition_for(answered, dialstatus, congestion=congestion) is expected


def test_cdr_conf_without_csv_section_writes_no_csv(tmp_path: Path) -> None:
    conf = tmp_path / "cdr.conf"
    conf.write_text("[general]\nunanswered = yes\ncongestion=yes\nbatch=no\nbogus=1\n")
    config, problems = load_cdr_config(conf)
    assert config.unanswered and config.congestion and not config.csv
    assert [str(p) for p in problems] == [f"{conf}:5: warning: unknown option 'bogus'"]
    conf.write_text("[csv]\nusegmtime=yes\nloguniqueid = maybe\n")
    config, problems = load_cdr_config(conf)
    assert config.csv and config.usegmtime and not config.loguniqueid
    assert "loguniqueid" in str(problems[0]) and ":3:" in str(problems[0])
    assert load_cdr_config(tmp_path / "absent.conf") == (CdrConfig(), [])


@dataclass
class _Channel:
    name: str = "IAX2/guest-7"
    uniqueid: str = "1.7"
    caller_num: str | None = "2001"
    caller_name: str | None = "Desk"
    accountcode: str = "sales"
    amaflags: str = "billing"
    variables: dict[str, str] = field(default_factory=dict)
    created_at: float = 1000.0
    answered_at: float | None = 1001.0
    dial_peer: str = ""


def _outcome(*steps: Step, ended_at: float = 1010.5) -> CallOutcome:
    return CallOutcome("hangup", 16, list(steps), ended_at=ended_at)


def test_recorder_uses_the_last_step_before_h(tmp_path: Path) -> None:
    log = CsvCdrLog(tmp_path / "cdr-csv", GMT)
    store, _ = Store.open(tmp_path / "state.db")
    recorder = CdrRecorder(GMT, log, (store,))
    outcome = _outcome(Step("office", "600", 1, "Answer", ""), Step("office", "600", 2, "Echo", ""),
                       Step("office", "h", 1, "NoOp", "bye"))
    recorder.call_ended(_Channel(), outcome)
    [line] = (tmp_path / "cdr-csv" / "Master.csv").read_text().splitlines()
    assert line.startswith('"sales","2001","600","office","""Desk"" <2001>","IAX2/guest-7","",'
                           '"Echo",""')
    assert line.endswith(',10,9,"ANSWERED","BILLING"')
    assert (tmp_path / "cdr-csv" / "sales.csv").read_text() == line + "\n"
    [row] = store.cdrs()
    assert (row["dst"], row["lastapp"], row["billsec"], row["disposition"]) == (
        "600", "Echo", 9, "ANSWERED")


def test_unanswered_call_without_dial_has_no_record_unless_asked(tmp_path: Path) -> None:
    channel = _Channel(answered_at=None)
    outcome = _outcome(Step("office", "s", 1, "Hangup", ""))
    assert CdrRecorder(GMT, None).build(channel, outcome) is None
    record = CdrRecorder(CdrConfig(unanswered=True), None).build(channel, outcome)
    assert record is not None and record.disposition is Disposition.NO_ANSWER
    dialled = _Channel(answered_at=None, dial_peer="IAX2/busy-3",
                       variables={"DIALSTATUS": "BUSY"})
    record = CdrRecorder(GMT, None).build(dialled, _outcome(Step("o", "s", 1, "Dial", "IAX2/b")))
    assert record is not None and record.disposition is Disposition.BUSY
    assert record.dstchannel == "IAX2/busy-3" and record.lastdata == "IAX2/b"


def test_old_state_file_gains_the_cdr_table_and_keeps_registrations(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        raw.execute("CREATE TABLE registrations (peer TEXT PRIMARY KEY, host TEXT NOT NULL,"
                    " port INTEGER NOT NULL, expires_at REAL NOT NULL, refresh INTEGER NOT NULL,"
                    " username TEXT)")
        raw.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        raw.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        raw.execute("INSERT INTO registrations VALUES ('p1', '127.0.0.1', 4569, 9e9, 60, NULL)")
    store, problems = Store.open(path)
    assert problems == []
    assert [r.peer for r in store.load_registrations(0)] == ["p1"]
    store.save_cdr(_echo_record())
    assert [row["lastapp"] for row in store.cdrs()] == ["Echo"]
