"""``srvlookup=yes``: SRV first, A/AAAA as the fallback, against a DNS server on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dns.asyncresolver
import dns.message
import dns.rcode
import dns.rrset
import pytest

from pbxedge.iaxservice.reg_resolver import resolve

# _iax._udp.pbx.test. offers two servers; the lower priority value is tried first.
SRV_RECORDS = ["20 5 4600 localhost.", "10 5 4601 localhost."]


class LoopbackDns:
    """Answers SRV queries for ``_iax._udp.pbx.test.``; NXDOMAIN for anything else."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.queries: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, client = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            name = query.question[0].name.to_text()
            self.queries.append(name)
            if name == "_iax._udp.pbx.test.":
                reply.answer.append(dns.rrset.from_text(name, 60, "IN", "SRV", *SRV_RECORDS))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(reply.to_wire(), client)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def server() -> Iterator[LoopbackDns]:
    dns_server = LoopbackDns()
    yield dns_server
    dns_server.close()


def _resolver(server: LoopbackDns) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.port
    return resolver


async def test_srv_records_come_first_in_priority_order(server: LoopbackDns) -> None:
    found = await resolve("pbx.test", 4569, srv=True, resolver=_resolver(server))
    assert server.queries == ["_iax._udp.pbx.test."]
    ports = [port for _, port in found]
    assert ports == sorted(ports, key=lambda p: p != 4601)  # 4601 (priority 10) before 4600
    assert {port for _, port in found} == {4600, 4601}
    assert {host for host, _ in found} <= {"127.0.0.1", "::1"}


async def test_without_srv_records_the_host_itself_is_used(server: LoopbackDns) -> None:
    found = await resolve("localhost", 4570, srv=True, resolver=_resolver(server))
    assert server.queries == ["_iax._udp.localhost."]
    assert found and all(port == 4570 for _, port in found)


async def test_ip_literals_never_ask_dns(server: LoopbackDns) -> None:
    assert await resolve("[::1]", 4569, srv=True, resolver=_resolver(server)) == [("::1", 4569)]
    assert await resolve("127.0.0.1", 4569, srv=True, resolver=_resolver(server)) == [
        ("127.0.0.1", 4569)]
    assert server.queries == []
