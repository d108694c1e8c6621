"""Host access control lists with Asterisk's ``permit=``/``deny=`` semantics (``main/acl.c``).

Rules are tried in the order written and **every** rule is tried: the last one whose
network contains the address decides; with no match the address is permitted. So the
usual ``deny=0.0.0.0/0.0.0.0`` then ``permit=10.0.0.0/8`` admits only 10/8.

As in ``ast_apply_ha``, an IPv4 address is compared with IPv6 rules in its IPv4-mapped
form (``::ffff:a.b.c.d``), and an IPv6 address meets IPv4 rules only if it is IPv4-mapped.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

__all__ = ["Acl", "AclRule", "AclSyntaxError", "IPNetwork", "parse_network"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ACCEPTED_FORMS = "ip, ip/prefix or ip/netmask (IPv4 or IPv6), optionally prefixed by '!'"


class AclSyntaxError(ValueError):
    """A rule that is not an address, a network or a comma list of them."""


@dataclass(frozen=True, slots=True)
class AclRule:
    network: IPNetwork
    permit: bool


def parse_network(text: str) -> IPNetwork:
    """``ip``, ``ip/prefix`` or ``ip/dotted.netmask``; host bits are masked off like Asterisk."""
    spec = text.strip()
    if spec.startswith("[") and "]" in spec:
        # Bracketed IPv6, as written in Asterisk address strings: [2001:db8::]/32
        closing = spec.index("]")
        spec = spec[1:closing] + spec[closing + 1 :]
    try:
        return ipaddress.ip_network(spec, strict=False)
    except ValueError:
        raise AclSyntaxError(f"'{text.strip()}' is not {ACCEPTED_FORMS}") from None


class Acl:
    """An ordered, immutable list of permit/deny rules."""

    __slots__ = ("_rules",)

    def __init__(self, rules: tuple[AclRule, ...] = ()) -> None:
        self._rules = rules

    @property
    def rules(self) -> tuple[AclRule, ...]:
        return self._rules

    @property
    def is_set(self) -> bool:
        """True when at least one rule was configured."""
        return bool(self._rules)

    def extended(self, spec: str, *, permit: bool) -> Acl:
        """A copy with the rules of one ``permit=``/``deny=`` value appended.

        The value may be a comma list, and each item may start with ``!`` to invert it.
        Raises :class:`AclSyntaxError` without changing anything if any item is bad.
        """
        return Acl(self._rules + _parse_rules(spec, permit))

    def permits(self, ip: str) -> bool:
        """Whether *ip* is allowed; an unparsable address is never allowed."""
        address = _address(ip)
        if address is None:
            return False
        allowed = True
        for rule in self._rules:
            candidate = _comparable(address, rule.network)
            if candidate is not None and candidate in rule.network:
                allowed = rule.permit
        return allowed

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Acl) and other._rules == self._rules

    def __hash__(self) -> int:
        return hash(self._rules)

    def __repr__(self) -> str:
        parts = [f"{'permit' if r.permit else 'deny'}={r.network}" for r in self._rules]
        return f"Acl({', '.join(parts)})"


# Every call and registration asks about its source address: parsed once per address.
@functools.lru_cache(maxsize=4096)
def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(ip.strip().strip("[]"))
    except ValueError:
        return None


# Templates make thousands of entries repeat the same permit=/deny= text; parsing each
# distinct value once keeps large configs fast. Rules are immutable, so sharing is safe.
@functools.lru_cache(maxsize=1024)
def _parse_rules(spec: str, permit: bool) -> tuple[AclRule, ...]:
    added: list[AclRule] = []
    for item in spec.split(","):
        text = item.strip()
        sense = permit
        if text.startswith("!"):
            sense = not permit
            text = text[1:]
        added.append(AclRule(parse_network(text), sense))
    return tuple(added)


def _comparable(address: _IPAddress, network: IPNetwork) -> _IPAddress | None:
    if address.version == network.version:
        return address
    if isinstance(address, ipaddress.IPv4Address):
        return ipaddress.IPv6Address(f"::ffff:{address}")
    return address.ipv4_mapped
