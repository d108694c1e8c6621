"""The node's source of unpredictable numbers (call numbers, MD5 challenges, keys).

``random.SystemRandom`` asks the kernel for four bytes per draw, one ``getrandom`` system
call each, several times per registration and call. This reads the same kernel source a
page at a time and hands it out: the numbers are as unpredictable, at a tenth of the cost.
"""

from __future__ import annotations

import os
import random
import weakref
from typing import Any, NoReturn

__all__ = ["BufferedSystemRandom"]

_CHUNK = 4096
_BPF = 53  # bits in a float's mantissa, as random.random() uses
_RECIP_BPF = 2.0**-_BPF

# Every live source, so a forked child can drop what its parent read ahead (asking for the
# process id on each draw instead would cost a system call per draw).
_SOURCES: weakref.WeakSet[BufferedSystemRandom] = weakref.WeakSet()


def _forget_in_child() -> None:
    for source in _SOURCES:
        source._pool, source._pos = b"", 0


os.register_at_fork(after_in_child=_forget_in_child)


class BufferedSystemRandom(random.Random):
    """``random.SystemRandom`` with the kernel's bytes read ahead; no seed, no state.

    For one thread: two threads drawing at once could be handed the same bytes. The node
    draws from it in its trio thread only.
    """

    def __init__(self) -> None:
        self._pool = b""
        self._pos = 0
        _SOURCES.add(self)
        super().__init__()

    def seed(self, *args: Any, **kwargs: Any) -> None:
        return None  # like SystemRandom: there is nothing to seed

    def _take(self, n: int) -> bytes:
        pos = self._pos
        if pos + n > len(self._pool):
            self._pool = os.urandom(max(_CHUNK, n))
            pos = 0
        self._pos = pos + n
        return self._pool[pos:pos + n]

    def getrandbits(self, k: int) -> int:
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        if k == 0:
            return 0
        size = (k + 7) // 8
        return int.from_bytes(self._take(size), "big") >> (size * 8 - k)

    def _randbelow(self, n: int) -> int:
        # What randrange, randint and choice draw from, without a method call per try.
        if n <= 0:
            raise ValueError("empty range")  # rather than loop for ever
        k = n.bit_length()
        size = (k + 7) // 8
        shift = size * 8 - k
        while True:
            value = int.from_bytes(self._take(size), "big") >> shift
            if value < n:
                return value

    def random(self) -> float:
        return (int.from_bytes(self._take(7), "big") >> 3) * _RECIP_BPF

    def randbytes(self, n: int) -> bytes:
        return self._take(n)

    def getstate(self) -> NoReturn:
        raise NotImplementedError("a system random source has no state")

    def setstate(self, state: Any) -> NoReturn:
        raise NotImplementedError("a system random source has no state")
