"""A device thread's own clock: never faster than real time, never in the device's way.

A sound card delivers (and takes) one block per period by its own crystal: a blocking read
returns when the block is there. An ALSA ``file`` or ``null`` PCM has no clock and returns
at once, so a thread that only followed the device would read a whole file in milliseconds
(chan_console floods a call that way). After each block the thread asks :class:`Pacer`
how long to wait:

* a block that came at least half a period before its time means the device has no clock:
  the thread waits for the time, on an absolute schedule so nothing drifts;
* otherwise the device sets the pace and the schedule follows it (no second clock fighting
  the card's; a burst of two blocks from a card with 40 ms periods is merely spread out).
"""

from __future__ import annotations

__all__ = ["Pacer"]


class Pacer:
    def __init__(self, period: float) -> None:
        if period <= 0:
            raise ValueError(f"period must be positive, not {period}")
        self.period = period
        self._next: float | None = None
        self.paced = 0  # blocks the device gave early (how unclocked it is)

    def after_block(self, now: float) -> float:
        """Seconds to wait before the next block, the last one having come at *now*."""
        due = self._next
        if due is not None and now < due - self.period / 2:
            self._next = due + self.period
            self.paced += 1
            return due - now
        self._next = now + self.period
        return 0.0
