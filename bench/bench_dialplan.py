"""Dialplan lookup speed on a 10 000-extension context (literals and patterns)."""

from __future__ import annotations

import random
import time

from dialplan.context import Context, Priority
from dialplan.plan import Dialplan

LITERALS = 9_000
PATTERNS = 1_000
LOOKUPS = 20_000


def _build() -> Dialplan:
    context = Context("big")
    for number in range(LITERALS):
        context.extension(str(100000 + number)).add(Priority(1, "NoOp", ""))
    for number in range(PATTERNS):
        # _NNNXXXX-style patterns with distinct literal prefixes, like a routing table
        context.extension(f"_9{number:03d}XXXX").add(Priority(1, "Dial", "IAX2/trunk/${EXTEN}"))
    return Dialplan({"big": context})


def _rate(plan: Dialplan, numbers: list[str], lookup: str) -> float:
    start = time.perf_counter()
    if lookup == "exists":
        for number in numbers:
            plan.exists("big", number)
    else:
        for number in numbers:
            plan.dp_status("big", number)
    return len(numbers) / (time.perf_counter() - start)


def run() -> list[str]:
    rng = random.Random(7)
    plan = _build()
    literal_hits = [str(100000 + rng.randrange(LITERALS)) for _ in range(LOOKUPS)]
    pattern_hits = [f"9{rng.randrange(PATTERNS):03d}{rng.randrange(10_000):04d}" for _ in range(LOOKUPS)]
    misses = [f"5{rng.randrange(10**6):06d}" for _ in range(LOOKUPS // 10)]
    return [
        f"dialplan: {LITERALS + PATTERNS} extensions, literal match: {_rate(plan, literal_hits, 'exists'):,.0f} lookups/s",
        f"dialplan: {LITERALS + PATTERNS} extensions, pattern match: {_rate(plan, pattern_hits, 'exists'):,.0f} lookups/s",
        f"dialplan: {LITERALS + PATTERNS} extensions, no match: {_rate(plan, misses, 'exists'):,.0f} lookups/s",
        f"dialplan: {LITERALS + PATTERNS} extensions, DPREQ status: {_rate(plan, pattern_hits[:2000], 'dp_status'):,.0f} lookups/s",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
