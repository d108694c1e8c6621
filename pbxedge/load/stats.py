"""What one call's received audio says about the network: loss, lateness, order, jitter.

:class:`StreamStats` reads voice frames as they arrive (the sender's timestamp and the
local arrival time) and keeps only counters, so a long call costs no memory:

- **loss**: frames expected from the sender's timestamps (highest minus first, in frame
  steps, plus one) minus frames received, as RFC 3550 §A.3 counts it;
- **reordered**: a frame older than one already received; **duplicates**: the same
  timestamp twice (neither counts as received twice);
- **late**: a frame arriving more than ``late_ms`` after the time its timestamp says it
  was due, the due time set by the fastest transit seen so far (a jitter buffer of that
  depth would have dropped it);
- **jitter**: RFC 3550 §6.4.1 (A.8), the smoothed mean deviation of the transit time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["DEFAULT_LATE_MS", "StreamStats", "percentile"]

DEFAULT_LATE_MS = 60.0


@dataclass(slots=True)
class StreamStats:
    frame_ms: int = 20
    late_ms: float = DEFAULT_LATE_MS
    received: int = 0
    duplicates: int = 0
    reordered: int = 0
    late: int = 0
    jitter_ms: float = 0.0
    first_ts: int | None = None
    highest_ts: int = 0
    _last_ts: int | None = None
    _last_transit: float | None = None
    _min_transit: float | None = None
    _recent: tuple[int, ...] = ()  # timestamps of the last frames, to tell duplicates

    def add(self, timestamp: int, arrival_ms: float) -> None:
        """One voice frame stamped *timestamp* (sender's ms) that arrived at *arrival_ms*."""
        if timestamp in self._recent:
            self.duplicates += 1
            return
        self._recent = (*self._recent[-15:], timestamp)
        self.received += 1
        if self.first_ts is None:
            self.first_ts = self.highest_ts = timestamp
        elif timestamp < self.highest_ts:
            self.reordered += 1
            self.first_ts = min(self.first_ts, timestamp)
        else:
            self.highest_ts = timestamp
        transit = arrival_ms - timestamp
        if self._min_transit is None or transit < self._min_transit:
            self._min_transit = transit
        elif transit - self._min_transit > self.late_ms:
            self.late += 1
        if self._last_transit is not None:
            deviation = abs(transit - self._last_transit)
            self.jitter_ms += (deviation - self.jitter_ms) / 16
        self._last_transit = transit

    @property
    def expected(self) -> int:
        if self.first_ts is None:
            return 0
        return (self.highest_ts - self.first_ts) // self.frame_ms + 1

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.received)

    @property
    def loss_pct(self) -> float:
        expected = self.expected
        return 100.0 * self.lost / expected if expected else 0.0


def percentile(values: list[float], pct: float) -> float | None:
    """The *pct* percentile (nearest rank) of *values*, None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[rank]
