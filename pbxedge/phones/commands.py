"""The ``console …`` commands, with chan_console's names, messages and layouts.

chan_console's commands act on the *active* phone (``active=yes``, or ``console set active``)
and print what it prints, including the CLI core's ``Command '…' failed.`` after a failure.
pbxedge adds ``console active [NAME]`` (set or show in one), ``console press [NAME]``,
``console show calls``, ``console show stats``, ``console show phonebox [NAME]`` and
``console phonebox test [NAME]``. Where chan_console is wrong pbxedge does better:
``console mute`` really mutes the microphone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import trio

from pbxedge.audio.devices import AudioUnavailable, DeviceInfo, list_devices
from pbxedge.channels.console import console_verbose
from pbxedge.control.registry import CommandContext, CommandRegistry, Handler, UsageError
from pbxedge.phonebox.box import PhoneBox
from pbxedge.phones.phone import LocalPhone

__all__ = ["register_console_commands"]



class PhoneService(Protocol):
    """What the commands use of :class:`pbxedge.phones.service.PhoneService`."""

    phones: dict[str, LocalPhone]
    boxes: dict[str, PhoneBox]
    active: LocalPhone | None

    @property
    def nursery(self) -> trio.Nursery: ...

    def phone(self, name: str | None) -> LocalPhone | None: ...

    def press(self, phone: LocalPhone) -> str: ...


_RULE = "=" * 61
_DASHES = "=== " + "-" * 57
_NO_ACTIVE = "No console device is set as active\n"


def _header(title: str) -> str:
    return f"\n{_RULE}\n{f'=== {title} ':=<61}\n{_RULE}\n===\n"


def _failed(line: str, text: str = "") -> str:
    """What the CLI core prints after a command that failed."""
    return f"{text}Command '{line}' failed.\n"


def _yes(flag: bool) -> str:
    return "Yes" if flag else "No"


def list_devices_text(service: PhoneService) -> str:
    out = [_header("Configured Devices")]
    for phone in service.phones.values():
        config = phone.config
        rows = [
            ("Active", _yes(phone is service.active)), ("Input Device", config.input_device),
            ("Output Device", config.output_device), ("Context", config.context),
            ("Extension", config.extension), ("CallerID Num", config.callerid_num or ""),
            ("CallerID Name", config.callerid_name or ""),
            ("MOH Interpret", config.mohinterpret), ("Language", config.language),
            ("Parkinglot", ""), ("Muted", _yes(phone.muted)),
            ("Auto-Answer", _yes(phone.autoanswer)),
            ("Override Context", _yes(config.overridecontext)),
        ]
        out.append(f"{_DASHES}\n=== Device Name: {phone.name}\n")
        out.extend(f"=== ---> {label + ':':<18}{value}\n" for label, value in rows)
        out.append(f"{_DASHES}\n===\n")
    out.append(f"{_RULE}\n\n")
    return "".join(out)


def list_available_text(found: list[DeviceInfo]) -> str:
    out = [_header("Available Devices")]
    if not found:
        return out[0] + "(None)\n"
    for device in found:
        out.append(f"{_DASHES}\n=== Device Name: {device.name}\n")
        if device.inputs:
            out.append(f"=== ---> {'Default ' if device.default_input else ''}Input Device\n")
        if device.outputs:
            out.append(f"=== ---> {'Default ' if device.default_output else ''}Output Device\n")
        out.append(f"{_DASHES}\n===\n")
    out.append(f"{_RULE}\n\n")
    return "".join(out)


def _duration(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def show_calls_text(service: PhoneService) -> str:
    row = "%-12.12s %-16.16s %-8.8s %-30.30s %-8.8s %-5s\n"
    out = [row % ("Device", "Channel", "State", "Caller", "Duration", "Muted")]
    count = 0
    now = time.time()
    for phone in service.phones.values():
        call = phone.call
        if call is None:
            continue
        count += 1
        caller = f'"{call.caller_name or ""}" <{call.caller_num or ""}>'
        out.append(row % (phone.name, call.name, call.state.value.capitalize(), caller,
                          _duration(now - call.created_at), _yes(phone.muted)))
    out.append(f"{count} active console call{'' if count == 1 else 's'}\n")
    return "".join(out)


def show_stats_text(service: PhoneService) -> str:
    out = []
    for phone in service.phones.values():
        stream, stats, feed = phone.stream, phone.stats, phone.feed
        if stream is None or stats is None or feed is None:
            out.append(f"Console/{phone.name}: device unavailable ({phone.failure})\n")
            continue
        out.append(f"Console/{phone.name}: in '{stream.input_device.name}', out "
                   f"'{stream.output_device.name}', {stream.rate} Hz, "
                   f"{phone.config.frame_ms} ms frames\n")
        out.append(f"  Microphone:  {stats.captured} blocks read, {phone.mic_sent} sent, "
                   f"{phone.mic_dropped} dropped (queue full), {stats.input_overflows} "
                   f"overflows (device), {stats.paced_input} paced\n")
        out.append(f"  Loudspeaker: {stats.played} blocks played, {feed.underflows} underflows "
                   f"(nothing due), {stats.output_underflows} underflows (device), "
                   f"{stats.paced_output} paced\n")
        out.append(f"  Jitter buffer: {feed.frames_in} frames in, {feed.queued_ms()} ms "
                   f"queued\n")
    return "".join(out) or "No local phones.\n"


def register_console_commands(registry: CommandRegistry, service: PhoneService) -> None:
    def active(line: str, run: Callable[[LocalPhone], str],
               missing: str = _NO_ACTIVE) -> str:
        phone = service.active
        if phone is None:
            return _failed(line, missing)
        return run(phone)

    def named(args: list[str], line: str) -> LocalPhone | str:
        """The phone named in *args*, else the active one; a failure text when none."""
        if len(args) > 1:
            raise UsageError
        phone = service.phone(args[0] if args else None)
        if phone is None:
            if args:
                return _failed(line, f"Could not find a device called '{args[0]}'.\n")
            return _failed(line, _NO_ACTIVE)
        return phone

    def list_devices_cmd(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return list_devices_text(service)

    async def list_available(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        try:
            found = await trio.to_thread.run_sync(list_devices)
        except AudioUnavailable as exc:
            return _failed("console list available", f"{exc}\n")
        return list_available_text(found)

    def show_active(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        if service.active is None:
            return "No device is currently set as the active console device.\n"
        return f"The active console device is '{service.active.name}'.\n"

    def set_active(ctx: CommandContext, args: list[str]) -> str:
        if not args:
            return show_active(ctx, args)
        if len(args) > 1:
            raise UsageError
        phone = service.phones.get(args[0].lower())
        if phone is None:
            return _failed(f"console set active {args[0]}",
                           f"Could not find a device called '{args[0]}'.\n")
        service.active = phone
        return f"The active console device has been set to '{phone.name}'\n"

    def show_autoanswer(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return active("console show autoanswer",
                      lambda p: f"Auto answer is {'on' if p.autoanswer else 'off'}.\n",
                      "No console device is set as active.\n")

    def set_autoanswer(ctx: CommandContext, args: list[str]) -> str:
        if len(args) != 1 or args[0].lower() not in ("on", "off"):
            raise UsageError

        def run(phone: LocalPhone) -> str:
            phone.autoanswer = args[0].lower() == "on"
            return ""

        return active("console set autoanswer", run, "No console device is set as active.\n")

    async def dial(ctx: CommandContext, args: list[str]) -> str:
        if len(args) > 1:
            raise UsageError
        line = " ".join(["console dial", *args])
        phone = service.active
        if phone is None:
            return _failed(line, "No console device is currently set as active\n")
        if phone.call is not None:
            if not args:
                return _failed(line, "Already in a call. You can only dial digits until "
                                     "you hangup.\n")
            service.nursery.start_soon(phone.keypad, args[0])
            return ""
        exten, context = phone.config.extension, phone.config.context
        if args:
            text = args[0]
            if not phone.config.overridecontext and "@" in text:
                text, _, given = text.rpartition("@")
                context = given or context
            exten = text or exten
        if not phone.dial(exten, context):
            return f"No such extension '{exten}' in context '{context}'\n"
        return ""

    def answer(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return active("console answer", lambda p: "" if p.answer()
                      else _failed("console answer", "No one is calling us\n"))

    def hangup(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return active("console hangup", lambda p: "" if p.hangup()
                      else _failed("console hangup", "No call to hang up\n"))

    def mute(on: bool) -> Callable[[CommandContext, list[str]], str]:
        def run_mute(ctx: CommandContext, args: list[str]) -> str:
            if args:
                raise UsageError

            def run(phone: LocalPhone) -> str:
                phone.muted = on
                console_verbose(f"The Console is now {'Muted' if on else 'Unmuted'}")
                return ""

            return active("console mute" if on else "console unmute", run)

        return run_mute

    def send_text(ctx: CommandContext, args: list[str]) -> str:
        if not args:
            raise UsageError
        line = " ".join(["console send text", *args])

        def run(phone: LocalPhone) -> str:
            call = phone.call
            if call is None:
                return _failed(line, "Not in a call\n")
            call.receive_text(" ".join(args) + "\n")
            return ""

        return active(line, run)

    def flash(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError

        def run(phone: LocalPhone) -> str:
            if phone.call is None:
                return _failed("console flash", "No call to flash\n")
            phone.call.receive_flash()
            return ""

        return active("console flash", run)

    def press(ctx: CommandContext, args: list[str]) -> str:
        found = named(args, " ".join(["console press", *args]))
        if isinstance(found, str):
            return found
        return f"Console/{found.name}: {service.press(found)}\n"

    def show_calls(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return show_calls_text(service)

    def show_stats(ctx: CommandContext, args: list[str]) -> str:
        if args:
            raise UsageError
        return show_stats_text(service)

    def show_phonebox(ctx: CommandContext, args: list[str]) -> str:
        if len(args) > 1:
            raise UsageError
        boxes = list(service.boxes.values())
        if args:
            boxes = [b for b in boxes if b.name.lower() == args[0].lower()]
            if not boxes:
                return _failed(f"console show phonebox {args[0]}",
                               f"No phone box called '{args[0]}'.\n")
        if not boxes:
            return "No phone boxes.\n"
        return "\n".join(box.show() for box in boxes)

    def test_phonebox(ctx: CommandContext, args: list[str]) -> str:
        line = " ".join(["console phonebox test", *args])
        found = named(args, line)
        if isinstance(found, str):
            return found
        box = service.boxes.get(found.name.lower())
        if box is None or not box.parts.config.test_target:
            return _failed(line, f"Console/{found.name} has no test_target.\n")
        box.request_test()
        return f"Self test of '{box.name}' requested.\n"

    commands: list[tuple[str, Handler, str, str]] = [
        ("console list devices", list_devices_cmd, "List configured devices",
         "Usage: console list devices\n       List all configured devices."),
        ("console list available", list_available, "List available devices",
         "Usage: console list available\n       List all available devices."),
        ("console show active", show_active, "View the active console device",
         "Usage: console {set|show} active [<device>]"),
        ("console set active", set_active, "Set the active console device",
         "Usage: console {set|show} active [<device>]"),
        ("console active", set_active, "View or set the active console device",
         "Usage: console active [<device>]"),
        ("console show autoanswer", show_autoanswer, "Show autoanswer",
         "Usage: console {set|show} autoanswer [on|off]"),
        ("console set autoanswer", set_autoanswer, "Turn autoanswer on or off",
         "Usage: console {set|show} autoanswer [on|off]"),
        ("console dial", dial, "Dial an extension from the console",
         "Usage: console dial [extension[@context]]\n"
         "       Dials a given extension (and context if specified)"),
        ("console answer", answer, "Answer an incoming console call",
         "Usage: console answer\n       Answers an incoming call on the console channel."),
        ("console hangup", hangup, "Hangup a call on the console",
         "Usage: console hangup\n       Hangs up any call currently placed on the console."),
        ("console mute", mute(True), "Disable mic input",
         "Usage: console {mute|unmute}\n       Mute/unmute the microphone."),
        ("console unmute", mute(False), "Enable mic input",
         "Usage: console {mute|unmute}\n       Mute/unmute the microphone."),
        ("console send text", send_text, "Send text to a connected party",
         "Usage: console send text <message>\n"
         "       Sends a text message for display on the remote terminal."),
        ("console flash", flash, "Send a flash to the connected party",
         "Usage: console flash\n       Flashes the call currently placed on the console."),
        ("console press", press, "Press a phone's call button",
         "Usage: console press [<device>]\n"
         "       The alarm of a phone box; on a phone: answer, hang up, or dial when\n"
         "       immediate=yes."),
        ("console show calls", show_calls, "Show the calls of the local phones",
         "Usage: console show calls"),
        ("console show stats", show_stats, "Show the sound devices' counters",
         "Usage: console show stats"),
        ("console show phonebox", show_phonebox, "Show the phone boxes",
         "Usage: console show phonebox [<device>]"),
        ("console phonebox test", test_phonebox, "Run a phone box's self test now",
         "Usage: console phonebox test [<device>]"),
    ]
    for name, handler, summary, usage in commands:
        registry.register(name, handler, summary=summary, usage=usage)
