"""Realtime registrations per second with ``rtupdate=yes``, against a local PostgreSQL.

A node process reads its peers from ``iaxfriends`` (``rtcachefriends=yes``); this process
registers 500 of them over loopback (call token, REGREQ, REGACK, 64 at a time). The first
round finds every peer in the table (one query each), the second finds them cached; in
both, every REGACK queues an UPDATE of the row, and the figure "rows written" is how long
until PostgreSQL holds the last one. The server is a private cluster in a temp folder
(skipped when Debian's postgresql package is not installed).
"""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path

import trio

from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame, parse_datagram
from pbxedge.iax2.ies import IEList
from tests.integration.conftest import free_udp_port, start_node
from tests.integration.nodes import stop, wait_for_log, write_node
from tests.realtime.pgserver import PgServer, find_pg_bin

PEERS = 500
WINDOW = 64
LIMIT_S = 60.0


async def _register_all(server: tuple[str, int], names: list[str], first_scall: int) -> float:
    """Seconds to get a REGACK for every name."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    window = trio.Semaphore(WINDOW)
    left = len(names)
    done = trio.Event()
    by_scall = {first_scall + i: name for i, name in enumerate(names)}

    def regreq(scall: int, token: bytes) -> bytes:
        ies = IEList().add_str(IE.USERNAME, by_scall[scall]).add_u16(IE.REFRESH, 60)
        ies = ies.add(IE.CALLTOKEN, token) if token else ies.add_empty(IE.CALLTOKEN)
        return FullFrame(scall, 0, 3, 0, 0, FrameType.IAX, IaxSubclass.REGREQ,
                         ies.encode()).encode()

    async def send_all() -> None:
        for scall in by_scall:
            await window.acquire()
            await sock.sendto(regreq(scall, b""), server)

    async def receive_all() -> None:
        nonlocal left
        while left:
            frame = parse_datagram((await sock.recvfrom(4096))[0])
            if not isinstance(frame, FullFrame) or frame.frametype != FrameType.IAX:
                continue
            sub = frame.iax_subclass
            if sub is IaxSubclass.CALLTOKEN:
                token = frame.ies().get(IE.CALLTOKEN) or b""
                await sock.sendto(regreq(frame.dest_call, token), server)
            elif sub in (IaxSubclass.REGACK, IaxSubclass.REGREJ):
                assert sub is IaxSubclass.REGACK, f"refused: {frame.ies()}"
                ack = FullFrame(frame.dest_call, frame.source_call, frame.timestamp, 1,
                                (frame.oseqno + 1) & 0xFF, FrameType.IAX, IaxSubclass.ACK)
                await sock.sendto(ack.encode(), server)
                left -= 1
                window.release()
        done.set()

    started = time.perf_counter()
    with sock, trio.fail_after(LIMIT_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_all)
            nursery.start_soon(receive_all)
    return time.perf_counter() - started


def _rows_registered(pg: PgServer, db: str, since: int) -> int:
    with pg.connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM iaxfriends WHERE regseconds >= %s",
                           (since,)).fetchone()
    return int(row[0]) if row else 0


def _wait_rows(pg: PgServer, db: str, since: int, started: float) -> float:
    deadline = time.monotonic() + LIMIT_S
    while _rows_registered(pg, db, since) < PEERS and time.monotonic() < deadline:
        time.sleep(0.01)
    return time.perf_counter() - started


def run() -> list[str]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        return ["skipped: PostgreSQL is not installed (Debian package postgresql)"]
    pg = PgServer(bin_dir)
    folder = Path(tempfile.mkdtemp(prefix="pbx-rt-"))
    try:
        pg.init()
        pg.start()
        pg.prepare_template()
        db = pg.create_database()
        with pg.connect(db) as conn, conn.cursor() as cursor:
            cursor.executemany("INSERT INTO iaxfriends (name, type, host, context) "
                               "VALUES (%s, 'friend', 'dynamic', 'default')",
                               [(f"rt{i}",) for i in range(PEERS)])
        port = free_udp_port()
        config = write_node(folder, f"[general]\nbindport = {port}\nbindaddr = 127.0.0.1\n"
                            "systemname = bench\nrtcachefriends = yes\nrtsavesysname = yes\n"
                            "rtupdate = yes\n", "")
        (folder / "extconfig.conf").write_text("[settings]\niaxpeers => pgsql,general,iaxfriends\n")
        (folder / "res_pgsql.conf").write_text(pg.res_pgsql_conf(db))
        node = start_node(folder, config, port)
        try:
            wait_for_log(node, "pbxedge Ready.")
            names = [f"rt{i}" for i in range(PEERS)]
            lines = []
            for label, scall in (("rows looked up", 1), ("cached", 1 + PEERS)):
                since = int(time.time())
                started = time.perf_counter()
                seconds = trio.run(_register_all, ("127.0.0.1", port), names, scall)
                written = _wait_rows(pg, db, since, started)
                lines.append(f"{PEERS} realtime registrations, {label}: {PEERS / seconds:,.0f}/s; "
                             f"rows written in PostgreSQL after {written:.2f} s")
            return lines
        finally:
            stop(node)
    finally:
        pg.remove()
