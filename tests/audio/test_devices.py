"""Finding a configured device among those PortAudio lists."""

from __future__ import annotations

import pytest

from pbxedge.audio.devices import DeviceInfo, DeviceNotFound, find_device

DEVICES = [
    DeviceInfo(0, "lift_play", 128, 128, 8000),
    DeviceInfo(1, "lift_cap", 128, 128, 8000),
    DeviceInfo(2, "USB Audio: mic (hw:1,0)", 1, 0, 48000),
    DeviceInfo(3, "HDA Intel: speaker (hw:0,0)", 0, 2, 48000, default_output=True),
    DeviceInfo(4, "pulse", 32, 32, 44100, default_input=True),
]


@pytest.mark.parametrize(("spec", "direction", "index"), [
    ("1", "input", 1),
    ("lift_cap", "input", 1),
    ("LIFT_PLAY", "output", 0),  # any case, as chan_console matches
    ("usb audio", "input", 2),  # a part only one device has
    ("default", "input", 4),
    ("default", "output", 3),
    ("pulse", "output", 4),
])
def test_a_device_is_found_by_number_name_part_or_default(spec: str, direction: str,
                                                          index: int) -> None:
    assert find_device(spec, direction, DEVICES).index == index  # type: ignore[arg-type]


def test_a_missing_device_names_the_devices_that_exist() -> None:
    with pytest.raises(DeviceNotFound) as caught:
        find_device("lift_mic", "input", DEVICES)
    assert str(caught.value) == (
        "no input device 'lift_mic'; devices: 0 'lift_play', 1 'lift_cap', "
        "2 'USB Audio: mic (hw:1,0)', 3 'HDA Intel: speaker (hw:0,0)', 4 'pulse'")


def test_a_device_without_channels_that_way_is_not_taken() -> None:
    with pytest.raises(DeviceNotFound, match="no output device 'usb audio'"):
        find_device("usb audio", "output", DEVICES)
    with pytest.raises(DeviceNotFound, match="no input device '3'"):
        find_device("3", "input", DEVICES)


def test_a_part_several_names_share_is_refused() -> None:
    with pytest.raises(DeviceNotFound, match="matches several: 'lift_play', 'lift_cap'"):
        find_device("lift", "output", DEVICES)


def test_without_any_device_the_message_says_so() -> None:
    with pytest.raises(DeviceNotFound, match="there are no sound devices"):
        find_device("default", "input", [])
