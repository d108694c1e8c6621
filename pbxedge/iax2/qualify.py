"""Qualify: POKE scheduling and a peer's reachability status (reference iax2.md §6.5, §6.6).

One :class:`Qualifier` per peer. It is a sans-IO state machine: it never sends anything itself,
it queues actions (:class:`SendPoke`, :class:`AbandonPoke`, :class:`Log`, :class:`StatusChange`)
and exposes its next deadline through :meth:`Qualifier.get_timer`. The glue starts a fresh POKE
call for each :class:`SendPoke`, reports the PONG's round trip with :meth:`Qualifier.on_pong`,
and calls :meth:`Qualifier.tick` when the deadline passes.

Numbers follow Asterisk: ``lastms`` is the last round trip (``-1`` after a POKE went unanswered,
``0`` while nothing is known), ``historicms`` the value the REACHABLE/LAGGED decisions and the
next-POKE interval use (the last sample, or with ``qualifysmoothing`` the average of the new
sample and the previous average). The status text is computed from ``lastms``, as Asterisk's
``peer_status`` does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from pbxedge import log

__all__ = [
    "DEFAULT_FREQ_NOTOK_MS",
    "DEFAULT_FREQ_OK_MS",
    "DEFAULT_MAXMS",
    "AbandonPoke",
    "Log",
    "PeerStatus",
    "Qualifier",
    "QualifyAction",
    "Reachability",
    "SendPoke",
    "StatusChange",
]

DEFAULT_MAXMS = 2000  # qualify=yes
DEFAULT_FREQ_OK_MS = 60_000  # qualifyfreqok
DEFAULT_FREQ_NOTOK_MS = 10_000  # qualifyfreqnotok
# Asterisk's MAX_RETRY_TIME: the no-answer wait is two full retransmission caps plus maxms.
_MAX_RETRY_MS = 10_000

Address = tuple[str, int]


class Reachability(Enum):
    """How a peer counts in the ``iax2 show peers`` footer."""

    ONLINE = "online"  # OK or LAGGED
    OFFLINE = "offline"  # UNREACHABLE or UNKNOWN
    UNMONITORED = "unmonitored"  # qualify=no


@dataclass(frozen=True)
class PeerStatus:
    text: str  # exactly as Asterisk prints it: "OK (1 ms)", "UNREACHABLE", ...
    reachability: Reachability


@dataclass(frozen=True)
class SendPoke:
    """Send a POKE to *addr* on a fresh call number (dcall 0, empty CALLTOKEN IE)."""

    peer: str
    addr: Address


@dataclass(frozen=True)
class AbandonPoke:
    """Destroy the POKE call still in flight for *peer*: its answer no longer counts."""

    peer: str


@dataclass(frozen=True)
class Log:
    level: int  # pbxedge.log's levels: DEBUG, VERBOSE, NOTICE, WARNING
    message: str


@dataclass(frozen=True)
class StatusChange:
    """The peer became ``Reachable``, ``Lagged`` or ``Unreachable`` (Asterisk's PeerStatus
    values, told at the same moments as its log lines)."""

    peer: str
    status: str


QualifyAction = SendPoke | AbandonPoke | Log | StatusChange


class Qualifier:
    """POKE cycle and status of one peer.

    ``maxms == 0`` means ``qualify=no``: the peer is never poked and shows ``Unmonitored``.
    A static peer passes its address at construction and is poked at once; a dynamic peer
    is poked when :meth:`on_address_changed` reports its (new) registration address.
    """

    def __init__(
        self,
        peer: str,
        maxms: int,
        now: float,
        *,
        freq_ok_ms: int = DEFAULT_FREQ_OK_MS,
        freq_notok_ms: int = DEFAULT_FREQ_NOTOK_MS,
        smoothing: bool = False,
        addr: Address | None = None,
    ) -> None:
        if maxms < 0 or freq_ok_ms <= 0 or freq_notok_ms <= 0:
            raise ValueError("maxms must be >= 0 and the poke frequencies > 0")
        self.peer = peer
        self.maxms = maxms
        self.freq_ok_ms = freq_ok_ms
        self.freq_notok_ms = freq_notok_ms
        self.smoothing = smoothing
        self.addr = addr
        self.lastms = 0
        self.historicms = 0
        self._awaiting_pong = False
        # A static peer is poked at once; a dynamic one waits for its registration.
        self._deadline: float | None = now if maxms and addr is not None else None
        self._actions: deque[QualifyAction] = deque()

    # -- outputs -----------------------------------------------------------------------
    def next_action(self) -> QualifyAction | None:
        return self._actions.popleft() if self._actions else None

    def get_timer(self) -> float | None:
        """When :meth:`tick` must run next: the next POKE, or the no-answer deadline."""
        return self._deadline

    def status(self) -> PeerStatus:
        """Asterisk's ``peer_status``: the text of ``iax2 show peers`` and its footer class."""
        if not self.maxms:
            return PeerStatus("Unmonitored", Reachability.UNMONITORED)
        if self.lastms < 0:
            return PeerStatus("UNREACHABLE", Reachability.OFFLINE)
        if self.lastms > self.maxms:
            return PeerStatus(f"LAGGED ({self.lastms} ms)", Reachability.ONLINE)
        if self.lastms > 0:
            return PeerStatus(f"OK ({self.lastms} ms)", Reachability.ONLINE)
        return PeerStatus("UNKNOWN", Reachability.OFFLINE)

    def status_text(self) -> str:
        return self.status().text

    def is_online(self) -> bool:
        """OK or LAGGED."""
        return self.status().reachability is Reachability.ONLINE

    def dialable(self) -> bool:
        """Whether a call to this peer may be placed.

        Asterisk also refuses LAGGED peers (cause 20); pbxedge dials them and only the glue
        warns (iax2.md §10 row 4). An UNREACHABLE peer is refused; UNKNOWN is dialable as in
        Asterisk, since nothing says the peer is gone.
        """
        return not (self.maxms and self.lastms < 0)

    def is_lagged(self) -> bool:
        """For the glue's warning when it dials a LAGGED peer."""
        return bool(self.maxms) and self.lastms > self.maxms

    # -- inputs ------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        if self._awaiting_pong:
            self.on_no_answer(now)
        else:
            self._send_poke(now)

    def on_pong(self, rtt_ms: int, now: float) -> None:
        """The PONG to our current POKE arrived after *rtt_ms* (now_ts - pong.ts)."""
        if not self._awaiting_pong:
            return  # a late answer to an abandoned POKE
        self._awaiting_pong = False
        rtt = max(0, rtt_ms)
        was_down = self.lastms < 0 or self.historicms > self.maxms
        was_ok = 0 < self.historicms <= self.maxms
        if was_down and rtt <= self.maxms:
            self._log(log.NOTICE, f"Peer '{self.peer}' is now REACHABLE! Time: {rtt}")
            self._actions.append(StatusChange(self.peer, "Reachable"))
        elif was_ok and rtt > self.maxms:
            self._log(log.NOTICE, f"Peer '{self.peer}' is now TOO LAGGED ({rtt} ms)!")
            self._actions.append(StatusChange(self.peer, "Lagged"))
        self.lastms = rtt
        self.historicms = (rtt + self.historicms) // 2 if self.smoothing else rtt
        down = self.historicms > self.maxms
        self._deadline = now + (self.freq_notok_ms if down else self.freq_ok_ms) / 1000

    def on_no_answer(self, now: float) -> None:
        """The POKE went unanswered (our own deadline, or the transport gave up on it)."""
        if not self._awaiting_pong:
            return
        self._awaiting_pong = False
        self._actions.append(AbandonPoke(self.peer))
        if self.lastms > -1:
            self._log(log.NOTICE, f"Peer '{self.peer}' is now UNREACHABLE! Time: {self.lastms}")
            self._actions.append(StatusChange(self.peer, "Unreachable"))
        self.lastms = -1
        self._deadline = now + self.freq_notok_ms / 1000

    def on_address_changed(self, addr: Address, now: float) -> None:
        """The peer registered from a (new) address: poke it there at once."""
        self.addr = addr
        if not self.maxms:
            return
        if self._awaiting_pong:
            # The POKE in flight went to the old address; its answer proves nothing now.
            self._awaiting_pong = False
            self._actions.append(AbandonPoke(self.peer))
        self._send_poke(now)

    def address_lost(self, now: float) -> None:
        """The registration expired or was released: stop poking, status back to UNKNOWN."""
        self.addr = None
        if self._awaiting_pong:
            self._awaiting_pong = False
            self._actions.append(AbandonPoke(self.peer))
        # Asterisk resets these at its next poke attempt when the peer has no address.
        self.lastms = 0
        self.historicms = 0
        self._deadline = None

    # -- internals ---------------------------------------------------------------------
    def _send_poke(self, now: float) -> None:
        if not self.maxms or self.addr is None:
            self._deadline = None
            return
        self._actions.append(SendPoke(self.peer, self.addr))
        self._awaiting_pong = True
        self._deadline = now + self._no_answer_ms() / 1000

    def _no_answer_ms(self) -> float:
        if self.lastms < 0:
            return self.freq_notok_ms * 5 / 6
        return min(2 * _MAX_RETRY_MS + self.maxms, self.freq_ok_ms * 5 / 6)

    def _log(self, level: int, message: str) -> None:
        self._actions.append(Log(level, message))
