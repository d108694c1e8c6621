from __future__ import annotations

import os
from collections import Counter

import pytest

from pbxedge.randomness import BufferedSystemRandom


def test_draws_fill_their_ranges() -> None:
    rng = BufferedSystemRandom()
    assert {rng.getrandbits(1) for _ in range(200)} == {0, 1}
    assert all(0 <= rng.getrandbits(k) < 1 << k for k in range(1, 130) for _ in range(20))
    assert rng.getrandbits(0) == 0
    assert all(0.0 <= rng.random() < 1.0 for _ in range(2000))
    # randrange/randint come from getrandbits: every value of a small range turns up
    # about equally often.
    counts = Counter(rng.randrange(10) for _ in range(20000))
    assert set(counts) == set(range(10))
    assert min(counts.values()) > 1600
    # A 32-bit draw's top bit is not stuck (the shift is right).
    assert any(rng.getrandbits(32) >> 31 for _ in range(100))
    # The bounded draw under randrange/randint/choice: an empty range is refused, not a hang.
    assert {rng.randint(1, 3) for _ in range(200)} == {1, 2, 3}
    with pytest.raises(ValueError):
        rng._randbelow(0)


def test_bytes_span_refills_and_do_not_repeat() -> None:
    rng = BufferedSystemRandom()
    chunks = [rng.randbytes(100) for _ in range(100)]  # crosses the 4 KiB page twice
    assert all(len(chunk) == 100 for chunk in chunks)
    assert len(set(chunks)) == 100
    assert len(rng.randbytes(10000)) == 10000


def test_no_seed_no_state() -> None:
    rng = BufferedSystemRandom()
    rng.seed(1)
    first = rng.getrandbits(64)
    rng.seed(1)
    assert rng.getrandbits(64) != first
    with pytest.raises(NotImplementedError):
        rng.getstate()
    with pytest.raises(NotImplementedError):
        rng.setstate(None)


def test_forked_child_does_not_repeat_the_parent() -> None:
    rng = BufferedSystemRandom()
    rng.getrandbits(8)  # the page is read
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, rng.randbytes(16))
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 16)
    os.close(read)
    os.close(write)
    assert child != rng.randbytes(16)
