"""Nodes sharing accounts, registrations, dialplan and CDRs in one real PostgreSQL database.

Each test starts real ``pbxedge`` processes against a fresh database of the session's
private server; callers are the load tool's agent, boxes are pbxedge processes that
register with a ``register =>`` line.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from pbxedge.iax2.enums import Cause
from pbxedge.load.agent import Account, AgentCall, CallAgent
from tests.integration.conftest import RunningNode, free_udp_port
from tests.integration.nodes import stop, wait_for_log
from tests.realtime.pgserver import PgServer
from tests.realtime.rtnodes import (
    LIMIT,
    NodeSpec,
    add_friend,
    echo_round_trip,
    master_csv,
    query,
    start_box,
    start_rt_node,
)


@pytest.fixture
async def agent() -> AsyncIterator[CallAgent]:
    async with trio.open_nursery() as nursery:
        caller = CallAgent()
        await nursery.start(caller.run)
        yield caller
        nursery.cancel_scope.cancel()


async def _answered(agent: CallAgent, node: RunningNode, exten: str,
                    account: Account) -> AgentCall:
    call = agent.call(("127.0.0.1", node.port), exten, account)
    with trio.fail_after(LIMIT):
        while not call.answered.is_set():
            assert not call.ended.is_set(), f"call refused: cause {call.cause} {call.cause_text}"
            await trio.sleep(0.02)
    return call


async def _refused(agent: CallAgent, node: RunningNode, exten: str, account: Account) -> int:
    call = agent.call(("127.0.0.1", node.port), exten, account)
    with trio.fail_after(LIMIT):
        await call.ended.wait()
    assert not call.answered.is_set()
    return call.cause or 0


async def _hang_up(agent: CallAgent, call: AgentCall) -> None:
    agent.hangup(call)
    agent.flush()
    with trio.fail_after(LIMIT):
        await call.ended.wait()


def _keygen(folder: Path, name: str) -> None:
    subprocess.run([sys.executable, "-m", "pbxedge", "keygen", "--dir", str(folder), name],
                   check=True, capture_output=True, timeout=60)


def _wait_db(check: object, what: str) -> None:
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    pytest.fail(f"the database never showed {what}")


async def test_rows_added_by_sql_register_and_call_without_reload(
        pg_server: PgServer, pg_db: str, tmp_path: Path, agent: CallAgent) -> None:
    me = NodeSpec("edge1", free_udp_port())
    keys = tmp_path / "edge1" / "keys"
    _keygen(keys, "rtkey")  # key files are read at start, as Asterisk reads them
    node = start_rt_node(tmp_path / "edge1", pg_server, pg_db, me, [])
    box: RunningNode | None = None
    try:
        # Rows written by other software after the node started: no reload anywhere.
        add_friend(pg_server, pg_db, name="7001", type="friend", host="dynamic",
                   secret="boxpw", context="calls")
        add_friend(pg_server, pg_db, name="rtmd5", type="user", host="dynamic",
                   secret="md5pw", auth="md5", context="calls")
        add_friend(pg_server, pg_db, name="rtplain", type="user", host="dynamic",
                   secret="plainpw", auth="plaintext", context="calls")
        add_friend(pg_server, pg_db, name="rtrsa", type="user", host="dynamic",
                   auth="rsa", inkeys="rtkey", context="calls")
        box = start_box(tmp_path / "box", "7001", "boxpw", me.port)
        wait_for_log(node, "Registered IAX2 '7001'")
        _wait_db(lambda: query(pg_server, pg_db, "SELECT regserver, port FROM iaxfriends "
                               "WHERE name = '7001'")[0] == ("edge1", box.port),
                 "the registration of 7001 at edge1")

        # MD5: the box registered here answers, audio end to end.
        call = await _answered(agent, node, "7001", Account("rtmd5", "md5pw"))
        await echo_round_trip(agent, call)
        await _hang_up(agent, call)
        for account in (Account("rtplain", "plainpw"),
                        Account("rtrsa", key_file=keys / "rtkey.key")):
            call = await _answered(agent, node, "600", account)
            await _hang_up(agent, call)
        assert await _refused(agent, node, "600", Account("rtmd5", "wrong")) \
            == Cause.FACILITY_NOT_SUBSCRIBED

        # Deleted: the cached account works until it is pruned.
        query(pg_server, pg_db, "DELETE FROM iaxfriends WHERE name = 'rtmd5' RETURNING id")
        call = await _answered(agent, node, "600", Account("rtmd5", "md5pw"))
        await _hang_up(agent, call)
        pruned = node.pbxedge("-rx", "iax2 prune realtime rtmd5")
        assert "rtmd5 was removed from the cache" in pruned.stdout
        assert await _refused(agent, node, "600", Account("rtmd5", "md5pw")) \
            == Cause.FACILITY_NOT_SUBSCRIBED

        peers = node.pbxedge("-rx", "iax2 show peers").stdout
        assert "(R) registered at edge1" in peers

        # Unregistration clears the row with NULLs (Asterisk's '' fails on INTEGER port).
        node.pbxedge("-rx", "iax2 unregister 7001")
        _wait_db(lambda: query(pg_server, pg_db, "SELECT ipaddr, port, regseconds, regserver "
                               "FROM iaxfriends WHERE name = '7001'")[0]
                 == (None, None, None, None), "the cleared registration")
    finally:
        if box is not None:
            stop(box)
        stop(node)


async def test_realtime_extensions_route_calls_and_cdrs_match_master_csv(
        pg_server: PgServer, pg_db: str, tmp_path: Path, agent: CallAgent) -> None:
    me = NodeSpec("edge1", free_udp_port())
    node = start_rt_node(tmp_path / "edge1", pg_server, pg_db, me, [])
    try:
        # [calls] holds switch => Realtime/rtctx@extensions.
        add_friend(pg_server, pg_db, name="caller", type="user", host="dynamic",
                   secret="callerpw", context="calls")
        with pg_server.connect(pg_db) as conn:
            conn.execute(
                "INSERT INTO extensions (context, exten, priority, app, appdata) VALUES "
                "('rtctx', '100', 1, 'Answer', ''), ('rtctx', '100', 2, 'Echo', ''),"
                "('rtctx', '_2XX', 1, 'Answer', ''), ('rtctx', '_2XX', 2, 'Verbose', '1,short ${EXTEN}'),"
                "('rtctx', '_2XX', 3, 'Hangup', ''),"
                "('rtctx', '_20X', 1, 'Answer', ''), ('rtctx', '_20X', 2, 'Verbose', '1,long ${EXTEN}'),"
                "('rtctx', '_20X', 3, 'Hangup', ''),"
                "('rtctx', '300', 1, 'Verbose', '1,a^3Bb;c'), ('rtctx', '300', 2, 'Hangup', '')")
        account = Account("caller", "callerpw")
        call = await _answered(agent, node, "100", account)
        await echo_round_trip(agent, call)
        await _hang_up(agent, call)
        for exten in ("201", "250", "300"):
            call = agent.call(("127.0.0.1", node.port), exten, account)
            with trio.fail_after(LIMIT):
                await call.ended.wait()
        wait_for_log(node, "long 201")  # the longer pattern wins, as in pbx_realtime
        wait_for_log(node, "short 250")
        wait_for_log(node, "a;b;c")  # ';' stays data here; ^3B is decoded
        assert await _refused(agent, node, "999", account) == Cause.NO_ROUTE_DESTINATION

        def same_rows() -> bool:
            csv_rows = {(r[1], r[2], r[3], r[14], r[16]) for r in master_csv(node)}
            db_rows = set(query(pg_server, pg_db,
                                "SELECT src, dst, dcontext, disposition, uniqueid FROM cdr"))
            return len(csv_rows) == 4 and csv_rows == db_rows
        _wait_db(same_rows, "the Master.csv rows in the cdr table")
        assert all(u.startswith("edge1-") for (u,) in query(pg_server, pg_db,
                                                            "SELECT uniqueid FROM cdr"))
    finally:
        stop(node)


async def test_a_box_registered_to_one_node_is_called_from_the_other(
        pg_server: PgServer, pg_db: str, tmp_path: Path, agent: CallAgent) -> None:
    a_spec, b_spec = NodeSpec("edgeA", free_udp_port()), NodeSpec("edgeB", free_udp_port())
    # edgeA goes through edgeB whatever the box's NAT would allow: the relay is what is tested.
    a = start_rt_node(tmp_path / "a", pg_server, pg_db, a_spec, [b_spec], "rtreach = regserver")
    b = start_rt_node(tmp_path / "b", pg_server, pg_db, b_spec, [a_spec])
    box: RunningNode | None = None
    try:
        add_friend(pg_server, pg_db, name="7002", type="friend", host="dynamic",
                   secret="boxpw", context="calls")
        add_friend(pg_server, pg_db, name="caller", type="user", host="dynamic",
                   secret="callerpw", context="calls")
        box = start_box(tmp_path / "box", "7002", "boxpw", b_spec.port)
        wait_for_log(b, "Registered IAX2 '7002'")
        _wait_db(lambda: query(pg_server, pg_db, "SELECT regserver FROM iaxfriends "
                               "WHERE name = '7002'")[0] == ("edgeB",), "regserver edgeB")
        call = await _answered(agent, a, "7002", Account("caller", "callerpw"))
        await echo_round_trip(agent, call)
        await _hang_up(agent, call)
        wait_for_log(a, "'7002' is registered at node 'edgeB'; calling through it")
        assert "(R) registered at edgeB" in a.pbxedge("-rx", "iax2 show peers").stdout

        b.process.send_signal(signal.SIGKILL)
        b.process.wait()
        stop(box)
        box = None
        (regseconds,) = query(pg_server, pg_db,
                              "SELECT regseconds FROM iaxfriends WHERE name = '7002'")[0]
        # The row outlives its node until regseconds + the registration period + grace.
        await trio.sleep(max(0.0, regseconds + 5 + 10 + 1 - time.time()))
        await _refused(agent, a, "7002", Account("caller", "callerpw"))
        wait_for_log(a, "DIALSTATUS CHANUNAVAIL (cause 20)")
    finally:
        for node in (box, a, b):
            if node is not None:
                stop(node)
        shutil.rmtree(tmp_path, ignore_errors=True)


OUTAGE_S = 30.0


async def test_a_database_outage_loses_and_doubles_nothing(
        pg_server: PgServer, pg_db: str, tmp_path: Path, agent: CallAgent) -> None:
    me = NodeSpec("edge1", free_udp_port())
    node = start_rt_node(tmp_path / "edge1", pg_server, pg_db, me, [])
    box: RunningNode | None = None
    account = Account("caller", "callerpw")
    try:
        add_friend(pg_server, pg_db, name="7003", type="friend", host="dynamic",
                   secret="boxpw", context="calls")
        add_friend(pg_server, pg_db, name="caller", type="user", host="dynamic",
                   secret="callerpw", context="calls")
        box = start_box(tmp_path / "box", "7003", "boxpw", me.port)
        wait_for_log(node, "Registered IAX2 '7003'")
        call = await _answered(agent, node, "600", account)  # caches the caller
        await _hang_up(agent, call)

        pg_server.stop()
        stopped = time.monotonic()
        calls = 1
        while time.monotonic() - stopped < OUTAGE_S:
            # Cached accounts keep working: a call through the box registered here, and the
            # box keeps refreshing its registration every few seconds.
            call = await _answered(agent, node, "7003", account)
            await echo_round_trip(agent, call)
            await _hang_up(agent, call)
            calls += 1
            await trio.sleep(4)
        status = node.pbxedge("-rx", "realtime show status").stdout
        assert "DOWN" in status and "0 CDRs" not in status
        pg_server.start()
        back = time.time()

        def all_written() -> bool:
            rows = query(pg_server, pg_db, "SELECT uniqueid FROM cdr")
            return len(rows) >= calls and "Pending writes: 0 registration updates, 0 CDRs" \
                in node.pbxedge("-rx", "realtime show status").stdout
        _wait_db(all_written, "every queued write")
        assert time.time() - back < 10
        uniqueids = [u for (u,) in query(pg_server, pg_db, "SELECT uniqueid FROM cdr")]
        assert len(uniqueids) == len(set(uniqueids)) == len(master_csv(node)) == calls
        assert {r[16] for r in master_csv(node)} == set(uniqueids)
        ((port, regseconds, regserver),) = query(
            pg_server, pg_db, "SELECT port, regseconds, regserver FROM iaxfriends "
            "WHERE name = '7003'")
        assert (port, regserver) == (box.port, "edge1")
        assert regseconds >= back - OUTAGE_S / 3  # a refresh made during the outage, or later
        outage_lines = [line for line in node.stderr().splitlines() if "is unreachable" in line]
        assert len(outage_lines) == 1
        wait_for_log(node, "is back after")
    finally:
        if box is not None:
            stop(box)
        stop(node)
