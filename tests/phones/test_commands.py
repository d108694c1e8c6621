"""The console commands' texts, as chan_console prints them (console.md §2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dialplan.engine import Engine
from dialplan.plan import Dialplan
from pbxedge.audio.devices import DeviceInfo
from pbxedge.channels.dial import Dialer
from pbxedge.control.registry import CommandContext, CommandRegistry
from pbxedge.phones.commands import list_available_text
from pbxedge.phones.config import parse_console_config
from pbxedge.phones.service import PhoneService
from pbxedge.store import Store

# chan_console pads the label, so the empty values leave trailing spaces.
DEV2 = """
=============================================================
=== Configured Devices ======================================
=============================================================
===
=== ---------------------------------------------------------
=== Device Name: dev2
=== ---> Active:           No
=== ---> Input Device:     default
=== ---> Output Device:    default
=== ---> Context:          other
=== ---> Extension:        100
=== ---> CallerID Num:     200
=== ---> CallerID Name:    Console Phone
=== ---> MOH Interpret:    default
=== ---> Language:         {empty}
=== ---> Parkinglot:       {empty}
=== ---> Muted:            No
=== ---> Auto-Answer:      No
=== ---> Override Context: No
=== ---------------------------------------------------------
===
=============================================================

""".format(empty="")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[CommandRegistry, PhoneService]]:
    config, problems = parse_console_config("""[dev2]
input_device = default
output_device = default
context = other
extension = 100
callerid = "Console Phone" <200>
""")
    assert problems == []
    store, _ = Store.open(tmp_path / "state.db")
    service = PhoneService(config, engine=Engine(Dialplan()), dialer=Dialer(), store=store,
                           state_dir=tmp_path)
    registry = CommandRegistry()
    service.register_commands(registry)
    yield registry, service
    store.close()


async def run(registry: CommandRegistry, line: str) -> str:
    return await registry.execute(CommandContext(registry), line)


async def test_list_devices_has_chan_console_s_layout(
        registry: tuple[CommandRegistry, PhoneService]) -> None:
    assert await run(registry[0], "console list devices") == DEV2


async def test_without_an_active_device_commands_fail_as_chan_console_s_do(
        registry: tuple[CommandRegistry, PhoneService]) -> None:
    commands = registry[0]
    assert await run(commands, "console answer") == (
        "No console device is set as active\nCommand 'console answer' failed.\n")
    assert await run(commands, "console dial 100") == (
        "No console device is currently set as active\nCommand 'console dial 100' failed.\n")
    assert await run(commands, "console show autoanswer") == (
        "No console device is set as active.\nCommand 'console show autoanswer' failed.\n")
    assert await run(commands, "console show active") == (
        "No device is currently set as the active console device.\n")
    assert await run(commands, "console set active nosuch") == (
        "Could not find a device called 'nosuch'.\n"
        "Command 'console set active nosuch' failed.\n")


async def test_selecting_the_active_device_and_its_settings(
        registry: tuple[CommandRegistry, PhoneService]) -> None:
    commands, service = registry
    assert await run(commands, "console active DEV2") == (
        "The active console device has been set to 'dev2'\n")
    assert await run(commands, "console active") == "The active console device is 'dev2'.\n"
    assert await run(commands, "console show autoanswer") == "Auto answer is off.\n"
    assert await run(commands, "console set autoanswer on") == ""
    assert await run(commands, "console show autoanswer") == "Auto answer is on.\n"
    assert await run(commands, "console mute") == ""
    assert "=== ---> Muted:            Yes" in await run(commands, "console list devices")
    assert await run(commands, "console unmute") == ""
    assert await run(commands, "console hangup") == (
        "No call to hang up\nCommand 'console hangup' failed.\n")
    assert await run(commands, "console send text") == (
        "Usage: console send text <message>\n"
        "       Sends a text message for display on the remote terminal.\n")
    assert await run(commands, "console show calls") == (
        "Device       Channel          State    Caller                         Duration "
        "Muted\n0 active console calls\n")
    assert await run(commands, "console show stats") == (
        "Console/dev2: device unavailable (not opened yet)\n")
    assert await run(commands, "console show phonebox") == "No phone boxes.\n"
    assert service.phones["dev2"].autoanswer


def test_list_available_marks_the_defaults() -> None:
    assert list_available_text([DeviceInfo(0, "lift_play", 128, 128, 8000),
                                DeviceInfo(1, "default", 32, 32, 44100, True, True)]) == """
=============================================================
=== Available Devices =======================================
=============================================================
===
=== ---------------------------------------------------------
=== Device Name: lift_play
=== ---> Input Device
=== ---> Output Device
=== ---------------------------------------------------------
===
=== ---------------------------------------------------------
=== Device Name: default
=== ---> Default Input Device
=== ---> Default Output Device
=== ---------------------------------------------------------
===
=============================================================

"""
    assert list_available_text([]).endswith("===\n(None)\n")
