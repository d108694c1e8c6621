"""A phone box without a node around it: scripted desks in place of the dialer, a store in
a temporary folder, and, when a test needs sound, a loudspeaker wired to the microphone on
trio's clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trio

from dialplan.dialer import DialResult, DialStatus
from dialplan.engine import Engine
from dialplan.plan import Dialplan
from pbxedge.channels.console import ConsoleChannel
from pbxedge.channels.media import MediaEnv
from pbxedge.channels.voice import VoiceFrame
from pbxedge.events import EventBus, NodeEvent
from pbxedge.media.indications import Indications
from pbxedge.paths import PACKAGE_SOUNDS
from pbxedge.phonebox.box import PhoneBox
from pbxedge.phonebox.location import LocationPrompt
from pbxedge.phonebox.parts import BoxParts
from pbxedge.phones.config import BoxConfig, PhoneConfig
from pbxedge.phones.phone import LocalPhone
from pbxedge.phones.speaker import SpeakerFeed
from pbxedge.store import Store

EPOCH = 1_700_000_000.0


@dataclass
class Desk:
    """How a target behaves: busy, noanswer, silent (answers, never acknowledges), ack
    (answers and presses the digit after *ack_after* s); it hangs up after *talk* s."""

    kind: str
    ack_after: float = 1.0
    talk: float = 10.0
    heard_frames: int = 0
    frames_before_ack: int = 0
    texts: list[str] = field(default_factory=list)
    digits: str = ""


class Desks:
    """Stands in for the node's dialer: each target is a scripted :class:`Desk`."""

    def __init__(self, desks: dict[str, Desk]) -> None:
        self.desks = desks
        self.calls: list[str] = []
        self.callerids: list[tuple[str | None, str | None]] = []

    async def dial(self, channel: ConsoleChannel, targets: list[str], timeout: float | None,
                   options: str) -> DialResult:
        target = targets[0]
        self.calls.append(target)
        self.callerids.append((channel.caller_name, channel.caller_num))
        desk = self.desks[target]
        if desk.kind == "busy":
            return DialResult(DialStatus.BUSY, 17)
        if desk.kind == "noanswer":
            await trio.sleep(timeout or 0)
            return DialResult(DialStatus.NOANSWER, 19)
        await channel.answer()

        def heard(frame: VoiceFrame) -> None:
            desk.heard_frames += 1

        def digit(value: str, begin: bool) -> None:
            if not begin:
                desk.digits += value

        channel.take_audio(heard, digit, desk.texts.append)
        async with trio.open_nursery() as nursery:
            if desk.kind == "ack":
                async def press() -> None:
                    await trio.sleep(desk.ack_after)
                    desk.frames_before_ack = desk.heard_frames
                    channel.send_digit("5", begin=True)
                    await trio.sleep(0.1)
                    channel.send_digit("5", begin=False)

                nursery.start_soon(press)
            with trio.move_on_after(desk.talk):
                await channel.wait(None)
            nursery.cancel_scope.cancel()
        channel.take_audio(None)
        return DialResult(DialStatus.ANSWER, 16)


@dataclass
class Host:
    """What a phone needs of a node."""

    dialer: Desks
    nursery: trio.Nursery
    engine: Engine = field(default_factory=lambda: Engine(Dialplan()))
    media_env: MediaEnv = field(default_factory=lambda: MediaEnv(sound_dirs=(PACKAGE_SOUNDS,)))
    indications: Indications = field(default_factory=Indications.builtin)
    cdr: None = None


def make_box(tmp_path: Path, nursery: trio.Nursery, desks: Desks, store: Store,
             **box: object) -> tuple[PhoneBox, list[NodeEvent]]:
    config = BoxConfig(**{"alarm_targets": tuple(desks.desks), "alarm_ring_timeout": 10.0,
                          "ack_timeout": 5.0, "location": "Building A, lift 2", "box_id": "42",
                          **box})  # type: ignore[arg-type]
    phone = LocalPhone(PhoneConfig("lift", input_device="x", output_device="y", box=config),
                       Host(desks, nursery))  # type: ignore[arg-type]
    events = EventBus()
    seen: list[NodeEvent] = []
    events.subscribe(seen.append)
    parts = BoxParts("lift", config, phone, desks, store, events,  # type: ignore[arg-type]
                     LocationPrompt("", tmp_path, ()), clock=lambda: EPOCH + trio.current_time())
    return PhoneBox(parts), seen


async def sound_loop(phone: LocalPhone, closed: Callable[[], bool]) -> None:
    """The phone's device on trio's clock: every 20 ms the loudspeaker's block goes to
    the microphone while *closed()*, silence otherwise."""
    phone.feed = SpeakerFeed(phone.native, 8000, 20, clock=trio.current_time)
    phone.ready.set()
    phone.failure = None
    while True:
        block = phone.feed.pull(160)
        phone._from_microphone(block if closed() else np.zeros(160, dtype=np.int16))
        await trio.sleep(0.020)
