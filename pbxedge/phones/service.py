"""The node's local phones: their devices, their calls, their buttons, their phone boxes.

The service is the ``Console`` technology of the node's dialer (``Dial(Console/<name>)``,
mixed freely with ``IAX2/…`` targets), runs each phone's device task, each box and each
call button, and registers the ``console …`` commands. One phone's trouble (a device gone,
a button missing) stays with that phone.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import trio

from dialplan.channel import Channel
from dialplan.dialer import DialResult, DialStatus
from dialplan.engine import Engine
from pbxedge.cdr.recorder import CdrRecorder
from pbxedge.channels.dial import Dialer, DialLeg
from pbxedge.channels.media import MediaEnv
from pbxedge.control.registry import CommandRegistry
from pbxedge.iax2.enums import Cause
from pbxedge.media.indications import Indications
from pbxedge.phonebox.box import PhoneBox
from pbxedge.phonebox.events import BoxEvents
from pbxedge.phonebox.location import LocationPrompt
from pbxedge.phonebox.parts import BoxParts
from pbxedge.phones.button import ButtonReader
from pbxedge.phones.commands import register_console_commands
from pbxedge.phones.config import ConsoleConfig
from pbxedge.phones.phone import LocalPhone
from pbxedge.store import Store

__all__ = ["PhoneService"]

logger = logging.getLogger("pbxedge.phones")


class PhoneService:
    name = "phones"

    def __init__(self, config: ConsoleConfig, *, engine: Engine, dialer: Dialer,
                 store: Store, state_dir: Path, media_env: MediaEnv | None = None,
                 indications: Indications | None = None,
                 cdr: CdrRecorder | None = None) -> None:
        self.config = config
        self.engine = engine
        self.dialer = dialer
        self.media_env = media_env or MediaEnv()
        self.indications = indications or Indications.builtin()
        self.cdr = cdr
        self.events = BoxEvents()
        self._nursery: trio.Nursery | None = None
        self.phones: dict[str, LocalPhone] = {
            key: LocalPhone(phone, self) for key, phone in config.phones.items()}
        active = config.active
        self.active: LocalPhone | None = (self.phones[active.name.lower()]
                                          if active is not None else None)
        self.boxes: dict[str, PhoneBox] = {}
        for key, phone in self.phones.items():
            box = phone.config.box
            if box is not None:
                location = LocationPrompt(box.location, state_dir / "phonebox",
                                          self.media_env.sound_dirs, phone.config.language or "en")
                self.boxes[key] = PhoneBox(BoxParts(phone.name, box, phone, dialer, store,
                                                    self.events, location))
        self.buttons = [ButtonReader(phone.name, phone.config.button, partial(self.press, phone))
                        for phone in self.phones.values() if phone.config.button]
        dialer.add_technology("Console", self)

    @property
    def nursery(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("the phone service is not running")
        return self._nursery

    def phone(self, name: str | None) -> LocalPhone | None:
        """The phone called *name*, or the active one."""
        if name is None:
            return self.active
        return self.phones.get(name.lower())

    # -- Dial(Console/<name>) -------------------------------------------------------------

    async def place(self, caller: Channel, target: str) -> DialLeg | DialResult:
        name = target.partition("/")[2].partition("/")[0]
        phone = self.phones.get(name.lower())
        if phone is None:
            logger.error("Console device '%s' not found", name)
            return DialResult(DialStatus.CHANUNAVAIL, Cause.SUBSCRIBER_ABSENT)
        return phone.ring(caller)

    # -- the button -----------------------------------------------------------------------

    def press(self, phone: LocalPhone) -> str:
        """One press of *phone*'s button (``console press``, an evdev key): the alarm of a
        box, else answer a ringing call, hang up a call, or dial on an ``immediate`` phone."""
        box = self.boxes.get(phone.name.lower())
        if box is not None and box.parts.config.alarm_targets:
            return box.press()
        call = phone.call
        if call is not None:
            if call.state.value != "up" and not call.outgoing:
                phone.answer()
                return "answered"
            phone.hangup()
            return "hung up"
        if not phone.config.immediate:
            logger.info("Console/%s: off hook (not immediate: dial with 'console dial')",
                        phone.name)
            return "off hook"
        if not phone.dial(phone.config.extension, phone.config.context):
            logger.warning("Console/%s: no extension '%s' in context '%s'", phone.name,
                           phone.config.extension, phone.config.context)
            return "no such extension"
        return "dialling"

    # -- service --------------------------------------------------------------------------

    def register_commands(self, registry: CommandRegistry) -> None:
        register_console_commands(registry, self)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for phone in self.phones.values():
                    nursery.start_soon(phone.run)
                for box in self.boxes.values():
                    await nursery.start(box.run)
                for button in self.buttons:
                    nursery.start_soon(button.run)
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None

    async def stop(self) -> None:
        """Hang up the local calls; their IAX2 legs follow through their bridges."""
        for phone in self.phones.values():
            if phone.call is not None:
                phone.call.end(Cause.NORMAL_CLEARING)
