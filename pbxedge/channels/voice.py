"""A frame of audio as channels pass it around."""

from __future__ import annotations

from dataclasses import dataclass

from pbxedge.media.formats import Format

__all__ = ["VoiceFrame"]


@dataclass(frozen=True, slots=True)
class VoiceFrame:
    fmt: Format
    payload: bytes
    samples: int
    timestamp: int | None = None  # the sender's stamp (ms), when the frame came off a wire
