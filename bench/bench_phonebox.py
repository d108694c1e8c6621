"""A phone box's button to the first ring of the desk it calls (goal: 2 s on loopback).

Two nodes in one process, on loopback: the box (a phone service with one lift phone) and
the desk (an IAX2 node whose extension answers and acknowledges at once). Each round
presses the button and times the moment the desk's node has the call in its dialplan (its
phone would ring now); the alarm is then acknowledged and ends before the next press.
"""

from __future__ import annotations

import logging
import socket
import statistics
import tempfile
from pathlib import Path

import trio

from dialplan.engine import Engine
from dialplan.loader import parse_dialplan_text
from pbxedge.channels.media import MediaEnv
from pbxedge.config.iax_build import build_iax_config
from pbxedge.config.loader import parse_config_text
from pbxedge.iaxservice.calls import CallService
from pbxedge.iaxservice.peers import StaticPeerDirectory
from pbxedge.iaxservice.service import IaxService
from pbxedge.keys import KeyStore
from pbxedge.paths import PACKAGE_SOUNDS
from pbxedge.phones.config import parse_console_config
from pbxedge.phones.service import PhoneService
from pbxedge.store import Store

PRESSES = 10
GOAL_S = 2.0


def _port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _node(iax_conf: str, extensions: str) -> tuple[IaxService, CallService]:
    config, _ = build_iax_config(parse_config_text(iax_conf, "iax.conf"))
    engine = Engine(parse_dialplan_text(extensions))
    iax = IaxService(config)
    calls = CallService(iax, config=config, keys=KeyStore([]), store=None, engine=engine,
                        peers=StaticPeerDirectory(config))
    return iax, calls


async def _measure(folder: Path) -> list[float]:
    desk_port, box_port = _port(), _port()
    desk_iax, desk = _node(f"[general]\nbindport={desk_port}\nbindaddr=127.0.0.1\n"
                           "disallow=all\nallow=ulaw\n[guest]\ntype=user\ncontext=desk\n"
                           "requirecalltoken=no\n",
                           "[desk]\nexten => 100,1,Answer()\n same => n,SendDTMF(5)\n"
                           " same => n,Wait(0.5)\n same => n,Hangup()\n")
    box_iax, box_calls = _node(f"[general]\nbindport={box_port}\nbindaddr=127.0.0.1\n"
                               f"disallow=all\nallow=ulaw\n[desk]\ntype=peer\nhost=127.0.0.1\n"
                               f"port={desk_port}\nrequirecalltoken=no\n", "")
    console, _ = parse_console_config("[lift]\ninput_device=none\noutput_device=none\n"
                                      "alarm_targets=IAX2/desk/100\nack_timeout=5\n"
                                      "location=Building A, lift 2\nbox_id=42\n")
    store, _ = Store.open(folder / "state.db")
    phones = PhoneService(console, engine=box_calls.engine, dialer=box_calls.dialer,
                          store=store, state_dir=folder,
                          media_env=MediaEnv(sound_dirs=(PACKAGE_SOUNDS,)))
    box = phones.boxes["lift"]
    rings: list[float] = []
    async with trio.open_nursery() as nursery:
        for service in (desk_iax, desk, box_iax, box_calls, phones):
            await nursery.start(service.run)
        for _ in range(PRESSES):
            pressed = trio.current_time()
            box.press()
            while not desk.channels():
                await trio.sleep(0.001)
            rings.append(trio.current_time() - pressed)
            assert box.alarm is not None
            with trio.fail_after(30):
                await box.alarm.done.wait()
            while desk.channels():
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    store.close()
    return rings


def run() -> list[str]:
    logging.getLogger("pbxedge").setLevel(logging.CRITICAL)  # the phone has no device here
    with tempfile.TemporaryDirectory() as folder:
        rings = trio.run(_measure, Path(folder))
    worst = max(rings)
    return [f"button to first ring: median {statistics.median(rings) * 1000:.1f} ms, "
            f"worst {worst * 1000:.1f} ms over {len(rings)} presses "
            f"(goal {GOAL_S:.0f} s: {'met' if worst <= GOAL_S else 'MISSED'})"]
