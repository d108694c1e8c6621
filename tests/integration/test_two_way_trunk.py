"""The two-way trunk in one step: two offices that register to each other and list each
other as ``type=friend host=dynamic trunk=yes`` with deny/permit, and nothing else.

Each node registers to the other; a call placed at either office reaches the other
office's Echo, and its voice travels in meta trunk frames (``iax2 show trunks`` sees them
while the call talks).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from pbxedge.load.agent import CallAgent
from tests.integration.conftest import RunningNode, free_udp_port, start_node
from tests.integration.nodes import stop, wait_for_log, write_node

LIMIT = 20.0


def _office(me: str, other: str, my_secret: str, other_secret: str, port: int,
            other_port: int) -> str:
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
register => {me}:{my_secret}@127.0.0.1:{other_port}

[phone]
type = user
context = out
requirecalltoken = no

[{other}]
type = friend
host = dynamic
trunk = yes
secret = {other_secret}
context = from-{other}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
"""


def _extensions(other: str) -> str:
    return f"""[out]
exten => 800,1,Dial(IAX2/{other}/800)
[from-{other}]
exten => 800,1,Answer()
 same => n,Echo()
"""


@dataclass
class Offices:
    north: RunningNode
    south: RunningNode
    north_conf: Path
    south_conf: Path


@pytest.fixture(scope="module")
def offices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Offices]:
    root = tmp_path_factory.mktemp("twoway")
    n_port, s_port = free_udp_port(), free_udp_port()
    n_conf = write_node(root / "north", _office("north", "south", "nsecret", "ssecret",
                                                n_port, s_port), _extensions("south"))
    s_conf = write_node(root / "south", _office("south", "north", "ssecret", "nsecret",
                                                s_port, n_port), _extensions("north"))
    north = start_node(root / "north", n_conf, n_port, "-vvv")
    try:
        south = start_node(root / "south", s_conf, s_port, "-vvv")
    except BaseException:
        stop(north)
        raise
    try:
        yield Offices(north, south, n_conf, s_conf)
    finally:
        stop(south)
        stop(north)


def test_check_finds_nothing_wrong_with_the_pair(offices: Offices) -> None:
    for conf, far in ((offices.north_conf, offices.south_conf),
                      (offices.south_conf, offices.north_conf)):
        done = subprocess.run([sys.executable, "-m", "pbxedge", "-c", str(conf), "--check",
                               "--trunk-peer", str(far)],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0 and done.stdout == "", done.stdout


@pytest.mark.parametrize(("caller", "callee"), [("north", "south"), ("south", "north")])
async def test_a_call_either_way_is_trunked(offices: Offices, agent: CallAgent, caller: str,
                                            callee: str) -> None:
    near = getattr(offices, caller)
    far = getattr(offices, callee)
    for node, other in ((near, callee), (far, caller)):
        # Registered both ways: each node's register => line, and the other's REGREQ.
        wait_for_log(node, "Registered IAX2 to")
        wait_for_log(node, f"Registered IAX2 '{other}'")
    call = agent.call(("127.0.0.1", near.port), "800")
    with trio.fail_after(LIMIT):
        await call.answered.wait()
    await trio.sleep(0.8)
    # 5 s of voice: time enough for a console command to start and look meanwhile.
    sent = [bytes([0x10 + i % 200]) * 160 for i in range(250)]
    async with trio.open_nursery() as nursery:
        status: list[str] = []

        async def look() -> None:
            await trio.sleep(1.2)  # while the voice flows
            done = await trio.to_thread.run_sync(
                lambda: near.pbxedge("-rx", "iax2 show trunks"))
            status.append(done.stdout)

        nursery.start_soon(look)
        for payload in sent:
            agent.send_voice(call, payload, 160)
            agent.flush()
            await trio.sleep(0.02)
    await trio.sleep(0.5)
    heard = [v.payload for v in call.voice if v.payload in set(sent)]
    assert heard == sent
    [row] = [line for line in status[0].splitlines() if line.startswith(callee)]
    calls, tx_rate = re.split(r"\s+", row)[2:4]
    assert calls == "1" and float(tx_rate) > 10  # one trunk call, ~50 datagrams a second
    agent.hangup(call)
    with trio.fail_after(LIMIT):
        await call.ended.wait()
