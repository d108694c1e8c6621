"""Outgoing timestamps and incoming timestamp unwrapping (reference iax2.md §2.5, §1.3).

Asterisk's ``calc_timestamp`` rules, reproduced:
- the origin is the time of the first frame, rounded down to a multiple of 20 ms;
- IAX ("genuine") frames use the clock, but never repeat or go back: ``lastsent + 3``;
- CONTROL/DTMF/TEXT use ``lastsent + 3`` while the clock is within 160 ms of it, so they
  sort right after the media they relate to;
- voice follows a prediction (previous stamp + frame duration) while the clock stays within
  160 ms of it, nudging the origin by a tenth of the error, so mini frames tick in exact
  frame steps even when the sender's scheduling jitters.

Sans-IO: every method takes ``now`` in seconds.
"""

from __future__ import annotations

import math

__all__ = [
    "MAX_TIMESTAMP_SKEW_MS",
    "TxTimestamps",
    "unwrap_timestamp",
]

ORIGIN_ROUNDING_MS = 20
MAX_TIMESTAMP_SKEW_MS = 160
# Same as Asterisk's unwrap_timestamp: a 16-bit mini stamp that appears to jump by more
# than this is taken to have crossed a 65 536 ms boundary.
UNWRAP_THRESHOLD_MS = 50_000
_U32 = 0xFFFFFFFF


def _ms(now: float) -> float:
    return now * 1000.0


class TxTimestamps:
    """The sending side of one call's timestamp clock."""

    def __init__(self) -> None:
        self._origin_ms: float | None = None
        self.lastsent = 0
        self._nextpred: int | None = None

    def _elapsed(self, now: float) -> int:
        if self._origin_ms is None:
            self._origin_ms = float(math.floor(_ms(now) / ORIGIN_ROUNDING_MS) * ORIGIN_ROUNDING_MS)
        # The epsilon keeps 2.0 s from flooring to 1999 ms through binary rounding.
        return max(0, math.floor(_ms(now) - self._origin_ms + 1e-6))

    def elapsed_ms(self, now: float) -> int:
        """Milliseconds since the origin: what an echoed timestamp is compared against."""
        return self._elapsed(now)

    def _commit(self, ms: int) -> int:
        self.lastsent = ms & _U32
        return self.lastsent

    def genuine(self, now: float) -> int:
        """Timestamp for an IAX frame: the clock, strictly after the last one sent."""
        ms = self._elapsed(now)
        if ms <= self.lastsent:
            ms = self.lastsent + 3
        return self._commit(ms)

    def control(self, now: float) -> int:
        """Timestamp for CONTROL, DTMF and TEXT frames."""
        ms = self._elapsed(now)
        if abs(ms - self.lastsent) <= MAX_TIMESTAMP_SKEW_MS or ms <= self.lastsent:
            ms = self.lastsent + 3
        return self._commit(ms)

    def voice(self, now: float, samples: int, rate_hz: int = 8000) -> int:
        """Timestamp for a voice frame carrying ``samples`` samples at ``rate_hz``."""
        ms = self._elapsed(now)
        frame_ms = max(1, samples * 1000 // rate_hz)
        predicted = self._nextpred
        if predicted is not None and abs(ms - predicted) <= MAX_TIMESTAMP_SKEW_MS:
            # Drift the origin a tenth of the way towards the clock, then trust the prediction.
            assert self._origin_ms is not None
            self._origin_ms += (ms - predicted) / 10.0
            ms = predicted
        else:
            # Restart prediction on a whole frame boundary.
            ms = -(-ms // frame_ms) * frame_ms
        if predicted is not None and ms < predicted - frame_ms:
            ms = predicted  # never let voice run backwards within one stream
        self._nextpred = ms + frame_ms
        return self._commit(ms)

    def delivered(self, ms: int, samples: int, rate_hz: int = 8000) -> int:
        """Timestamp for voice that carries a delivery time (audio relayed from another
        leg): used as given, and the prediction continues from it."""
        self._nextpred = ms + max(1, samples * 1000 // rate_hz)
        return self._commit(ms)

    @property
    def origin_ms(self) -> float | None:
        """The clock reading (ms) that timestamp 0 stands for; None before the first frame."""
        return self._origin_ms


def unwrap_timestamp(last: int, ts16: int, threshold: int = UNWRAP_THRESHOLD_MS) -> int:
    """Rebuild a 32-bit timestamp from the low 16 bits of a mini or trunk frame.

    ``last`` is the highest full timestamp seen on the call. A result that falls more than
    ``threshold`` ms behind it has crossed into the next 65 536 ms block; one that runs more
    than ``threshold`` ahead belongs to the previous block (a late frame across the wrap).
    """
    ts = (last & 0xFFFF0000) | (ts16 & 0xFFFF)
    if last - ts > threshold:
        ts += 0x10000
    elif ts - last > threshold and ts >= 0x10000:
        ts -= 0x10000
    return ts & _U32
