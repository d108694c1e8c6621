"""The node's local phones: their devices, their calls, their buttons, their phone boxes.

The service is the ``Console`` technology of the node's dialer (``Dial(Console/<name>)``,
mixed freely with ``IAX2/…`` targets, and the manager's Originate), runs each phone's device
task, each box and each call button, and registers the ``console …`` commands. One phone's
trouble (a device gone, a button missing) stays with that phone. Its calls are listed by
``core show channels`` beside the IAX2 ones, and its boxes tell the node's event bus.

``module reload chan_console`` (and ``reload``) applies a changed ``console.conf`` to the
running phones, except what is opened or built once at start: the devices and their rate,
block, loudspeaker gain and buffer, the button, and whether a phone is a box and its
location. Those, and phones added or removed, take effect at the next start (the reload
says so).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import trio

from dialplan.channel import Channel
from dialplan.dialer import DialResult, DialStatus
from dialplan.engine import Engine
from pbxedge.cdr.recorder import CdrRecorder
from pbxedge.channels.console import ConsoleChannel
from pbxedge.channels.dial import CallerId, Dialer, DialLeg
from pbxedge.channels.media import MediaEnv
from pbxedge.control.registry import CommandRegistry
from pbxedge.iax2.enums import Cause
from pbxedge.media.indications import Indications
from pbxedge.phonebox.box import PhoneBox
from pbxedge.phonebox.location import LocationPrompt
from pbxedge.phonebox.parts import BoxParts
from pbxedge.phones.button import ButtonReader
from pbxedge.phones.commands import register_console_commands
from pbxedge.phones.config import ConsoleConfig, PhoneConfig
from pbxedge.phones.phone import LocalPhone
from pbxedge.store import Store

__all__ = ["PhoneService"]

logger = logging.getLogger("pbxedge.phones")

# What a running phone keeps from start (see the module's text).
_AT_START = ("input_device", "output_device", "samplerate", "frame_ms", "rx_gain",
             "jitterbuffer", "button")


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
                                                    self.media_env.events, location))
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

    async def place(self, caller: Channel | None, target: str,
                    callerid: CallerId) -> DialLeg | DialResult:
        name = target.partition("/")[2].partition("/")[0]
        phone = self.phones.get(name.lower())
        if phone is None:
            logger.error("Console device '%s' not found", name)
            return DialResult(DialStatus.CHANUNAVAIL, Cause.SUBSCRIBER_ABSENT)
        return phone.ring(caller, callerid)

    # -- core show channels ---------------------------------------------------------------

    def live_channels(self) -> list[ConsoleChannel]:
        return [phone.call for phone in self.phones.values() if phone.call is not None]

    @property
    def active_calls(self) -> int:
        """Calls of the phones that run the dialplan (not the legs a Dial rings)."""
        return sum(1 for channel in self.live_channels()
                   if self.engine.location(channel.name) is not None)

    @property
    def processed(self) -> int:
        return sum(phone.processed for phone in self.phones.values())

    # -- reload ---------------------------------------------------------------------------

    def reconfigure(self, config: ConsoleConfig) -> list[str]:
        """Apply a reloaded console.conf; returns what changed, and what waits for a start."""
        changes: list[str] = []
        for key, new in config.phones.items():
            phone = self.phones.get(key)
            if phone is None:
                changes.append(f"console: phone '{new.name}' is added at the next start")
                continue
            kept = _kept_from_start(phone.config, new)
            if kept:
                names = sorted("box or location" if k == "box" else k for k in kept)
                changes.append(f"console: '{new.name}': {', '.join(names)} "
                               "change at the next start")
            applied = replace(new, **kept)
            phone.reconfigure(applied)
            box = self.boxes.get(key)
            if box is not None and applied.box is not None:
                box.parts.config = applied.box
        changes.extend(f"console: phone '{phone.name}' is removed at the next start"
                       for key, phone in self.phones.items() if key not in config.phones)
        active = config.active
        if active is not None and active.name.lower() in self.phones:
            self.active = self.phones[active.name.lower()]
        return [*changes, f"local phones: {len(self.phones)}"]

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


def _kept_from_start(old: PhoneConfig, new: PhoneConfig) -> dict[str, Any]:
    """The values of *old* a running phone keeps although *new* changes them."""
    kept: dict[str, Any] = {key: getattr(old, key) for key in _AT_START
                            if getattr(new, key) != getattr(old, key)}
    if (old.box is None) != (new.box is None):
        kept["box"] = old.box
    elif old.box is not None and new.box is not None and old.box.location != new.box.location:
        kept["box"] = replace(new.box, location=old.box.location)
    return kept
