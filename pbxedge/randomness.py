"""The node's source of unpredictable numbers (call numbers, MD5 challenges, keys).

``random.SystemRandom`` asks the kernel for four bytes per draw, one ``getrandom`` system
call each, several times per registration and call. This reads the same kernel source a
page at a time and hands it out: the numbers are as unpredictable, at a tenth of the cost.
"""

from __future__ import annotations

import os
import random
from typing import Any, NoReturn

__all__ = ["BufferedSystemRandom"]

_CHUNK = 4096
_BPF = 53  # bits in a float's mantissa, as random.random() uses
_RECIP_BPF = 2.0**-_BPF


class BufferedSystemRandom(random.Random):
    """``random.SystemRandom`` with the kernel's bytes read ahead; no seed, no state.

    For one thread: two threads drawing at once could be handed the same bytes. The node
    draws from it in its trio thread only.
    """

    def __init__(self) -> None:
        self._pool = b""
        self._pos = 0
        self._pid = os.getpid()
        super().__init__()

    def seed(self, *args: Any, **kwargs: Any) -> None:
        return None  # like SystemRandom: there is nothing to seed

    def _take(self, n: int) -> bytes:
        pos = self._pos
        if pos + n > len(self._pool) or self._pid != os.getpid():
            # A forked child must not hand out its parent's numbers.
            self._pid = os.getpid()
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

    def random(self) -> float:
        return (int.from_bytes(self._take(7), "big") >> 3) * _RECIP_BPF

    def randbytes(self, n: int) -> bytes:
        return self._take(n)

    def getstate(self) -> NoReturn:
        raise NotImplementedError("a system random source has no state")

    def setstate(self, state: Any) -> NoReturn:
        raise NotImplementedError("a system random source has no state")
