"""Frames from a device thread to trio: bounded, and the thread never waits."""

from __future__ import annotations

import threading
import time

import trio

from pbxedge.audio.handoff import Handoff


async def test_a_thread_hands_frames_to_trio_in_order() -> None:
    handoff: Handoff[int] = Handoff(1000, trio.lowlevel.current_trio_token())

    def produce() -> None:
        for n in range(500):
            assert handoff.put(n)
            if n % 50 == 0:
                time.sleep(0.001)

    thread = threading.Thread(target=produce)
    thread.start()
    got: list[int] = []
    with trio.fail_after(10):
        while len(got) < 500:
            got += await handoff.get_all()
    thread.join()
    assert got == list(range(500)) and handoff.dropped == 0


async def test_a_full_queue_drops_and_counts_without_waiting() -> None:
    handoff: Handoff[int] = Handoff(3, trio.lowlevel.current_trio_token())
    started = time.monotonic()
    results = [handoff.put(n) for n in range(10)]  # trio is not reading: it is us
    assert time.monotonic() - started < 0.5
    assert results == [True] * 3 + [False] * 7 and handoff.dropped == 7
    assert await handoff.get_all() == [0, 1, 2]
    assert handoff.put(99)
    assert await handoff.get_all() == [99]


async def test_a_reader_waits_until_something_comes() -> None:
    handoff: Handoff[str] = Handoff(4, trio.lowlevel.current_trio_token())
    async with trio.open_nursery() as nursery:
        got: list[list[str]] = []

        async def read() -> None:
            got.append(await handoff.get_all())

        nursery.start_soon(read)
        await trio.sleep(0.05)
        assert got == []
        threading.Thread(target=handoff.put, args=("block",)).start()
    assert got == [["block"]]
