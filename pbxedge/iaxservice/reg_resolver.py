"""Name resolution for ``register =>`` servers and static peer hosts (iax2.md §6.1).

Asterisk resolves once through dnsmgr and re-resolves every 300 s; pbxedge resolves before
every registration attempt (§10 row 3), so a moved server is found on the next try. With
``srvlookup=yes`` the ``_iax._udp.<host>`` SRV records come first (dnspython, run on trio);
when there are none, or no resolver answers, the A/AAAA records of the host itself are used.
An IP literal never touches DNS.
"""

from __future__ import annotations

import ipaddress
import socket

import dns.asyncresolver
import dns.exception
import dns.rdtypes.IN.SRV
import trio

__all__ = ["Address", "ip_literal", "resolve"]

Address = tuple[str, int]

# One SRV query must not hold up a registration attempt for long: the attempt is retried
# (with a fresh lookup) anyway, and the A/AAAA fallback still has to run after it.
_SRV_LIFETIME = 3.0


def ip_literal(host: str, port: int) -> Address | None:
    """``(ip, port)`` when *host* is an IPv4/IPv6 literal (``[::1]`` allowed), else None."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return str(ip), port


async def resolve(host: str, port: int, *, srv: bool,
                  resolver: dns.asyncresolver.Resolver | None = None) -> list[Address]:
    """Every address to try for *host*, best first; empty when nothing resolves.

    *resolver* defaults to the system's (``/etc/resolv.conf``); tests pass one of their own.
    """
    literal = ip_literal(host, port)
    if literal is not None:
        return [literal]
    if srv:
        targets = await _srv_targets(host, resolver or dns.asyncresolver.get_default_resolver())
        found: list[Address] = []
        for target, target_port in targets:
            for addr in await _addresses(target, target_port):
                if addr not in found:
                    found.append(addr)
        if found:
            return found
    return await _addresses(host, port)


async def _srv_targets(host: str, resolver: dns.asyncresolver.Resolver) -> list[Address]:
    """(target, port) of ``_iax._udp.<host>`` by priority then weight; empty on any failure."""
    try:
        answer = await resolver.resolve(
            f"_iax._udp.{host}", "SRV", lifetime=_SRV_LIFETIME, raise_on_no_answer=False
        )
    except (dns.exception.DNSException, OSError):
        return []
    records = [r for r in answer if isinstance(r, dns.rdtypes.IN.SRV.SRV)]
    records.sort(key=lambda r: (r.priority, -r.weight))
    # A single "." target means "this service is not offered here" (RFC 2782).
    return [(r.target.to_text(omit_final_dot=True), r.port) for r in records if r.target.labels != (b"",)]


async def _addresses(host: str, port: int) -> list[Address]:
    try:
        infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError):
        return []
    found: list[Address] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        addr = (str(sockaddr[0]), int(sockaddr[1]))
        if addr not in found:
            found.append(addr)
    return found
