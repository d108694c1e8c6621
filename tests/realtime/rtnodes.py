"""Real pbxedge processes sharing one PostgreSQL database, and boxes registering to them.

A *node* has extconfig.conf/res_pgsql.conf/cdr_pgsql.conf beside its iax.conf and lists
the other nodes as static friends named after their systemname. A *box* is a plain
pbxedge that registers to one node as a realtime peer and answers every call with Echo.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import trio

from pbxedge.load.agent import AgentCall, CallAgent
from pbxedge.media.g711 import ulaw_encode
from tests.integration.conftest import RunningNode, free_udp_port, start_node
from tests.integration.nodes import wait_for_log, write_node
from tests.realtime.pgserver import PgServer

LIMIT = 20.0  # seconds a test may wait for what must come; only reached when broken
NODE_SECRET = "between-nodes"
REFRESH = 5  # minregexpire = maxregexpire: short, so expiry tests stay short

NODE_EXTENSIONS = """[calls]
exten => 600,1,Answer()
 same => n,Echo()
exten => _7XXX,1,Dial(IAX2/${EXTEN})
 same => n,Verbose(1,DIALSTATUS ${DIALSTATUS} for ${EXTEN})
 same => n,Hangup()
switch => Realtime/rtctx@extensions

[nodes]
"""


@dataclass
class NodeSpec:
    name: str
    port: int


def node_iax_conf(me: NodeSpec, others: list[NodeSpec], general: str = "") -> str:
    friends = "".join(
        f"\n[{o.name}]\ntype = friend\nhost = 127.0.0.1\nport = {o.port}\nusername = {me.name}\n"
        f"secret = {NODE_SECRET}\ncontext = nodes\n" for o in others)
    return f"""[general]
bindport = {me.port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
context = calls
minregexpire = {REFRESH}
maxregexpire = {REFRESH}
systemname = {me.name}
rtcachefriends = yes
rtsavesysname = yes
{general}
{friends}"""


def start_rt_node(folder: Path, pg: PgServer, db: str, me: NodeSpec, others: list[NodeSpec],
                  general: str = "") -> RunningNode:
    config = write_node(folder, node_iax_conf(me, others, general), NODE_EXTENSIONS)
    (folder / "extconfig.conf").write_text(
        "[settings]\niaxusers => pgsql,general,iaxfriends\niaxpeers => pgsql,general,iaxfriends\n"
        "extensions => pgsql,general,extensions\n")
    (folder / "res_pgsql.conf").write_text(pg.res_pgsql_conf(db))
    (folder / "cdr_pgsql.conf").write_text(
        pg.res_pgsql_conf(db).replace("[general]", "[global]") + "table=cdr\n")
    (folder / "cdr.conf").write_text("[general]\nunanswered=yes\n[csv]\nloguniqueid=yes\n")
    node = start_node(folder, config, me.port, "-vvv")
    wait_for_log(node, "pbxedge Ready.")
    return node


def start_box(folder: Path, name: str, secret: str, server_port: int) -> RunningNode:
    port = free_udp_port()
    conf = f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
register => {name}:{secret}@127.0.0.1:{server_port}

[guest]
type = user
context = box
"""
    config = write_node(folder, conf, "[box]\nexten => s,1,Answer()\n same => n,Echo()\n")
    node = start_node(folder, config, port, "-vvv")
    wait_for_log(node, "pbxedge Ready.")
    return node


def add_friend(pg: PgServer, db: str, **columns: Any) -> None:
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    with pg.connect(db) as conn:
        conn.execute(f"INSERT INTO iaxfriends ({names}) VALUES ({marks})",  # type: ignore[arg-type]
                     tuple(columns.values()))


def query(pg: PgServer, db: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with pg.connect(db) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def ramp() -> list[bytes]:
    t = np.arange(4000) / 8000.0
    wave = np.sin(2 * np.pi * (300 + 900 * t) * t) * np.linspace(0.05, 0.9, 4000) * 32000
    samples = np.round(wave).astype(np.int16)
    return [ulaw_encode(samples[i * 160:(i + 1) * 160]) for i in range(25)]


async def echo_round_trip(agent: CallAgent, call: AgentCall) -> None:
    """Audio sent on an answered call comes back byte for byte."""
    sent = ramp()
    for payload in sent:
        agent.send_voice(call, payload, 160)
        agent.flush()
        await trio.sleep(0.02)
    with trio.fail_after(LIMIT):
        while len(call.voice) < len(sent) and not call.ended.is_set():
            await trio.sleep(0.02)
    heard = b"".join(v.payload for v in sorted(call.voice, key=lambda v: v.timestamp))
    assert b"".join(sent) in heard


def master_csv(node: RunningNode) -> list[list[str]]:
    path = node.state / "cdr-csv" / "Master.csv"
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.reader(handle))
