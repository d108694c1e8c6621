"""Tone sources for Playtones, Milliwatt and WaitExten's dial tone.

A name is looked up in the channel's tone zone (``CHANNEL(tonezone)``, else the default
country of ``indications.conf``); anything else is taken as a tone list such as
``440+480/2000,0/4000``.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

from dialplan.call import Call
from dialplan.channel import PcmSource
from pbxedge.media.tones import DEFAULT_VOLUME, ToneGenerator, ToneListError

__all__ = ["milliwatt_pattern", "tone_source"]

# app_milliwatt option o: the µ-law cycle 1e 0b 0b 1e 9e 8b 8b 9e, as the samples it decodes to.
_MILLIWATT_CYCLE = (-8828, -20860, -20860, -8828, 8828, 20860, 20860, 8828)


def tone_source(call: Call, spec: str, volume: int | None = None) -> PcmSource | None:
    """A generator for a zone's tone *spec* or a tone list; None when it is neither."""
    indications = call.services.indications
    if indications is not None:
        zone = indications.zone(call.tonezone)
        named = zone.tone(spec) if zone is not None else None
        if named is not None:
            spec = named
    try:
        return ToneGenerator(spec, volume if volume is not None else DEFAULT_VOLUME)
    except ToneListError:
        return None


class _Pattern:
    def __init__(self, cycle: tuple[int, ...]) -> None:
        self._samples = itertools.cycle(cycle)

    def read(self, samples: int) -> NDArray[np.int16]:
        return np.fromiter(itertools.islice(self._samples, samples), dtype=np.int16, count=samples)


def milliwatt_pattern() -> PcmSource:
    return _Pattern(_MILLIWATT_CYCLE)
