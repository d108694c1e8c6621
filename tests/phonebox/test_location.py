"""The location prompt: a sound file as named, or words spoken once by espeak-ng."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pbxedge.media.fileformats import read_sound
from pbxedge.paths import PACKAGE_SOUNDS
from pbxedge.phonebox.location import LocationPrompt


async def test_a_sound_file_name_is_used_as_it_is(tmp_path: Path) -> None:
    prompt = LocationPrompt("hello-world", tmp_path, (PACKAGE_SOUNDS,))
    await prompt.prepare()
    assert prompt.sound == "hello-world" and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
async def test_words_are_spoken_once_and_kept(tmp_path: Path) -> None:
    prompt = LocationPrompt("Building A, lift 2", tmp_path / "phonebox", (PACKAGE_SOUNDS,))
    await prompt.prepare()
    spoken = prompt.cached
    assert prompt.sound == str(spoken.with_suffix(""))
    sound = read_sound(spoken)
    assert 0.8 < len(sound.payload) / 2 / 8000 < 4  # a second or two of speech at 8 kHz
    stamp = spoken.stat().st_mtime_ns
    again = LocationPrompt("Building A, lift 2", tmp_path / "phonebox", (PACKAGE_SOUNDS,))
    await again.prepare()
    assert again.sound == prompt.sound and spoken.stat().st_mtime_ns == stamp
    other = LocationPrompt("Building B, lift 1", tmp_path / "phonebox", (PACKAGE_SOUNDS,))
    assert other.cached != spoken


async def test_without_espeak_the_location_goes_as_text_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng to be found
    prompt = LocationPrompt("Building A, lift 2", tmp_path / "phonebox", ())
    await prompt.prepare()
    assert prompt.sound is None
