"""Frames from a device thread to trio: bounded, and the thread never waits.

:meth:`Handoff.put` runs on the device thread: when trio has fallen behind and the queue is
full, the frame is dropped and counted (a stalled node loses audio, it does not stall the
sound card). At most one wake-up is pending in trio at a time, so the thread's work per
frame is an append and, now and then, one ``run_sync_soon``.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from typing import Generic, TypeVar

import trio

__all__ = ["Handoff"]

T = TypeVar("T")


class Handoff(Generic[T]):
    def __init__(self, limit: int, token: trio.lowlevel.TrioToken) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self._limit = limit
        self._token = token
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._wake_pending = False
        self._ready = trio.Event()
        self.dropped = 0

    def put(self, item: T) -> bool:
        """From any thread; False when the queue was full and *item* was dropped."""
        with self._lock:
            if len(self._items) >= self._limit:
                self.dropped += 1
                return False
            self._items.append(item)
            if self._wake_pending:
                return True
            self._wake_pending = True
        with contextlib.suppress(trio.RunFinishedError):  # stopping: nobody reads it
            self._token.run_sync_soon(self._wake)
        return True

    def _wake(self) -> None:
        with self._lock:
            self._wake_pending = False
        self._ready.set()

    async def get_all(self) -> list[T]:
        """In trio: every queued item, oldest first, waiting for one if there is none."""
        while True:
            with self._lock:
                if self._items:
                    items = list(self._items)
                    self._items.clear()
                    return items
                if self._ready.is_set():
                    self._ready = trio.Event()
            await self._ready.wait()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
