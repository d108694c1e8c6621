"""A phone's device threads on ALSA file devices: paced to real time, nothing lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pbxedge.audio import devices
from pbxedge.audio.stream import PREFILL_BLOCKS, DeviceStream
from tests.phones.soundcards import (
    RATE,
    FilePhone,
    alsa_env,
    needs_portaudio,
    read_raw,
    tone_bursts,
    write_alsa_config,
    write_raw,
)

pytestmark = needs_portaudio
BLOCK = RATE // 50


@pytest.fixture
def phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FilePhone]:
    phone = FilePhone("t", tmp_path / "in.raw", tmp_path / "play.raw")
    config = write_alsa_config(tmp_path / "asound.conf", [phone])
    for name, value in alsa_env(config).items():
        monkeypatch.setenv(name, value)
    assert devices.rescan()
    yield phone
    monkeypatch.undo()
    devices.rescan()


def test_file_devices_are_read_and_written_in_real_time(phone: FilePhone) -> None:
    signal = tone_bursts(10.0)
    write_raw(phone.infile, signal)
    found = devices.list_devices()
    captured: list[np.ndarray] = []
    sent = tone_bursts(10.0, seed=2)
    position = 0
    failures: list[str] = []
    lock = threading.Lock()

    def fill(count: int) -> np.ndarray:
        nonlocal position
        with lock:
            block = sent[position: position + count]
            position += count
        return block

    stream = DeviceStream(devices.find_device(phone.input_device, "input", found),
                          devices.find_device(phone.output_device, "output", found),
                          RATE, BLOCK, on_capture=captured.append, fill=fill,
                          on_failure=failures.append)
    stream.open()
    started = time.monotonic()
    stream.start()
    time.sleep(1.0)
    stream.close()
    elapsed = time.monotonic() - started
    assert failures == []
    # Paced: about one block per 20 ms, not the whole file at once.
    assert abs(len(captured) - elapsed * 50) <= 3
    assert stream.stats.paced_input >= len(captured) - 2
    heard = np.concatenate(captured)
    assert np.array_equal(heard, signal[: len(heard)])
    played = read_raw(phone.outfile)
    assert not played[: PREFILL_BLOCKS * BLOCK].any()  # the silence a card starts with
    assert np.array_equal(played[PREFILL_BLOCKS * BLOCK:], sent[: len(played) - PREFILL_BLOCKS * BLOCK])
    assert abs(len(played) / BLOCK - PREFILL_BLOCKS - elapsed * 50) <= 3
