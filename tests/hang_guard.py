"""Turning a hang into a failure: for code that must never block (opening a FIFO, reading
a device), so that a regression fails its test instead of stopping the suite."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["fails_instead_of_hanging"]


@contextmanager
def fails_instead_of_hanging(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the main thread after *seconds*; a signal handler that raises
    interrupts a blocking system call such as open() of a FIFO."""

    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
