"""The built-in prompts (`make sounds`): every prompt the sample dialplan plays, and every
file SayDigits/SayNumber need, exist; espeak-ng speaks them the same way every time."""

from __future__ import annotations

import re
from pathlib import Path

from dialplan.say import digit_files, number_files
from pbxedge.media.fileformats import read_sound
from pbxedge.media.formats import Format
from pbxedge.media.sounds import find_sound
from pbxedge.paths import PACKAGE_SOUNDS
from pbxedge.prompts import PROMPTS, _speak

SAMPLE = Path(__file__).resolve().parents[1] / "configs" / "extensions.conf"


def _exists(name: str) -> bool:
    return find_sound(name, "en", (PACKAGE_SOUNDS,), Format.ULAW) is not None


def test_make_sounds_has_run() -> None:
    assert (PACKAGE_SOUNDS / ".generated").exists(), "run `make sounds` (make test does)"


def test_every_prompt_of_the_sample_dialplan_exists() -> None:
    played: set[str] = set()
    for args in re.findall(r"(?:Playback|Background)\(([^)]*)\)", SAMPLE.read_text()):
        for name in args.split(",")[0].split("&"):
            if "$" not in name:
                played.add(name)
    assert {"demo-congrats", "demo-instruct", "office-closed-tonight"} <= played
    assert [name for name in sorted(played) if not _exists(name)] == []


def test_everything_saynumber_and_saydigits_need_exists() -> None:
    needed = {f for n in range(-1000, 1000) for f in number_files(n)}
    needed |= set(number_files(1_234_567_890)) | set(digit_files("0123456789*#-"))
    assert [name for name in sorted(needed) if not _exists(name)] == []
    assert _exists("beep") and (PACKAGE_SOUNDS / "moh" / "tune-a.wav").exists()


def test_prompts_are_8_khz_speech() -> None:
    sound = read_sound(PACKAGE_SOUNDS / "en" / "digits" / "7.wav")
    assert sound.format is Format.SLIN and 0.3 < sound.samples / 8000 < 2.0
    assert set(PROMPTS) <= {p.relative_to(PACKAGE_SOUNDS / "en").with_suffix("").as_posix()
                            for p in (PACKAGE_SOUNDS / "en").rglob("*.wav")}


def test_speaking_is_reproducible() -> None:
    assert _speak("seven").tobytes() == _speak("seven").tobytes()
