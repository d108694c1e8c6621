"""Tone generation and jitter buffering per 20 ms frame, on one core."""

from __future__ import annotations

import random
import time

from pbxedge.media.jitterbuffer import JbResult, JitterBuffer
from pbxedge.media.tones import ToneGenerator, milliwatt

_TONE_FRAMES = 5_000
_JB_FRAMES = 50_000


def _tone_rate(label: str, gen: ToneGenerator) -> str:
    start = time.perf_counter()
    for _ in range(_TONE_FRAMES):
        gen.read(160)
    elapsed = time.perf_counter() - start
    rate = _TONE_FRAMES / elapsed
    return f"tones: {label}: {rate:,.0f} frames/s ({rate / 50:,.0f} calls' worth)"


def _jitter_rate() -> str:
    """A 20 ms stream with 0–60 ms jitter and 1 % loss, put and got as a channel would."""
    rng = random.Random(1)
    arrivals = sorted(
        (1000 + 20 * k + rng.randint(0, 60), 20 * (k + 1), k)
        for k in range(_JB_FRAMES)
        if rng.random() >= 0.01
    )
    jb: JitterBuffer[int] = JitterBuffer()
    played = 0
    start = time.perf_counter()
    index = 0
    now = arrivals[0][0]
    end = arrivals[-1][0] + 1000
    while now <= end:
        while index < len(arrivals) and arrivals[index][0] <= now:
            at, ts, item = arrivals[index]
            jb.put(item, ts, at, 20)
            index += 1
        while (result := jb.get(now)).kind is not JbResult.EMPTY:
            played += result.kind is JbResult.OK
        deadline = jb.next_deadline_ms()
        following = arrivals[index][0] if index < len(arrivals) else None
        candidates = [t for t in (deadline, following) if t is not None]
        if not candidates:
            break
        now = min(candidates)
    elapsed = time.perf_counter() - start
    rate = len(arrivals) / elapsed
    return (
        f"jitterbuffer: put+get {rate:,.0f} frames/s ({rate / 50:,.0f} calls' worth; "
        f"{played}/{len(arrivals)} played)"
    )


def run() -> list[str]:
    mw = milliwatt()
    assert isinstance(mw, ToneGenerator)
    return [
        _tone_rate("Milliwatt 1004 Hz", mw),
        _tone_rate("us busy 480+620", ToneGenerator("480+620/500,0/500")),
        _tone_rate("in dial 400*25", ToneGenerator("400*25")),
        _jitter_rate(),
    ]
