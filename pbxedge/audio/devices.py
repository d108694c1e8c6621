"""The sound devices PortAudio offers, and finding one by name or number.

``input_device``/``output_device`` in console.conf name a device as ``console list
available`` shows it: its number, its exact name (any case), a part of its name that only
one device has, or ``default``. A name that matches nothing is an error naming the devices
that exist. ALSA plugin devices all claim 128 channels both ways, so the direction is the
configuration's: a device is only refused for a direction it has no channel for.

PortAudio reads the device list once; :func:`rescan` reads it again, which it can only do
while no stream is open (PortAudio closes every stream when it terminates).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

__all__ = [
    "AudioUnavailable",
    "DeviceInfo",
    "DeviceNotFound",
    "Direction",
    "find_device",
    "list_devices",
    "portaudio",
    "rescan",
]

Direction = Literal["input", "output"]

# Opening, closing and re-reading the list touch PortAudio's global state: one at a time.
LOCK = threading.RLock()
_open_streams = 0


class AudioUnavailable(RuntimeError):
    """PortAudio cannot be loaded (Debian package libportaudio2 missing)."""


class DeviceNotFound(LookupError):
    """No device matches a configured name."""


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: int
    default_input: bool = False
    default_output: bool = False


_module: ModuleType | None = None


def portaudio() -> ModuleType:
    """The ``sounddevice`` module, loaded on first use (loading it starts PortAudio, which
    probes every ALSA device: a node without local phones never pays for it)."""
    global _module
    if _module is None:
        try:
            import sounddevice
        except OSError as exc:  # "PortAudio library not found"
            raise AudioUnavailable(f"{exc} (install the Debian package libportaudio2)") from exc
        _module = sounddevice
    return _module


def list_devices() -> list[DeviceInfo]:
    sd = portaudio()
    with LOCK:
        found: Any = sd.query_devices()
        default_in, default_out = (int(i) for i in sd.default.device)
        try:
            apis: Any = sd.query_hostapis()
            default_in = default_in if default_in >= 0 else int(apis[0]["default_input_device"])
            default_out = (default_out if default_out >= 0
                           else int(apis[0]["default_output_device"]))
        except (IndexError, KeyError, sd.PortAudioError):
            pass
    return [DeviceInfo(int(d["index"]), str(d["name"]), int(d["max_input_channels"]),
                       int(d["max_output_channels"]), int(d["default_samplerate"]),
                       int(d["index"]) == default_in, int(d["index"]) == default_out)
            for d in found]


def _describe(devices: list[DeviceInfo]) -> str:
    if not devices:
        return "there are no sound devices"
    return "devices: " + ", ".join(f"{d.index} '{d.name}'" for d in devices)


def find_device(spec: str, direction: Direction,
                devices: list[DeviceInfo] | None = None) -> DeviceInfo:
    """The device *spec* names for *direction*; :class:`DeviceNotFound` says which exist."""
    devices = list_devices() if devices is None else devices
    usable = [d for d in devices if (d.inputs if direction == "input" else d.outputs) > 0]
    wanted = spec.strip()
    chosen: DeviceInfo | None = None
    if wanted.isdigit():
        chosen = next((d for d in usable if d.index == int(wanted)), None)
    elif wanted.lower() == "default":
        chosen = next((d for d in usable if (d.default_input if direction == "input"
                                             else d.default_output)), None)
        if chosen is None:
            chosen = next((d for d in usable if d.name.lower() == "default"), None)
    else:
        exact = [d for d in usable if d.name.lower() == wanted.lower()]
        partial = [d for d in usable if wanted.lower() in d.name.lower()]
        if exact:
            chosen = exact[0]
        elif len(partial) == 1:
            chosen = partial[0]
        elif partial:
            names = ", ".join(f"'{d.name}'" for d in partial)
            raise DeviceNotFound(f"{direction} device '{wanted}' matches several: {names}")
    if chosen is None:
        raise DeviceNotFound(f"no {direction} device '{wanted}'; {_describe(devices)}")
    return chosen


def stream_opened() -> None:
    global _open_streams
    with LOCK:
        _open_streams += 1


def stream_closed() -> None:
    global _open_streams
    with LOCK:
        _open_streams = max(0, _open_streams - 1)


def rescan() -> bool:
    """Read the device list again (a device plugged in since the start); False when a
    stream is open, which PortAudio would close."""
    sd = portaudio()
    with LOCK:
        if _open_streams:
            return False
        # sounddevice's own pair for re-reading the list (PortAudio has no other way).
        sd._terminate()
        sd._initialize()
    return True
