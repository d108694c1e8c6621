"""The words that tell a desk where an alarm comes from.

``location`` in console.conf is either the name of a sound file (looked up like any
prompt) or words. Words are spoken once by espeak-ng into the node's state folder and the
file is kept: the same words are never spoken twice, and a box that lost espeak-ng keeps the
prompt it made. Without a prompt the box still sends the location as TEXT and in the
caller ID name.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
from collections.abc import Sequence
from pathlib import Path

import trio

from pbxedge.media.sounds import sound_files
from pbxedge.prompts import speak_to_file

__all__ = ["LocationPrompt"]

logger = logging.getLogger("pbxedge.phonebox")


class LocationPrompt:
    def __init__(self, location: str, cache_dir: Path, sound_dirs: Sequence[Path],
                 language: str = "en") -> None:
        self.text = location
        self._cache_dir = cache_dir
        self._sound_dirs = sound_dirs
        self._language = language
        self.sound: str | None = None  # a name find_sound resolves, once there is one
        if location and sound_files(location, language, sound_dirs):
            self.sound = location

    @property
    def cached(self) -> Path:
        digest = hashlib.sha256(self.text.encode()).hexdigest()[:16]
        return self._cache_dir / f"location-{digest}.wav"

    async def prepare(self) -> None:
        """Make sure the spoken prompt exists (speaking it the first time)."""
        if self.sound is not None or not self.text:
            return
        path = self.cached
        if not path.is_file():
            try:
                await trio.to_thread.run_sync(speak_to_file, self.text, path)
            except (OSError, subprocess.SubprocessError) as exc:
                logger.warning("cannot speak the location '%s' (espeak-ng): %s; the desk "
                               "gets it as text only", self.text, exc)
                return
            logger.info("location '%s' spoken into %s", self.text, path)
        self.sound = str(path.with_suffix(""))
