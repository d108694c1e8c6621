"""How a call reaches a realtime peer when several nodes share its table.

A dynamic realtime peer is wherever its last registration put it. If it registered to this
node the registrar knows the address. Otherwise its row says (``ipaddr``, ``port``,
``regseconds`` and, with ``rtsavesysname``, ``regserver``), and the call goes

- **directly** to that address when the peer's NAT lets this node through, or
- **through the node it registered to**: an IAX2 call to the peer of iax.conf named after
  that node's ``systemname`` (nodes list each other as static friends), carrying the
  target in the NEW's ``VARIABLE`` IE (:data:`RELAY_VARIABLE`); that node, seeing the
  variable on an authenticated call from a friend, dials its own registered peer.

``rtreach`` in ``[general]`` chooses: ``direct``, ``regserver`` (through the node whenever
iax.conf names it), or ``auto`` (the default): this node POKEs the address and goes direct
when a PONG comes back within :data:`PROBE_TIMEOUT_S` (a NAT that lets the POKE in lets
the call in too), through the node otherwise. The verdict is kept for a minute per address.
A row whose registration is older than the registration period (plus grace) counts as
unregistered: the call fails with cause 20 (unregistered), as in Asterisk.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from pbxedge.iax2.endpoint import CallNumbersExhausted
from pbxedge.iax2.enums import IaxSubclass
from pbxedge.iax2.events import Event, PongReceived
from pbxedge.iax2.ies import IEList
from pbxedge.iaxservice.call_host import CallHost

__all__ = ["RELAY_VARIABLE", "Route", "realtime_route"]

Address = tuple[str, int]

RELAY_VARIABLE = "PBXEDGE_RELAY_TO"
PROBE_TIMEOUT_S = 0.5
_VERDICT_S = 60.0


@dataclass(frozen=True)
class Route:
    addr: Address | None  # where to send the NEW directly; None when unreachable
    via: str | None = None  # the node's peer name to call through instead


class _Probe:
    __slots__ = ("answered",)

    def __init__(self) -> None:
        self.answered = trio.Event()

    def on_event(self, event: Event) -> None:
        if isinstance(event, PongReceived):
            self.answered.set()


_verdicts: dict[Address, tuple[float, bool]] = {}


async def _answers_poke(svc: CallHost, addr: Address) -> bool:
    now = trio.current_time()
    known = _verdicts.get(addr)
    if known is not None and now - known[0] < _VERDICT_S:
        return known[1]
    probe = _Probe()
    try:
        callno = svc.iax.endpoint.start(addr, IaxSubclass.POKE, IEList(), now, counted=False)
    except CallNumbersExhausted:
        return False
    svc.iax.own(callno, probe)
    svc.iax.kick()
    with trio.move_on_after(PROBE_TIMEOUT_S):
        await probe.answered.wait()
    svc.iax.disown(callno)
    _verdicts[addr] = (trio.current_time(), probe.answered.is_set())
    return probe.answered.is_set()


async def realtime_route(svc: CallHost, name: str) -> Route:
    """Where a call to the dynamic realtime peer *name* goes."""
    here = svc.peers.address_of(name)
    if here is not None:
        return Route(here)
    assert svc.realtime is not None
    where = await svc.realtime.location(name)
    if where is None:
        return Route(None)
    general = svc.config.general
    node = where.regserver
    relay = node is not None and node != general.systemname and node in svc.config.peers
    if not relay or general.rtreach == "direct":
        return Route(where.addr)
    if general.rtreach == "auto" and await _answers_poke(svc, where.addr):
        return Route(where.addr)
    return Route(where.addr, via=node)
