"""cdr.conf batch mode on a running node: Master.csv at each hangup, the state database's
rows a batch at a time, and what waits when the node stops cleanly."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import trio

from pbxedge.load.agent import CallAgent
from tests.integration.conftest import free_udp_port, start_node
from tests.integration.nodes import stop, wait_for_log, write_node

LIMIT = 10.0
BATCH_SECONDS = 2


def _rows(state: Path) -> list[str]:
    with sqlite3.connect(f"file:{state / 'pbxedge.sqlite3'}?mode=ro", uri=True) as db:
        return [str(row[0]) for row in db.execute("SELECT channel FROM cdr ORDER BY id")]


def _csv(state: Path) -> list[str]:
    return (state / "cdr-csv" / "Master.csv").read_text().splitlines()


async def test_rows_wait_for_their_batch_while_master_csv_has_each_call_at_once(
        node_dir: Path, agent: CallAgent) -> None:
    port = free_udp_port()
    config = write_node(node_dir, f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
[guest]
type = user
context = quick
requirecalltoken = no
""", "[quick]\nexten => 601,1,Answer()\n same => n,Hangup()\n")
    (node_dir / "cdr.conf").write_text(
        f"[general]\nbatch = yes\nsize = 100\ntime = {BATCH_SECONDS}\n[csv]\n")
    node = start_node(node_dir, config, port, "-vvv")
    try:
        wait_for_log(node, "pbxedge Ready.")

        async def one_call() -> str:
            call = agent.call(("127.0.0.1", port), "601")
            with trio.fail_after(LIMIT):
                await call.answered.wait()
                agent.send_voice(call, b"\xff" * 160, 160)  # ends Answer()'s wait
                agent.flush()
                await call.ended.wait()
            return wait_for_log(node, f"-{call.peer_callno}' (cause")

        await one_call()
        first_batch_at = time.monotonic()
        await one_call()
        assert len(_csv(node.state)) == 2
        assert _rows(node.state) == []  # the batch waits
        with trio.fail_after(LIMIT):
            while len(_rows(node.state)) < 2:
                await trio.sleep(0.05)
        assert time.monotonic() - first_batch_at >= BATCH_SECONDS - 0.5
        await one_call()
        assert len(_csv(node.state)) == 3 and len(_rows(node.state)) == 2
    finally:
        stop(node)
    assert node.process.returncode == 0
    assert len(_rows(node.state)) == 3  # written at the clean stop
