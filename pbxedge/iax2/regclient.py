"""Outbound registration: one ``register => user[:secret]@host[:port]`` line (iax2.md §6.1).

A sans-IO state machine. It asks for work through actions drained with
:meth:`RegistrationClient.next_action` and is fed what happened:

    Resolve ──on_resolved──► SendRegReq ──on_regauth──► SendAuthReply ──on_regack──► Registered
                                   └─────────────on_regack─────────────┘

The glue resolves names (:class:`Resolve`, answered with :meth:`~RegistrationClient.on_resolved`
or :meth:`~RegistrationClient.on_resolve_failed`), starts a FRESH endpoint call for every
:class:`SendRegReq` (replacing any call it still holds for this registration; the endpoint
adds the CALLTOKEN IE), sends :class:`SendAuthReply` and :class:`SendReject` on that call,
and reports only that call's REGAUTH/REGACK/REGREJ, its retries running out
(:meth:`~RegistrationClient.on_timeout`) and an INVAL or unknown-call answer
(:meth:`~RegistrationClient.on_peer_restarted`).

Where pbxedge departs from Asterisk (iax2.md §10 row 3):

- the name is resolved before EVERY attempt, not only after a timeout;
- a failure (timeout, REGREJ, unanswerable challenge, unresolvable name) is retried after an
  exponential backoff with jitter instead of every 50 s; a success resets it;
- no state needs a restart to leave it: every state has a timer that starts a new attempt.
"""

from __future__ import annotations

import ipaddress
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from pbxedge import log
from pbxedge.iax2.enums import IE, AuthMethod
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.qualify import Log
from pbxedge.iax2.showframe import format_addr

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_REFRESH",
    "Answerer",
    "RegClientAction",
    "RegState",
    "RegistrationClient",
    "RegistryRow",
    "Resolve",
    "SendAuthReply",
    "SendRegReq",
    "SendReject",
]

Address = tuple[str, int]

DEFAULT_PORT = 4569
DEFAULT_REFRESH = 60  # IAX_DEFAULT_REG_EXPIRE
NO_AUTHORITY = "No authority found"  # Asterisk's REJECT cause for a challenge we cannot answer

# Answers a REGAUTH: (offered methods, challenge) -> MD5_RESULT / RSA_RESULT / PASSWORD IEs,
# or None when this registration holds no credential for any offered method.
Answerer = Callable[[AuthMethod, str], IEList | None]


class RegState(Enum):
    """What ``iax2 show registry`` prints in its State column (``regstate2str``)."""

    UNREGISTERED = "Unregistered"
    REQUEST_SENT = "Request Sent"
    AUTH_SENT = "Auth. Sent"
    REGISTERED = "Registered"
    REJECTED = "Rejected"
    TIMEOUT = "Timeout"
    NO_AUTH = "No Authentication"


@dataclass(frozen=True)
class Resolve:
    """Resolve *host*; with *srv*, try ``_iax._udp.<host>`` SRV first, then A/AAAA."""

    host: str
    port: int  # the port to pair with A/AAAA answers (SRV answers carry their own)
    srv: bool


@dataclass(frozen=True)
class SendRegReq:
    """Start a new call to *addr* with a REGREQ carrying *ies*."""

    addr: Address
    ies: IEList


@dataclass(frozen=True)
class SendAuthReply:
    """Send the authenticated REGREQ on the current registration call."""

    ies: IEList


@dataclass(frozen=True)
class SendReject:
    """Send a final REJECT on the current registration call (we cannot authenticate)."""

    ies: IEList


RegClientAction = Resolve | SendRegReq | SendAuthReply | SendReject | Log


@dataclass(frozen=True)
class RegistryRow:
    """One line of ``iax2 show registry``."""

    addr: Address | None  # the server's resolved address; None before any resolution
    dnsmgr: bool  # the host is a name that gets re-resolved
    username: str
    perceived: Address | None  # APPARENT_ADDR from the last REGACK
    refresh: int
    state: RegState


class _Phase(Enum):
    """Internal states: the displayed ones plus RESOLVING (waiting for the glue's DNS)."""

    UNREGISTERED = "unregistered"
    RESOLVING = "resolving"
    REQUEST_SENT = "request-sent"
    AUTH_SENT = "auth-sent"
    REGISTERED = "registered"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    NO_AUTH = "no-auth"


class _Input(Enum):
    DUE = "due"  # the timer ran out: next attempt, or an attempt took too long
    RESOLVED = "resolved"
    RESOLVE_FAILED = "resolve-failed"
    CHALLENGE = "challenge"  # REGAUTH we can answer
    CHALLENGE_UNANSWERABLE = "challenge-unanswerable"
    REGACK = "regack"
    REGREJ = "regrej"
    TIMEOUT = "timeout"  # the transport gave up on the registration call
    LOCAL_ADDRESS_CHANGED = "local-address-changed"
    PEER_RESTARTED = "peer-restarted"
    FORCE = "force"


_P, _I = _Phase, _Input
_IDLE = (_P.UNREGISTERED, _P.REGISTERED, _P.REJECTED, _P.TIMEOUT, _P.NO_AUTH)
_WAITING_FOR_SERVER = (_P.REQUEST_SENT, _P.AUTH_SENT)

# (state, input) -> next state. A pair that is absent is ignored: a stale answer from an
# abandoned call, or a request for an attempt while one is already being prepared.
_TRANSITIONS: dict[tuple[_Phase, _Input], _Phase] = {
    **{(p, _I.DUE): _P.RESOLVING for p in _IDLE},
    **{(p, _I.FORCE): _P.RESOLVING for p in _IDLE},
    **{(p, _I.LOCAL_ADDRESS_CHANGED): _P.RESOLVING for p in _IDLE},
    # A restarted server has forgotten us: register again at once.
    (_P.REGISTERED, _I.PEER_RESTARTED): _P.RESOLVING,
    (_P.RESOLVING, _I.RESOLVED): _P.REQUEST_SENT,
    (_P.RESOLVING, _I.RESOLVE_FAILED): _P.TIMEOUT,
    (_P.RESOLVING, _I.DUE): _P.TIMEOUT,
    (_P.REQUEST_SENT, _I.CHALLENGE): _P.AUTH_SENT,
    (_P.REQUEST_SENT, _I.CHALLENGE_UNANSWERABLE): _P.NO_AUTH,
    **{(p, _I.REGACK): _P.REGISTERED for p in _WAITING_FOR_SERVER},
    **{(p, _I.REGREJ): _P.REJECTED for p in _WAITING_FOR_SERVER},
    **{(p, _I.TIMEOUT): _P.TIMEOUT for p in _WAITING_FOR_SERVER},
    **{(p, _I.DUE): _P.TIMEOUT for p in _WAITING_FOR_SERVER},
    **{(p, _I.FORCE): _P.RESOLVING for p in _WAITING_FOR_SERVER},
    **{(p, _I.LOCAL_ADDRESS_CHANGED): _P.RESOLVING for p in _WAITING_FOR_SERVER},
    **{(p, _I.PEER_RESTARTED): _P.RESOLVING for p in _WAITING_FOR_SERVER},
}

_SHOWN: dict[_Phase, RegState] = {
    _P.UNREGISTERED: RegState.UNREGISTERED,
    # Resolving is the first step of sending the request.
    _P.RESOLVING: RegState.REQUEST_SENT,
    _P.REQUEST_SENT: RegState.REQUEST_SENT,
    _P.AUTH_SENT: RegState.AUTH_SENT,
    _P.REGISTERED: RegState.REGISTERED,
    _P.REJECTED: RegState.REJECTED,
    _P.TIMEOUT: RegState.TIMEOUT,
    _P.NO_AUTH: RegState.NO_AUTH,
}


class RegistrationClient:
    """The outbound registration of *username* at *host*.

    The first attempt starts at the first :meth:`tick` at or after *now*.
    """

    def __init__(
        self,
        username: str,
        host: str,
        now: float,
        *,
        answer: Answerer,
        rng: random.Random,
        port: int = DEFAULT_PORT,
        srv: bool = False,
        refresh: int = DEFAULT_REFRESH,
        first_retry: float = 2.0,
        attempt_timeout: float = 45.0,
    ) -> None:
        if refresh <= 0 or first_retry <= 0 or attempt_timeout <= 0:
            raise ValueError("refresh, first_retry and attempt_timeout must be positive")
        self.username = username
        self.host = host
        self.port = port
        self.srv = srv
        self.configured_refresh = refresh
        self.refresh = refresh  # what we ask for; the server's last grant once registered
        self.first_retry = first_retry
        # Safety net: an attempt that gets no outcome at all within this time is a timeout.
        self.attempt_timeout = attempt_timeout
        self.addr: Address | None = None
        self.perceived: Address | None = None
        self.messages = 0
        self._answer = answer
        self._rng = rng
        self._phase = _P.UNREGISTERED
        self._deadline: float | None = now
        self._failures = 0  # consecutive failed attempts, for the backoff
        self._restarted = False  # started over after an INVAL and not registered since
        self._logged: tuple[Address | None, int] | None = None
        self._actions: deque[RegClientAction] = deque()

    # -- outputs -----------------------------------------------------------------------
    @property
    def state(self) -> RegState:
        return _SHOWN[self._phase]

    def next_action(self) -> RegClientAction | None:
        return self._actions.popleft() if self._actions else None

    def get_timer(self) -> float | None:
        return self._deadline

    def registry_row(self) -> RegistryRow:
        return RegistryRow(
            addr=self.addr,
            dnsmgr=not _is_ip_literal(self.host),
            username=self.username,
            perceived=self.perceived,
            refresh=self.refresh,
            state=self.state,
        )

    # -- inputs ------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        if self._deadline is not None and now >= self._deadline:
            self._step(_I.DUE, now)

    def force(self, now: float) -> None:
        """Console ``iax2 register now``: a fresh attempt at once, backoff forgotten."""
        if self._accepts(_I.FORCE):
            self._failures = 0
            self._step(_I.FORCE, now)

    def on_local_address_changed(self, now: float) -> None:
        """Our own address changed: the server's idea of us is stale, register again now."""
        if self._accepts(_I.LOCAL_ADDRESS_CHANGED):
            self._failures = 0
            self._step(_I.LOCAL_ADDRESS_CHANGED, now)

    def on_peer_restarted(self, now: float) -> None:
        """The server does not know our call (INVAL): start over on a fresh call number.

        Only once in a row: a server that keeps answering INVAL is treated as a timeout,
        so the attempts back off instead of looping.
        """
        if self._restarted and self._phase in _WAITING_FOR_SERVER:
            self._log(
                log.WARNING,
                f"'{self._server()}' again does not know the registration call of "
                f"'{self.username}'",
            )
            self._step(_I.TIMEOUT, now)
        elif self._accepts(_I.PEER_RESTARTED):
            self._restarted = True
            self._step(_I.PEER_RESTARTED, now)

    def on_resolved(self, addrs: Sequence[Address], now: float) -> None:
        if not addrs:
            self.on_resolve_failed(now)
            return
        if self._accepts(_I.RESOLVED):
            # Keep the current server while it is still listed: round-robin DNS must not
            # move us between servers on every refresh.
            if self.addr not in addrs:
                self.addr = addrs[0]
            self._step(_I.RESOLVED, now)

    def on_resolve_failed(self, now: float) -> None:
        if self._accepts(_I.RESOLVE_FAILED):
            self._log(
                log.WARNING,
                f"Unable to resolve '{self.host}' for the registration of '{self.username}'",
            )
            self._step(_I.RESOLVE_FAILED, now)

    def on_regauth(self, methods: AuthMethod | int, challenge: str | None, now: float) -> None:
        if not self._accepts(_I.CHALLENGE):
            return
        reply = self._answer(AuthMethod(methods), challenge or "")
        if reply is None:
            self._log(
                log.WARNING,
                f"No credentials to answer the challenge (methods {int(methods)}) for the "
                f"registration of '{self.username}' to '{self._server()}'",
            )
            self._step(_I.CHALLENGE_UNANSWERABLE, now)
            return
        ies = self._request_ies()
        for ie, data in reply:
            ies.add(ie, data)
        self._actions.append(SendAuthReply(ies))
        self._step(_I.CHALLENGE, now)

    def on_regack(
        self,
        refresh: int | None,
        apparent_addr: Address | None,
        msgcount: int | None,
        now: float,
    ) -> None:
        if not self._accepts(_I.REGACK):
            return
        self.refresh = refresh if refresh and refresh > 0 else DEFAULT_REFRESH
        self.perceived = apparent_addr
        self.messages = msgcount or 0
        if self._logged != (self.perceived, self.messages):
            self._logged = (self.perceived, self.messages)
            us = format_addr(*self.perceived) if self.perceived else "(null)"
            self._log(
                log.VERBOSE,
                f"Registered IAX2 to '{self._server()}', who sees us as {us}"
                f"{_messages_waiting(self.messages)}",
            )
        self._step(_I.REGACK, now)

    def on_regrej(self, cause: str | None, now: float) -> None:
        if self._accepts(_I.REGREJ):
            self._log(
                log.NOTICE,
                f"Registration of '{self.username}' rejected: "
                f"'{log.printable(cause) if cause else '<unknown>'}' "
                f"from: '{self._server()}'",
            )
            self._step(_I.REGREJ, now)

    def on_timeout(self, now: float) -> None:
        """The transport retransmitted the registration call's request without answer."""
        if self._accepts(_I.TIMEOUT):
            self._step(_I.TIMEOUT, now)

    # -- the machine -------------------------------------------------------------------
    def _accepts(self, event: _Input) -> bool:
        return (self._phase, event) in _TRANSITIONS

    def _step(self, event: _Input, now: float) -> None:
        after = _TRANSITIONS.get((self._phase, event))
        if after is None:
            return
        before, self._phase = self._phase, after
        if after is _P.RESOLVING:
            self._actions.append(Resolve(self.host, self.port, self.srv))
            self._deadline = now + self.attempt_timeout
        elif after is _P.REQUEST_SENT:
            assert self.addr is not None  # RESOLVED always sets it
            self._actions.append(SendRegReq(self.addr, self._request_ies()))
            self._deadline = now + self.attempt_timeout
        elif after is _P.AUTH_SENT:
            self._deadline = now + self.attempt_timeout
        elif after is _P.REGISTERED:
            self._failures = 0
            self._restarted = False
            # Asterisk re-registers at 5/6 of the grant (50 s for 60), well before expiry.
            self._deadline = now + (5 * self.refresh) // 6
        else:
            self._failed(before, after, now)

    def _failed(self, before: _Phase, after: _Phase, now: float) -> None:
        if after is _P.NO_AUTH:
            cause = IEList().add_str(IE.CAUSE, NO_AUTHORITY)
            self._actions.append(SendReject(cause))
        elif after is _P.TIMEOUT:
            if before in _WAITING_FOR_SERVER:
                self._log(
                    log.WARNING,
                    f"Registration of '{self.username}' to '{self._server()}' timed out",
                )
            # As Asterisk: forget what the server told us, ask for the default again.
            self.perceived = None
            self._logged = None
            self.refresh = self.configured_refresh
        self._failures += 1
        delay = self._backoff()
        self._deadline = now + delay
        self._log(
            log.VERBOSE,
            f"Next registration attempt of '{self.username}' to '{self.host}' in {delay:.1f} s",
        )

    def _backoff(self) -> float:
        """first_retry · 2^(n-1) for the n-th failure in a row, capped at the refresh, ±20%."""
        exponent = min(self._failures - 1, 30)  # keeps the float finite for long outages
        nominal = min(self.first_retry * math.pow(2, exponent), float(self.refresh))
        return nominal * self._rng.uniform(0.8, 1.2)

    def _request_ies(self) -> IEList:
        return IEList().add_str(IE.USERNAME, self.username).add_u16(IE.REFRESH, self.refresh)

    def _server(self) -> str:
        return format_addr(*self.addr) if self.addr else f"{self.host}:{self.port}"

    def _log(self, level: int, message: str) -> None:
        self._actions.append(Log(level, message))


def _messages_waiting(messages: int) -> str:
    """The tail of Asterisk's "Registered IAX2 to ..." line (MSGCOUNT = old << 8 | new)."""
    if messages > 255:
        return f" with {messages & 0xFF} new and {messages >> 8} old messages waiting"
    if messages > 1:
        return f" with {messages} new messages waiting"
    if messages == 1:
        return " with 1 new message waiting"
    return " with no messages waiting"


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
