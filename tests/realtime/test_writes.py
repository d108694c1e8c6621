"""The outbox writer against a real PostgreSQL: guards that keep every write exactly once."""

from __future__ import annotations

from pathlib import Path

import trio

from pbxedge.cdr.record import AmaFlags, CdrRecord, Disposition
from pbxedge.realtime.database import Database
from pbxedge.realtime.writes import CDR, CONFIG, RealtimeWriter
from pbxedge.store import Store
from tests.realtime.pgserver import PgServer
from tests.realtime.rtnodes import add_friend, query

RECORD = CdrRecord(accountcode="", src="2001", dst="600", dcontext="calls", clid='"a" <2001>',
                   channel="IAX2/a-1", dstchannel="", lastapp="Echo", lastdata="",
                   start=1_800_000_000.0, answer=1_800_000_001.0, end=1_800_000_011.5,
                   disposition=Disposition.ANSWERED, amaflags=AmaFlags.DOCUMENTATION,
                   uniqueid="edge1-1800000000.1", linkedid="edge1-1800000000.1")


async def test_writes_are_guarded(pg_server: PgServer, pg_db: str, tmp_path: Path) -> None:
    store, problems = Store.open(tmp_path / "state.sqlite3")
    assert problems == []
    db = Database(pg_server.settings(pg_db))
    db.open()
    writer = RealtimeWriter(store, {CONFIG: db, CDR: db}, peers_table="iaxfriends",
                            cdr_table="cdr", regserver="edge1")
    add_friend(pg_server, pg_db, name="box", type="friend", host="dynamic")
    try:
        writer.save_cdr(RECORD)
        assert await writer.flush_now()
        # The same record again, as after a commit whose answer was lost: not doubled.
        store.outbox_add(CDR, "cdr", store_payload(writer, store))
        store.outbox_attempted([e.id for e in store.outbox_pending(CDR, 10)])
        assert await writer.flush_now()
        rows = query(pg_server, pg_db, 'SELECT dst, duration, billsec, disposition, '
                     'to_char("end", \'YYYY-MM-DD\'), uniqueid FROM cdr')
        assert len(rows) == 1 and rows[0][:4] == ("600", 11, 10, "ANSWERED")

        writer.registered("box", ("127.0.0.1", 40001), 1000)
        writer.registered("box", ("127.0.0.1", 40002), 1005)  # replaces the pending one
        assert await writer.flush_now()
        row = "SELECT ipaddr, port, regseconds, regserver FROM iaxfriends WHERE name = 'box'"
        assert query(pg_server, pg_db, row) == [("127.0.0.1", 40002, 1005, "edge1")]
        writer.registered("box", ("127.0.0.1", 40003), 990)  # late, older: ignored
        writer.unregistered("box", 990)  # an older registration of ours: ignored too
        assert await writer.flush_now()
        assert query(pg_server, pg_db, row) == [("127.0.0.1", 40002, 1005, "edge1")]
        writer.unregistered("box", 1005)
        assert await writer.flush_now()
        assert query(pg_server, pg_db, row) == [(None, None, None, None)]
    finally:
        with trio.CancelScope(shield=True):
            await db.close()
        store.close()


def store_payload(writer: RealtimeWriter, store: Store) -> str:
    """The JSON the writer queues for RECORD (queued once more, then read back)."""
    writer.save_cdr(RECORD)
    [entry] = store.outbox_pending(CDR, 10)
    store.outbox_done([entry.id])
    return entry.payload
