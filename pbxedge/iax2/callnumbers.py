"""Call-number pools and the per-IP / non-validated limits (reference iax2.md §3.4, §2.7).

Rules kept from Asterisk:
- two pools, normal 2…16383 and trunk 16384…32767 (0 would read as a meta frame, 1 is the
  source of our stateless replies), numbers drawn at random so they cannot be predicted;
- a per-remote-IP cap (``maxcallnumbers``, overridden per network by ``[callnumberlimits]``);
- a global cap on numbers handed out without a validated call token;
- a freed number, and the per-IP count it held, come back only after ``hold_seconds`` so a
  late retransmission cannot land on a new call.

pbxedge departs on two points (§10 row 2): allocations made with ``counted=False`` — our
own POKEs and registrations — do not count against the remote IP's limit; and a dialog that
ended with the peer's ACK of our final frame (REGACK, REGREJ, HANGUP, REJECT) is *settled*:
the peer has nothing of it left to retransmit, so its number is held only
``settled_hold_seconds``, long enough for a duplicated datagram still on its way. Asterisk
holds every number 60 s, which caps a node at 16 382 dialogs a minute (273 registrations or
calls a second, however fast it is) and an address at ``maxcallnumbers`` a minute. A late
frame of an earlier dialog cannot reach a new call on a reused number either way: the
endpoint also matches the peer's call number, as chan_iax2's ``match()`` does.

Sans-IO: expiry of held numbers is evaluated lazily against the ``now`` passed in.
"""

from __future__ import annotations

import enum
import ipaddress
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "NORMAL_RANGE",
    "TRUNK_RANGE",
    "CallNumberPool",
    "CallNumberUsage",
    "IpUsage",
    "LimitKind",
]

NORMAL_RANGE = range(2, 16384)
TRUNK_RANGE = range(16384, 32768)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_LIMITS_KEPT = 4096  # remembered per-IP limits; past this the memory starts over


class LimitKind(enum.Enum):
    """Why an allocation was refused."""

    PER_IP = "per-ip"
    NON_VALIDATED = "non-validated"
    EXHAUSTED = "exhausted"


@dataclass(frozen=True, slots=True)
class IpUsage:
    ip: str
    used: int
    limit: int


@dataclass(frozen=True, slots=True)
class CallNumberUsage:
    """The data behind ``iax2 show callnumber usage [IP]``."""

    addresses: tuple[IpUsage, ...]
    nonvalidated_limit: int
    nonvalidated_used: int
    total_available: int
    regular_available: int
    trunk_available: int


@dataclass(frozen=True, slots=True)
class _Allocation:
    ip: str | None  # None when the number is not charged to any IP
    validated: bool


_Held = tuple[float, int, _Allocation]  # (when it comes back, the number, what it held)


class CallNumberPool:
    """Hands out 15-bit call numbers under the configured limits."""

    def __init__(
        self,
        *,
        rng: random.Random,
        maxcallnumbers: int = 2048,
        limits: Sequence[tuple[IpNetwork, int]] = (),
        max_nonvalidated: int = 8192,
        hold_seconds: float = 60.0,
        settled_hold_seconds: float = 2.0,
    ) -> None:
        self.set_limits(maxcallnumbers=maxcallnumbers, limits=limits,
                        max_nonvalidated=max_nonvalidated)
        # By `settled`: how long a released number is held.
        self._holds = (hold_seconds, min(settled_hold_seconds, hold_seconds))
        self._rng = rng
        self._free: dict[bool, list[int]] = {False: list(NORMAL_RANGE), True: list(TRUNK_RANGE)}
        self._active: dict[int, _Allocation] = {}
        # One FIFO per hold time: within each, release order is expiry order.
        self._held: tuple[deque[_Held], deque[_Held]] = (deque(), deque())
        self._per_ip: dict[str, int] = {}
        self._limit_of: dict[str, int] = {}  # limit_for's answers: parsing an IP is slow
        self._nonvalidated = 0

    # -- limits -------------------------------------------------------------------------

    def set_limits(
        self,
        *,
        maxcallnumbers: int,
        limits: Sequence[tuple[IpNetwork, int]],
        max_nonvalidated: int,
    ) -> None:
        """Apply new limits (a reload): numbers already given out stay; a limit now below
        an address's usage only refuses that address's next request."""
        self._maxcallnumbers = maxcallnumbers
        # Most specific network first, so the lookup can stop at the first match.
        self._limits = sorted(limits, key=lambda item: item[0].prefixlen, reverse=True)
        self._max_nonvalidated = max_nonvalidated

    def limit_for(self, ip: str) -> int:
        """The per-IP limit for ``ip``: the most specific ``[callnumberlimits]`` entry."""
        limit = self._limit_of.get(ip)
        if limit is None:
            if len(self._limit_of) >= _LIMITS_KEPT:
                self._limit_of.clear()
            limit = self._limit_of[ip] = self._lookup_limit(ip)
        return limit

    def _lookup_limit(self, ip: str) -> int:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return self._maxcallnumbers
        for network, limit in self._limits:
            if address.version == network.version and address in network:
                return limit
        return self._maxcallnumbers

    def refusal(
        self,
        ip: str | None,
        now: float,
        *,
        validated: bool,
        trunk: bool = False,
        counted: bool = True,
    ) -> LimitKind | None:
        """Why ``allocate`` with these arguments would fail now, or None if it would not."""
        self._expire(now)
        if counted and ip is not None and self._per_ip.get(ip, 0) >= self.limit_for(ip):
            return LimitKind.PER_IP
        if not validated and self._nonvalidated >= self._max_nonvalidated:
            return LimitKind.NON_VALIDATED
        if not self._free[trunk]:
            return LimitKind.EXHAUSTED
        return None

    # -- allocation ---------------------------------------------------------------------

    def allocate(
        self,
        ip: str | None,
        now: float,
        *,
        validated: bool,
        trunk: bool = False,
        counted: bool = True,
    ) -> int | None:
        """Draw a random free number, or None when a limit forbids it."""
        if self.refusal(ip, now, validated=validated, trunk=trunk, counted=counted) is not None:
            return None
        free = self._free[trunk]
        # Swap-remove a random element: O(1) and unpredictable to remote peers.
        index = self._rng.randrange(len(free))
        free[index], free[-1] = free[-1], free[index]
        callno = free.pop()
        charged_ip = ip if counted else None
        self._active[callno] = _Allocation(charged_ip, validated)
        if charged_ip is not None:
            self._per_ip[charged_ip] = self._per_ip.get(charged_ip, 0) + 1
        if not validated:
            self._nonvalidated += 1
        return callno

    def release(self, callno: int, now: float, *, settled: bool = False) -> bool:
        """Start the hold period of ``callno`` (the short one when the dialog is
        ``settled``); False if it was not allocated."""
        allocation = self._active.pop(callno, None)
        if allocation is None:
            return False
        self._held[settled].append((now + self._holds[settled], callno, allocation))
        return True

    def _expire(self, now: float) -> None:
        for held in self._held:
            while held and held[0][0] <= now:
                _, callno, allocation = held.popleft()
                self._free[callno in TRUNK_RANGE].append(callno)
                if allocation.ip is not None:
                    remaining = self._per_ip[allocation.ip] - 1
                    if remaining:
                        self._per_ip[allocation.ip] = remaining
                    else:
                        del self._per_ip[allocation.ip]
                if not allocation.validated:
                    self._nonvalidated -= 1

    # -- reporting ----------------------------------------------------------------------

    def held_count(self, now: float) -> int:
        self._expire(now)
        return sum(map(len, self._held))

    def usage(self, ip: str | None = None, now: float | None = None) -> CallNumberUsage:
        """Counts for the CLI; ``now`` (when given) first returns expired holds to the pool."""
        if now is not None:
            self._expire(now)
        wanted = sorted(self._per_ip) if ip is None else [ip]
        ips = [i for i in wanted if i in self._per_ip]
        addresses = tuple(IpUsage(i, self._per_ip[i], self.limit_for(i)) for i in ips)
        regular = len(self._free[False])
        trunk = len(self._free[True])
        return CallNumberUsage(
            addresses=addresses,
            nonvalidated_limit=self._max_nonvalidated,
            nonvalidated_used=self._nonvalidated,
            total_available=regular + trunk,
            regular_available=regular,
            trunk_available=trunk,
        )
