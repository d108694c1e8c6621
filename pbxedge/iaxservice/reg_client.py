"""Our own registrations: one :class:`~pbxedge.iax2.regclient.RegistrationClient` per
``register =>`` line, driven over real endpoint calls (iax2.md §6.1, §15.5).

Each attempt resolves the server again, then opens a FRESH call (the endpoint adds the empty
CALLTOKEN IE and resends with the token). The REGAUTH is answered with the line's secret or
``[key]`` (MD5, plaintext or RSA, ``auth.answer_challenge``); like Asterisk, the
authenticated REGREQ ends with an empty CALLTOKEN IE again (b-to-a frames 17–20).

What happens to the call is fed back to the client, which owns every retry decision:
REGAUTH/REGACK/REGREJ, the endpoint giving up (timeout), and the call ending before any
answer (an INVAL from a server that restarted and forgot it). A REGACK whose APPARENT_ADDR
differs from the one before means our own address changed: every other line re-registers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pbxedge import log
from pbxedge.config.iax_models import Registration
from pbxedge.events import Registry
from pbxedge.iax2.auth import AuthFailure, Credentials, answer_challenge
from pbxedge.iax2.callstate import CallStateError
from pbxedge.iax2.endpoint import CallNumbersExhausted, UnknownCall
from pbxedge.iax2.enums import IE, AuthMethod, FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.events import CallDestroyed, Event, FrameReceived, PeerUnreachable
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.qualify import Log
from pbxedge.iax2.regclient import (
    Answerer,
    RegistrationClient,
    RegistryRow,
    Resolve,
    SendAuthReply,
    SendRegReq,
    SendReject,
)
from pbxedge.iax2.showframe import format_addr
from pbxedge.iaxservice.reg_log import emit
from pbxedge.iaxservice.reg_resolver import ip_literal, resolve
from pbxedge.iaxservice.service import IaxService
from pbxedge.keys import KeyStore

__all__ = ["OutboundRegistrations", "RegistrationLine"]

Address = tuple[str, int]


class RegistrationLine:
    """One ``register =>`` line: its client and the call of its current attempt."""

    __slots__ = ("call", "client", "config")

    def __init__(self, config: Registration, client: RegistrationClient) -> None:
        self.config = config
        self.client = client
        self.call: _AttemptCall | None = None


class _AttemptCall:
    """The endpoint call of one registration attempt."""

    __slots__ = ("answered", "callno", "line", "owner")

    def __init__(self, owner: OutboundRegistrations, line: RegistrationLine, callno: int) -> None:
        self.owner = owner
        self.line = line
        self.callno = callno
        # Set once the server answered for good (REGACK/REGREJ), we refused its challenge,
        # or the endpoint gave up: the call's end then says nothing about a server restart.
        self.answered = False

    def on_event(self, event: Event) -> None:
        self.owner.on_call_event(self, event)


class OutboundRegistrations:
    """Every ``register =>`` line of one config."""

    def __init__(
        self,
        iax: IaxService,
        registrations: Iterable[Registration],
        *,
        keys: KeyStore,
        now: float,
        srv: bool,
        wake: Callable[[], None],
    ) -> None:
        self._iax = iax
        self._keys = keys
        self._wake = wake
        self._srv = srv
        self.lines = [self._line(reg, now) for reg in registrations]

    def _line(self, reg: Registration, now: float) -> RegistrationLine:
        client = RegistrationClient(reg.username, reg.host, now, answer=self._answerer(reg),
                                    rng=self._iax.rng, port=reg.port, srv=self._srv)
        return RegistrationLine(reg, client)

    def reconfigure(self, registrations: Iterable[Registration], *, keys: KeyStore,
                    srv: bool, now: float) -> tuple[int, int]:
        """The ``register =>`` lines of a reloaded config; returns (started, stopped).

        A line that did not change keeps its registration and refresh schedule; a changed
        or new one registers at once; one no longer there stops (its attempt is dropped and
        the registration runs out at the server).
        """
        self._keys = keys
        # srvlookup changes how every server is found: all lines start anew then.
        old = {_same_line(line.config): line for line in self.lines} if srv == self._srv else {}
        self._srv = srv
        lines: list[RegistrationLine] = []
        started: list[RegistrationLine] = []
        for reg in registrations:
            line = old.pop(_same_line(reg), None)
            if line is None:
                line = self._line(reg, now)
                started.append(line)
            lines.append(line)
        stopped = [line for line in self.lines if line not in lines]
        for line in stopped:
            self._drop_call(line, now)
        self.lines = lines
        for line in started:
            line.client.tick(now)
            self._drain(line, now)
        return len(started), len(stopped)

    # -- queries -------------------------------------------------------------------------
    def rows(self) -> list[RegistryRow]:
        return [line.client.registry_row() for line in self.lines]

    def get_timer(self) -> float | None:
        timers = [t for line in self.lines if (t := line.client.get_timer()) is not None]
        return min(timers, default=None)

    # -- inputs --------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        for line in self.lines:
            line.client.tick(now)
            self._drain(line, now)

    def force(self, name: str, now: float) -> str:
        """Console ``iax2 register now NAME``: the lines whose username or host is NAME."""
        matched = [
            line for line in self.lines if name in (line.config.username, line.config.host)
        ]
        if not matched:
            return f"No registration matches '{name}' (give a register => username or host)\n"
        out = []
        for line in matched:
            line.client.force(now)
            self._drain(line, now)
            out.append(
                f"Registering '{line.config.username}' to "
                f"'{line.config.host}:{line.config.port}' now\n"
            )
        return "".join(out)

    def on_call_event(self, call: _AttemptCall, event: Event) -> None:
        line = call.line
        if line.call is not call:
            return  # an abandoned attempt
        client = line.client
        now = self._iax.now()
        if isinstance(event, FrameReceived):
            self._on_frame(line, call, event, now)
        elif isinstance(event, PeerUnreachable):
            call.answered = True
            client.on_timeout(now)
        elif isinstance(event, CallDestroyed):
            line.call = None
            if not call.answered:
                client.on_peer_restarted(now)
        self._drain(line, now)

    def _on_frame(
        self, line: RegistrationLine, call: _AttemptCall, event: FrameReceived, now: float
    ) -> None:
        frame = event.frame
        if frame.frametype != FrameType.IAX:
            return
        try:
            ies = frame.ies()
        except MalformedFrame:
            return  # let the attempt time out rather than act on garbage
        client = line.client
        subclass = frame.iax_subclass
        if subclass is IaxSubclass.REGAUTH:
            methods = ies.get_u16(IE.AUTHMETHODS) or 0
            client.on_regauth(AuthMethod(methods), ies.get_str(IE.CHALLENGE), now)
        elif subclass is IaxSubclass.REGACK:
            call.answered = True
            before = client.perceived
            seen_as = ies.get_addr(IE.APPARENT_ADDR)
            client.on_regack(ies.get_u16(IE.REFRESH), seen_as, ies.get_u16(IE.MSGCOUNT), now)
            self._iax.events.publish(Registry(client.username, _domain(line), "Registered"))
            if before is not None and seen_as is not None and seen_as != before:
                self._local_address_changed(line, before, seen_as, now)
        elif subclass is IaxSubclass.REGREJ:
            call.answered = True
            cause = ies.get_str(IE.CAUSE)
            client.on_regrej(cause, now)
            self._iax.events.publish(Registry(client.username, _domain(line), "Rejected",
                                              cause or ""))

    def _local_address_changed(
        self, line: RegistrationLine, before: Address, now_seen: Address, now: float
    ) -> None:
        log.notice(
            f"Our address as seen by '{line.client.host}' changed from {format_addr(*before)} "
            f"to {format_addr(*now_seen)}; renewing every registration"
        )
        for other in self.lines:
            if other is not line:
                other.client.on_local_address_changed(now)
                self._drain(other, now)

    # -- actions -------------------------------------------------------------------------
    def _drain(self, line: RegistrationLine, now: float) -> None:
        client = line.client
        while (action := client.next_action()) is not None:
            if isinstance(action, Resolve):
                literal = ip_literal(action.host, action.port)
                if literal is not None:
                    client.on_resolved([literal], now)
                else:
                    self._iax.nursery.start_soon(self._resolve, line, action)
            elif isinstance(action, SendRegReq):
                self._start_attempt(line, action, now)
            elif isinstance(action, SendAuthReply):
                ies = IEList(action.ies).add_empty(IE.CALLTOKEN)
                self._send(line, IaxSubclass.REGREQ, ies, now, final=False)
            elif isinstance(action, SendReject):
                if line.call is not None:
                    line.call.answered = True
                self._send(line, IaxSubclass.REJECT, action.ies, now, final=True)
            elif isinstance(action, Log):
                emit(action)
        self._iax.kick()
        self._wake()

    async def _resolve(self, line: RegistrationLine, action: Resolve) -> None:
        addrs = await resolve(action.host, action.port, srv=action.srv)
        now = self._iax.now()
        line.client.on_resolved(addrs, now)
        self._drain(line, now)

    def _start_attempt(self, line: RegistrationLine, action: SendRegReq, now: float) -> None:
        self._drop_call(line, now)
        try:
            callno = self._iax.endpoint.start(
                action.addr, IaxSubclass.REGREQ, action.ies, now, counted=False
            )
        except CallNumbersExhausted as exc:
            log.warning(f"Cannot register '{line.client.username}': {exc}")
            line.client.on_timeout(now)
            return
        line.call = _AttemptCall(self, line, callno)
        self._iax.own(callno, line.call)

    def _drop_call(self, line: RegistrationLine, now: float) -> None:
        call, line.call = line.call, None
        if call is not None:
            self._iax.disown(call.callno)
            self._iax.endpoint.destroy(call.callno, now)

    def _send(
        self, line: RegistrationLine, subclass: IaxSubclass, ies: IEList, now: float, *, final: bool
    ) -> None:
        if line.call is None:
            return
        try:
            self._iax.endpoint.send_iax(line.call.callno, subclass, ies, now, final=final)
        except (UnknownCall, CallStateError):
            # The call vanished under us; its CallDestroyed event tells the client.
            return

    def _answerer(self, reg: Registration) -> Answerer:
        creds = Credentials(reg.secret, reg.key)

        def answer(methods: AuthMethod, challenge: str) -> IEList | None:
            # The keys in force when the challenge comes (a reload may have replaced them).
            result = answer_challenge(methods, challenge or None, reg.username, creds,
                                      self._keys)
            if isinstance(result, AuthFailure):
                log.debug(f"register => {reg.username}@{reg.host}: {result.reason}")
                return None
            return result.ies

        return answer


def _same_line(reg: Registration) -> tuple[str, str | None, str | None, str, int]:
    """What makes two ``register =>`` lines the same registration (not where they stand)."""
    return reg.username, reg.secret, reg.key, reg.host, reg.port


def _domain(line: RegistrationLine) -> str:
    """``Domain:`` of a Registry event: the registrar's address as resolved (host:port)."""
    addr = line.client.registry_row().addr
    return format_addr(*addr) if addr else f"{line.config.host}:{line.config.port}"
