"""Qualify glue: one :class:`~pbxedge.iax2.qualify.Qualifier` per ``qualify=`` peer, whose
POKEs go out as real endpoint calls (iax2.md §6.5, §6.6).

Each POKE takes a fresh call number that is kept off the peer's call-number budget
(``counted=False``, §10 row 2). The PONG's round trip feeds the qualifier; the endpoint
giving up on the POKE, or the qualifier's own no-answer deadline, marks the peer
UNREACHABLE. What the qualifiers know is what ``iax2 show peers`` prints and what the
dialer uses to refuse UNREACHABLE peers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pbxedge import log
from pbxedge.config.iax_models import Peer
from pbxedge.events import PeerStatus as PeerStatusEvent
from pbxedge.iax2.endpoint import CallNumbersExhausted
from pbxedge.iax2.enums import IaxSubclass
from pbxedge.iax2.events import CallDestroyed, Event, PeerUnreachable, PongReceived
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.qualify import (
    AbandonPoke,
    Log,
    PeerStatus,
    Qualifier,
    Reachability,
    SendPoke,
    StatusChange,
)
from pbxedge.iaxservice.reg_log import emit
from pbxedge.iaxservice.service import IaxService

__all__ = ["QualifyService"]

Address = tuple[str, int]

_UNMONITORED = PeerStatus("Unmonitored", Reachability.UNMONITORED)


class _PokeCall:
    """Hears the events of one POKE call and reports them to its peer's qualifier."""

    __slots__ = ("callno", "owner", "peer")

    def __init__(self, owner: QualifyService, peer: str, callno: int) -> None:
        self.owner = owner
        self.peer = peer
        self.callno = callno

    def on_event(self, event: Event) -> None:
        self.owner.on_poke_event(self, event)


class QualifyService:
    """The qualifiers of every peer with ``qualify`` > 0, and their POKE calls."""

    def __init__(self, iax: IaxService, peers: Iterable[Peer], now: float) -> None:
        self._iax = iax
        self._qualifiers: dict[str, Qualifier] = {}
        self._settings: dict[str, tuple[int, int, int, bool]] = {}
        self._pokes: dict[str, _PokeCall] = {}
        # Told each measured round trip (peer, ms): the metrics' RTT histogram.
        self.rtt_listeners: list[Callable[[str, int], object]] = []
        self.reconfigure(peers, now)

    def reconfigure(self, peers: Iterable[Peer], now: float) -> list[str]:
        """Qualify the *peers* of a (re)loaded config; returns those that start anew.

        A peer whose qualify settings did not change keeps its qualifier, status and RTT;
        one that lost ``qualify`` (or was removed) stops being poked. The caller tells the
        new ones where their peer is.
        """
        wanted = {
            peer.name: (peer.qualify_ms, peer.qualifyfreqok, peer.qualifyfreqnotok,
                        peer.qualifysmoothing)
            for peer in peers if peer.qualify_ms > 0
        }
        for name in [n for n in self._qualifiers if self._settings[n] != wanted.get(n)]:
            del self._qualifiers[name], self._settings[name]
            self._abandon(name, now)
        started = [name for name in wanted if name not in self._qualifiers]
        for name in started:
            maxms, freq_ok, freq_notok, smoothing = wanted[name]
            self._qualifiers[name] = Qualifier(name, maxms, now, freq_ok_ms=freq_ok,
                                               freq_notok_ms=freq_notok, smoothing=smoothing)
            self._settings[name] = wanted[name]
        return started

    # -- queries -------------------------------------------------------------------------
    def status(self, peer: str) -> PeerStatus:
        qualifier = self._qualifiers.get(peer)
        return qualifier.status() if qualifier is not None else _UNMONITORED

    def lastms(self, peer: str) -> int:
        qualifier = self._qualifiers.get(peer)
        return qualifier.lastms if qualifier is not None else 0

    def get_timer(self) -> float | None:
        timers = [t for q in self._qualifiers.values() if (t := q.get_timer()) is not None]
        return min(timers, default=None)

    # -- inputs --------------------------------------------------------------------------
    def address_changed(self, peer: str, addr: Address, now: float) -> None:
        """The peer registered (or was restored, or resolved) at *addr*: poke it there."""
        qualifier = self._qualifiers.get(peer)
        if qualifier is not None:
            qualifier.on_address_changed(addr, now)
            self._drain(qualifier, now)

    def address_lost(self, peer: str, now: float) -> None:
        qualifier = self._qualifiers.get(peer)
        if qualifier is not None:
            qualifier.address_lost(now)
            self._drain(qualifier, now)

    def tick(self, now: float) -> None:
        for qualifier in self._qualifiers.values():
            qualifier.tick(now)
            self._drain(qualifier, now)

    def on_poke_event(self, poke: _PokeCall, event: Event) -> None:
        qualifier = self._qualifiers.get(poke.peer)
        current = self._pokes.get(poke.peer) is poke
        now = self._iax.now()
        if isinstance(event, PongReceived):
            if current and qualifier is not None:
                # A PONG did come back, so the peer is reachable even when loopback makes
                # the round trip round to 0 ms; lastms 0 would read as "UNKNOWN".
                rtt_ms = max(1, event.rtt_ms)
                qualifier.on_pong(rtt_ms, now)
                for listener in self.rtt_listeners:
                    listener(poke.peer, rtt_ms)
            # No destroy needed: the endpoint ACKs the PONG and ends the POKE call itself.
        elif isinstance(event, PeerUnreachable):
            if current and qualifier is not None:
                qualifier.on_no_answer(now)
        elif isinstance(event, CallDestroyed) and current:
            del self._pokes[poke.peer]
        if qualifier is not None:
            self._drain(qualifier, now)

    # -- actions -------------------------------------------------------------------------
    def _drain(self, qualifier: Qualifier, now: float) -> None:
        while (action := qualifier.next_action()) is not None:
            if isinstance(action, SendPoke):
                self._poke(qualifier, action.addr, now)
            elif isinstance(action, AbandonPoke):
                self._abandon(action.peer, now)
            elif isinstance(action, Log):
                emit(action)
            elif isinstance(action, StatusChange):
                self._iax.events.publish(PeerStatusEvent(action.peer, action.status))
        self._iax.kick()

    def _poke(self, qualifier: Qualifier, addr: Address, now: float) -> None:
        self._abandon(qualifier.peer, now)
        try:
            callno = self._iax.endpoint.start(addr, IaxSubclass.POKE, IEList(), now, counted=False)
        except CallNumbersExhausted as exc:
            log.warning(f"Cannot qualify peer '{qualifier.peer}': {exc}")
            qualifier.on_no_answer(now)
            return
        poke = _PokeCall(self, qualifier.peer, callno)
        self._pokes[qualifier.peer] = poke
        self._iax.own(callno, poke)

    def _abandon(self, peer: str, now: float) -> None:
        poke = self._pokes.pop(peer, None)
        if poke is not None:
            self._iax.disown(poke.callno)
            self._iax.endpoint.destroy(poke.callno, now)
