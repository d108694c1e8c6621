"""Sound devices for tests on a machine without a sound card.

* ALSA ``file`` PCMs in a private config: a phone's capture device reads a raw file
  (S16_LE, 8 kHz, mono) and its playback device appends to another. They have no clock;
  the phone paces them. The same file as both makes an acoustic loop.
* A user-mode PulseAudio server with a null sink: a clocked device (``pulse``), its
  monitor source hearing what the sink plays.

And the signals and measurements the tests use: random tone bursts that no delay can
confuse with themselves, the delay between two recordings, the level of a tone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from pbxedge.media.dsp import ToneDetector

__all__ = [
    "RATE",
    "FilePhone",
    "PulseServer",
    "alsa_env",
    "delay_of",
    "needs_portaudio",
    "needs_pulseaudio",
    "read_raw",
    "tone",
    "tone_bursts",
    "tone_level",
    "write_alsa_config",
    "write_raw",
]

RATE = 8000
Samples = npt.NDArray[np.int16]


def _portaudio_loads() -> bool:
    try:
        import sounddevice  # noqa: F401
    except OSError:
        return False
    return True


needs_portaudio = pytest.mark.skipif(not _portaudio_loads(),
                                     reason="PortAudio (libportaudio2) is not installed")
needs_pulseaudio = pytest.mark.skipif(shutil.which("pulseaudio") is None
                                      or shutil.which("pactl") is None,
                                      reason="pulseaudio and pactl are not installed")


@dataclass(frozen=True)
class FilePhone:
    """A phone's two file devices: ``<name>_cap`` reads *infile*, ``<name>_play`` writes
    *outfile* (the same file closes the acoustic loop)."""

    name: str
    infile: Path
    outfile: Path

    @property
    def input_device(self) -> str:
        return f"{self.name}_cap"

    @property
    def output_device(self) -> str:
        return f"{self.name}_play"


def write_alsa_config(path: Path, phones: list[FilePhone]) -> Path:
    blocks = []
    for phone in phones:
        blocks.append(f"""
pcm.{phone.output_device} {{
    type plug
    slave {{
        pcm {{ type file slave.pcm {{ type null }} file "{phone.outfile}" format "raw" }}
        format S16_LE rate {RATE} channels 1
    }}
}}
pcm.{phone.input_device} {{
    type plug
    slave {{
        pcm {{ type file slave.pcm {{ type null }} file "/dev/null" infile "{phone.infile}"
               format "raw" }}
        format S16_LE rate {RATE} channels 1
    }}
}}
""")
        # PortAudio lists a capture device only if its file can be opened.
        phone.infile.touch()
        phone.outfile.touch()
    path.write_text("".join(blocks))
    return path


def alsa_env(config: Path) -> dict[str, str]:
    """The environment of a node that sees the devices of *config* (and the system's)."""
    return {"ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{config}"}


def write_raw(path: Path, samples: Samples) -> None:
    path.write_bytes(samples.astype("<i2").tobytes())


def read_raw(path: Path) -> Samples:
    return np.frombuffer(path.read_bytes(), dtype="<i2").astype(np.int16)


def tone(freq: float, seconds: float, amplitude: int = 8000) -> Samples:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.rint(np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16)


def tone_bursts(seconds: float, seed: int = 1, burst: float = 0.1,
                amplitude: int = 8000) -> Samples:
    """Back-to-back bursts of random frequencies (300-3000 Hz): no stretch of it looks
    like another, so a delay is found without doubt."""
    rng = np.random.default_rng(seed)
    count = int(seconds / burst)
    freqs = rng.uniform(300, 3000, count)
    n = int(burst * RATE)
    t = np.arange(n) / RATE
    window = np.minimum(1.0, np.minimum(np.arange(n), n - 1 - np.arange(n)) / 40)
    parts = [np.sin(2 * np.pi * f * t) * window for f in freqs]
    return np.rint(np.concatenate(parts) * amplitude).astype(np.int16)


def delay_of(reference: Samples, recorded: Samples) -> tuple[int, float]:
    """Where *recorded* holds *reference* delayed: (lag in samples, correlation 0..1)."""
    a = reference.astype(np.float64)
    b = recorded.astype(np.float64)
    size = 1 << (len(a) + len(b)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    lag = int(np.argmax(corr[: len(b)]))
    segment = b[lag: lag + len(a)]
    ref = a[: len(segment)]
    norm = float(np.sqrt(np.dot(ref, ref) * np.dot(segment, segment))) or 1.0
    return lag, float(np.dot(ref, segment) / norm)


def tone_level(samples: Samples, freq: float) -> float:
    """The tone's level in dBFS over *samples*."""
    return ToneDetector(freq, RATE).level_dbfs(samples)


class PulseServer:
    """``pulseaudio`` in user mode, with a null sink ``pbx_sink`` at 8 kHz mono."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "pulse").mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"HOME": str(self.folder), "XDG_RUNTIME_DIR": str(self.folder / "pulse"),
                "PULSE_SINK": "pbx_sink", "PULSE_SOURCE": "pbx_sink.monitor"}

    def start(self, limit: float = 20.0) -> None:
        self.process = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--use-pid-file=no",
             "--exit-idle-time=-1", "--disallow-exit", "-L", "module-native-protocol-unix",
             "-L", "module-null-sink sink_name=pbx_sink rate=8000 channels=1",
             "-L", "module-always-sink"],
            env={**os.environ, **self.env}, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=(self.folder / "pulse.log").open("ab"))
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"pulseaudio exited: {(self.folder / 'pulse.log').read_text()}")
            ready = subprocess.run(["pactl", "info"], env={**os.environ, **self.env},
                                   capture_output=True, timeout=10, check=False)
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        pytest.fail("pulseaudio did not start")

    def kill(self) -> None:
        """The sound server dies (a sound card unplugged)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
