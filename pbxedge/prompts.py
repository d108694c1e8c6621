"""The English core prompts, spoken by espeak-ng at install time (``make sounds``).

Nothing is downloaded: each prompt is a short text given to ``espeak-ng`` (a Debian
package), resampled to 8 kHz and written as an Asterisk ``.wav``; ``beep`` is a 1 kHz tone.
The same espeak-ng version gives the same files, and the list below is the whole set:
digits and number words for SayDigits/SayNumber, and every prompt the sample dialplan plays;
two short tunes from the tone generator serve as the default music on hold.

    python -m pbxedge.prompts [DIR]      # default: the package's own sounds/ folder
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import wave
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import soxr

from pbxedge.media.fileformats import SoundWriter
from pbxedge.media.tones import ToneGenerator
from pbxedge.paths import PACKAGE_SOUNDS

__all__ = ["PROMPTS", "generate", "speak_to_file"]

_NUMBERS = {
    0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
    8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen",
    14: "fourteen", 15: "fifteen", 16: "sixteen", 17: "seventeen", 18: "eighteen",
    19: "nineteen", 20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty",
    70: "seventy", 80: "eighty", 90: "ninety",
}

PROMPTS: dict[str, str] = {
    **{f"digits/{n}": word for n, word in _NUMBERS.items()},
    "digits/hundred": "hundred",
    "digits/thousand": "thousand",
    "digits/million": "million",
    "digits/billion": "billion",
    "digits/minus": "minus",
    "digits/star": "star",
    "digits/pound": "pound",
    "hello-world": "Hello world.",
    "demo-congrats": "Congratulations. You have reached a pbx edge node.",
    "demo-instruct": "Press 1 for the echo test, 2 to hear your number, "
                     "3 to record yourself and hear it back, or 0 for the operator.",
    "demo-record": "After the beep, say something. Press the pound key when you are done.",
    "demo-youhave": "You said.",
    "office-closed-tonight": "Our office is closed now. Please call again tomorrow.",
    "office-closed-weekend": "Our office is closed for the weekend. Please call again on Monday.",
    "demo-echotest": "This is the echo test. What you say is played back to you. "
                     "Press the pound key when you are done.",
    "demo-echodone": "The echo test is done.",
    "demo-thanks": "Thank you for trying pbx edge. Goodbye.",
    "please-try-again": "Please try again.",
    "invalid": "That is not a valid choice.",
    "pbx-invalid": "I am sorry, that is not a valid extension. Please try again.",
    "vm-goodbye": "Goodbye.",
    "goodbye": "Goodbye.",
    "pls-hold-while-try": "Please hold while I try that extension.",
    "one-moment-please": "One moment please.",
    "please-try-call-later": "Please try your call again later.",
    "vm-nobodyavail": "Nobody is available to take your call.",
    "auth-thankyou": "Thank you.",
    "queue-thankyou": "Thank you for your patience.",
    "im-sorry": "I am sorry.",
    "ss-noservice": "The number you have dialed is not in service.",
    "vm-enter-num-to-call": "Please enter the number you wish to call.",
    "connecting": "Your call is being connected.",
    "help-is-on-the-way": "Your call has been answered. Help is on the way.",
    # What a phone box says to the desk it calls.
    "alarm-intro": "This is an emergency call from a lift alarm.",
    "alarm-location-is": "The alarm comes from",
    "alarm-press-to-ack": "To acknowledge the alarm, press",
    "alarm-acknowledged": "The alarm is acknowledged. You are connected to the lift.",
    "alarm-not-acked": "The alarm was not acknowledged. The next number is being called.",
}


def _speak(text: str) -> np.ndarray:
    """espeak-ng's voice (22 050 Hz) resampled to 8 kHz, 16-bit."""
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "--stdout", text],
                         check=True, capture_output=True, timeout=60).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    out: np.ndarray = soxr.resample(pcm.astype(np.float32), rate, 8000)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def speak_to_file(text: str, path: Path) -> None:
    """Speak *text* into the sound file *path* (an Asterisk ``.wav``, 8 kHz)."""
    _write(path, _speak(text))


def _write(path: Path, pcm: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with SoundWriter(path) as sound:
        sound.write(pcm.astype(">i2").tobytes())  # wire convention: slin big-endian


def _beep() -> np.ndarray:
    t = np.arange(2000) / 8000.0
    return np.round(np.sin(2 * np.pi * 1000 * t) * 8000).astype(np.int16)


# Music on hold: two short tunes (MIDI notes) for the sample musiconhold.conf's moh folder.
MOH_TUNES = {
    "moh/tune-a": "M60/300,M64/300,M67/300,M72/600,M67/300,M64/300,M60/600,0/300",
    "moh/tune-b": "M65/300,M69/300,M72/300,M77/600,M72/300,M69/300,M65/600,0/300",
}


def _tune(spec: str, seconds: float = 6.0) -> np.ndarray:
    generator = ToneGenerator(spec, 4000)
    chunks = [generator.read(160) for _ in range(int(seconds * 50))]
    return np.concatenate([c for c in chunks if c is not None])


def generate(folder: Path, language: str = "en") -> int:
    """Write every prompt into ``folder/<language>/`` and the tunes into ``folder/moh``;
    returns how many files were written."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (Debian package espeak-ng)")
    sounds: dict[Path, Callable[[], np.ndarray]] = {
        folder / language / f"{name}.wav": partial(_speak, text) for name, text in PROMPTS.items()}
    sounds[folder / language / "beep.wav"] = _beep
    for name, spec in MOH_TUNES.items():
        sounds[folder / f"{name}.wav"] = partial(_tune, spec)
    for path, make in sounds.items():
        _write(path, make())
    return len(sounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pbxedge.prompts",
                                     description="Generate the English core prompts.")
    parser.add_argument("folder", nargs="?", type=Path, default=PACKAGE_SOUNDS)
    args = parser.parse_args(argv)
    try:
        count = generate(args.folder)
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        print(f"pbxedge.prompts: {exc}", file=sys.stderr)
        return 1
    print(f"{count} prompts written to {args.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
