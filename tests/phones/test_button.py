"""The call button: key events from an input device press the phone's button."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio
from evdev import ecodes

from pbxedge.phones.button import ButtonReader


def test_a_key_press_presses_the_button_once() -> None:
    pressed: list[str] = []
    reader = ButtonReader("lift", "/dev/input/by-path/gpio-keys-event:KEY_F1",
                          lambda: pressed.append("press"))
    key = ecodes.KEY_F1
    assert not reader.handle_event(ecodes.EV_KEY, key, 0)  # released
    assert reader.handle_event(ecodes.EV_KEY, key, 1)  # pressed
    assert not reader.handle_event(ecodes.EV_KEY, key, 2)  # held: autorepeat
    assert not reader.handle_event(ecodes.EV_KEY, ecodes.KEY_F2, 1)  # another key
    assert not reader.handle_event(ecodes.EV_SYN, 0, 0)
    assert pressed == ["press"] and reader.presses == 1


async def test_a_missing_input_device_is_reported_and_the_node_goes_on(tmp_path: Path) -> None:
    reader = ButtonReader("lift", f"{tmp_path}/nosuch-event:KEY_F1", lambda: None)
    with trio.move_on_after(1):
        await reader.run()
    assert reader.problem is not None and "No such file" in reader.problem


@pytest.mark.skipif(not os.access("/dev/uinput", os.W_OK), reason="no /dev/uinput here")
async def test_a_synthetic_input_device_presses_the_button() -> None:
    from evdev import UInput

    pressed = trio.Event()
    with UInput({ecodes.EV_KEY: [ecodes.KEY_F1]}, name="pbxedge test button") as device:
        reader = ButtonReader("lift", f"{device.device.path}:KEY_F1", pressed.set)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader.run)
            await trio.sleep(0.5)
            device.write(ecodes.EV_KEY, ecodes.KEY_F1, 1)
            device.write(ecodes.EV_KEY, ecodes.KEY_F1, 0)
            device.syn()
            with trio.fail_after(5):
                await pressed.wait()
            nursery.cancel_scope.cancel()
