"""Call-number pools and limits (§3.4)."""

from __future__ import annotations

import ipaddress
import random

from hypothesis import given
from hypothesis import strategies as st

from pbxedge.iax2.callnumbers import NORMAL_RANGE, TRUNK_RANGE, CallNumberPool, LimitKind


def make_pool(**kwargs: object) -> CallNumberPool:
    return CallNumberPool(rng=random.Random(1), **kwargs)  # type: ignore[arg-type]


def test_numbers_come_from_the_right_range_and_are_random() -> None:
    pool = make_pool()
    normal = [pool.allocate("192.0.2.1", 0.0, validated=True) or 0 for _ in range(5)]
    trunk = pool.allocate("192.0.2.1", 0.0, validated=True, trunk=True)
    assert all(n in NORMAL_RANGE for n in normal)
    assert trunk in TRUNK_RANGE
    assert normal != sorted(normal)


def test_per_ip_limit_and_callnumberlimits_override() -> None:
    pool = make_pool(
        maxcallnumbers=2,
        limits=[(ipaddress.ip_network("10.0.0.0/8"), 3), (ipaddress.ip_network("10.1.0.0/16"), 1)],
    )
    assert pool.limit_for("192.0.2.1") == 2
    assert pool.limit_for("10.2.3.4") == 3
    assert pool.limit_for("10.1.3.4") == 1  # the most specific network wins
    assert pool.allocate("192.0.2.1", 0.0, validated=True)
    assert pool.allocate("192.0.2.1", 0.0, validated=True)
    assert pool.allocate("192.0.2.1", 0.0, validated=True) is None
    assert pool.refusal("192.0.2.1", 0.0, validated=True) is LimitKind.PER_IP
    assert pool.allocate("192.0.2.2", 0.0, validated=True)  # another IP is unaffected


def test_uncounted_allocations_do_not_charge_the_ip() -> None:
    pool = make_pool(maxcallnumbers=1)
    assert pool.allocate("192.0.2.1", 0.0, validated=True, counted=False)
    assert pool.allocate("192.0.2.1", 0.0, validated=True, counted=False)
    assert pool.allocate("192.0.2.1", 0.0, validated=True)
    assert pool.usage("192.0.2.1").addresses[0].used == 1


def test_nonvalidated_global_cap() -> None:
    pool = make_pool(max_nonvalidated=2)
    assert pool.allocate("192.0.2.1", 0.0, validated=False)
    assert pool.allocate("192.0.2.2", 0.0, validated=False)
    assert pool.allocate("192.0.2.3", 0.0, validated=False) is None
    assert pool.refusal("192.0.2.3", 0.0, validated=False) is LimitKind.NON_VALIDATED
    assert pool.allocate("192.0.2.3", 0.0, validated=True)


def test_released_numbers_and_counts_are_held_60_s() -> None:
    pool = make_pool(maxcallnumbers=1, max_nonvalidated=1)
    callno = pool.allocate("192.0.2.1", 0.0, validated=False)
    assert callno is not None
    assert pool.release(callno, 10.0)
    assert not pool.release(callno, 10.0)
    assert pool.allocate("192.0.2.1", 69.9, validated=True) is None  # still held
    assert pool.usage(now=69.9).nonvalidated_used == 1
    assert pool.allocate("192.0.2.1", 70.0, validated=False) is not None
    assert pool.held_count(70.0) == 0


def test_usage_report() -> None:
    pool = make_pool()
    pool.allocate("192.0.2.1", 0.0, validated=True)
    pool.allocate("192.0.2.1", 0.0, validated=False, trunk=True)
    usage = pool.usage()
    assert [(u.ip, u.used, u.limit) for u in usage.addresses] == [("192.0.2.1", 2, 2048)]
    assert usage.nonvalidated_used == 1
    assert usage.regular_available == len(NORMAL_RANGE) - 1
    assert usage.trunk_available == len(TRUNK_RANGE) - 1
    assert usage.total_available == usage.regular_available + usage.trunk_available
    assert pool.usage("198.51.100.1").addresses == ()


def test_exhaustion() -> None:
    pool = make_pool(maxcallnumbers=100_000, max_nonvalidated=100_000)
    got = {pool.allocate(None, 0.0, validated=True, trunk=True) for _ in TRUNK_RANGE}
    assert got == set(TRUNK_RANGE)
    assert pool.allocate(None, 0.0, validated=True, trunk=True) is None
    assert pool.refusal(None, 0.0, validated=True, trunk=True) is LimitKind.EXHAUSTED


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 200)), max_size=60))
def test_never_hands_out_a_number_twice(ops: list[tuple[bool, float]]) -> None:
    pool = make_pool(hold_seconds=5.0)
    live: set[int] = set()
    now = 0.0
    for allocate, step in ops:
        now += step
        if allocate or not live:
            callno = pool.allocate("192.0.2.1", now, validated=True)
            assert callno is not None and callno not in live
            live.add(callno)
        else:
            pool.release(live.pop(), now)


def test_a_settled_release_holds_the_number_briefly() -> None:
    pool = make_pool(maxcallnumbers=2, hold_seconds=60.0, settled_hold_seconds=2.0)
    first = pool.allocate("192.0.2.1", 0.0, validated=False)
    second = pool.allocate("192.0.2.1", 0.0, validated=False)
    assert first and second
    pool.release(first, 1.0)
    pool.release(second, 1.0, settled=True)
    assert pool.held_count(1.0) == 2
    # The settled one, and what it counted against its address, are back 2 s later...
    assert pool.held_count(3.0) == 1
    usage = pool.usage(now=3.0)
    assert (usage.addresses[0].used, usage.nonvalidated_used) == (1, 1)
    assert pool.allocate("192.0.2.1", 3.0, validated=True)
    assert pool.allocate("192.0.2.1", 3.0, validated=True) is None
    # ...the other after the minute.
    assert pool.held_count(61.0) == 0
    assert pool.usage(now=61.0).nonvalidated_used == 0


def test_the_settled_hold_is_never_longer_than_the_hold() -> None:
    pool = make_pool(hold_seconds=1.0, settled_hold_seconds=2.0)
    callno = pool.allocate("192.0.2.1", 0.0, validated=True)
    assert callno
    pool.release(callno, 0.0, settled=True)
    assert pool.held_count(1.0) == 0
