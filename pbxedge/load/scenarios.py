"""The load scenarios: ``calls``, ``register``, ``poke`` and ``flood``, run in one trio task
each over one :class:`~pbxedge.load.agent.CallAgent` (flood uses a socket of its own).

Each scenario paces its operations (``rate`` a second, at most ``concurrent`` at once for
calls), appends one :class:`Record` per operation to the shared :class:`Tally` as it ends,
and stops cleanly when cancelled (the run's duration is over, or Ctrl-C): calls still up
are hung up and recorded as ``stopped``.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import trio

from pbxedge.iax2.codecs import Codec, codec_name
from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.frames import FullFrame, parse_datagram
from pbxedge.iax2.newcall import build_new
from pbxedge.load.agent import Account, AgentCall, CallAgent
from pbxedge.load.audio import AudioSource, CallMeter, Expectation, media_format

__all__ = [
    "CallsScenario",
    "FloodScenario",
    "PokeScenario",
    "Record",
    "RegisterScenario",
    "Scenario",
    "Tally",
    "expand_names",
    "run_scenario",
]

Address = tuple[str, int]

_FRAME_SECONDS = 0.02
_DRAIN_SECONDS = 0.3  # after the last frame, for its echo to come back
_REGISTRATION_RETRY = 5.0  # after a refused or unanswered registration
_NAME_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")


def expand_names(pattern: str) -> list[str]:
    """``p{1..3}`` -> ``p1 p2 p3``; a pattern without a range is one name."""
    found = _NAME_RANGE.search(pattern)
    if found is None:
        return [pattern]
    first, last = int(found.group(1)), int(found.group(2))
    if last < first:
        raise ValueError(f"empty range in {pattern!r}")
    width = len(found.group(1)) if found.group(1).startswith("0") else 0
    head, tail = pattern[:found.start()], pattern[found.end():]
    return [f"{head}{n:0{width}d}{tail}" for n in range(first, last + 1)]


@dataclass
class Record:
    """One operation: a call, a registration, a POKE or a flooding NEW."""

    kind: str
    start: float  # seconds since the run started
    end: float
    outcome: str  # answered, rejected, hangup, timeout, stopped, registered, refused, pong…
    ok: bool
    setup_ms: float | None = None  # NEW → ACCEPT, REGREQ → REGACK, POKE → PONG
    answer_ms: float | None = None  # NEW → ANSWER
    cause: int | None = None
    cause_text: str = ""
    sent: int = 0
    received: int = 0
    lost: int = 0
    loss_pct: float | None = None  # on the way to us
    tx_loss_pct: float | None = None  # on the way out (echo calls)
    late: int = 0
    reordered: int = 0
    duplicates: int = 0
    jitter_ms: float | None = None
    echo_ms: float | None = None  # median round trip to an echo
    echo_p99_ms: float | None = None
    mos: float | None = None
    codec: str = ""
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != ""}


@dataclass
class Tally:
    """What every scenario of a run reports, as it happens."""

    started_at: float  # trio clock at the start of the run
    records: list[Record] = field(default_factory=list)
    in_progress: Counter[str] = field(default_factory=Counter)  # kind -> live operations
    attempted: Counter[str] = field(default_factory=Counter)
    frames_sent: int = 0
    frames_received: int = 0

    def since_start(self, now: float) -> float:
        return now - self.started_at

    def add(self, record: Record) -> None:
        self.records.append(record)


# -- scenarios ------------------------------------------------------------------------------


@dataclass
class CallsScenario:
    target: Address
    exten: str
    count: int
    concurrent: int | None = None  # None: as many as calls
    rate: float = 10.0
    hold: float = 0.0
    account: Account = field(default_factory=Account)
    codec: int = Codec.ULAW
    media: AudioSource | None = None
    expect: Expectation | None = None
    context: str | None = None
    timeout: float = 10.0  # for the answer
    late_ms: float = 60.0
    kind: str = "call"


@dataclass
class RegisterScenario:
    target: Address
    users: list[str]
    secret: str | None = None
    key_file: Path | None = None
    rate: float = 10.0
    refresh: int = 60  # asked for in the REGREQ
    reregister: float | None = None  # seconds between refreshes (None: 5/6 of the grant)
    timeout: float = 10.0
    kind: str = "register"


@dataclass
class PokeScenario:
    target: Address
    count: int
    rate: float = 10.0
    timeout: float = 5.0
    kind: str = "poke"


@dataclass
class FloodScenario:
    target: Address
    count: int
    rate: float = 100.0
    exten: str = "s"
    username: str | None = None
    timeout: float = 2.0
    kind: str = "flood"


Scenario = CallsScenario | RegisterScenario | PokeScenario | FloodScenario


async def run_scenario(scenario: Scenario, agent: CallAgent, tally: Tally) -> None:
    if isinstance(scenario, CallsScenario):
        await _Calls(scenario, agent, tally).run()
    elif isinstance(scenario, RegisterScenario):
        await _register(scenario, agent, tally)
    elif isinstance(scenario, PokeScenario):
        await _poke(scenario, agent, tally)
    else:
        await _flood(scenario, tally)


async def _paced(index: int, rate: float, origin: float) -> None:
    await trio.sleep_until(origin + index / rate)


def _ms(start: float, at: float | None) -> float | None:
    return None if at is None else (at - start) * 1000.0


# -- calls ----------------------------------------------------------------------------------


class _Calls:
    def __init__(self, scenario: CallsScenario, agent: CallAgent, tally: Tally) -> None:
        self.s = scenario
        self.agent = agent
        self.tally = tally
        self.fmt = media_format(scenario.codec)
        self.frames: list[bytes] = []
        if scenario.media is not None and self.fmt is not None:
            self.frames = scenario.media.frames(self.fmt)
        self.talking: dict[int, tuple[AgentCall, CallMeter]] = {}
        self.limit = trio.Semaphore(scenario.concurrent or scenario.count)

    async def run(self) -> None:
        origin = trio.current_time()
        async with trio.open_nursery() as nursery:
            if self.frames:
                nursery.start_soon(self._media)
            async with trio.open_nursery() as calls:
                for index in range(self.s.count):
                    await self.limit.acquire()
                    await _paced(index, self.s.rate, origin)
                    calls.start_soon(self._call)
            nursery.cancel_scope.cancel()

    async def _media(self) -> None:
        """Every 20 ms, one frame for every call that is up (one flush for all)."""
        agent, frames = self.agent, self.frames
        assert self.fmt is not None
        samples = self.fmt.frame_samples
        tick = trio.current_time()
        index = 0
        while True:
            tick += _FRAME_SECONDS
            await trio.sleep_until(tick)
            now = trio.current_time()
            payload = frames[index % len(frames)]
            index += 1
            for call, meter in self.talking.values():
                agent.send_voice(call, meter.sending(payload, now), samples, now)
            self.tally.frames_sent += len(self.talking)
            agent.flush()

    async def _call(self) -> None:
        s, agent, tally = self.s, self.agent, self.tally
        tally.attempted[s.kind] += 1
        tally.in_progress[s.kind] += 1
        call = agent.call(s.target, s.exten, s.account, codec=s.codec, context=s.context)
        meter = CallMeter(media_format(s.codec), s.codec, s.late_ms)
        call.on_voice = meter.received
        outcome = ""
        try:
            with trio.move_on_after(s.timeout):
                await call.settled.wait()
            if not call.answered.is_set():
                outcome = "timeout" if not call.ended.is_set() else (
                    "rejected" if call.rejected else "hangup")
                return
            meter.fmt = media_format(call.codec)  # the codec the far end chose
            meter.codec = call.codec
            if self.frames:
                self.talking[call.callno] = (call, meter)
            with trio.move_on_after(s.hold):
                await call.ended.wait()
            if call.ended.is_set():
                outcome = "hangup"  # the far end hung up first
                return
            self.talking.pop(call.callno, None)
            if self.frames:
                with trio.move_on_after(_DRAIN_SECONDS):
                    await call.ended.wait()
            outcome = "answered"
        finally:
            self.talking.pop(call.callno, None)
            tally.in_progress[s.kind] -= 1
            self.limit.release()
            if not outcome:
                outcome = "stopped"
            if not call.ended.is_set():
                agent.hangup(call, 16)
                if outcome == "timeout":
                    agent.endpoint.destroy(call.callno, trio.current_time())
            tally.add(self._record(call, meter, outcome))
            tally.frames_received += meter.stream.received + meter.stream.duplicates
            agent.forget(call)

    def _record(self, call: AgentCall, meter: CallMeter, outcome: str) -> Record:
        now = trio.current_time()
        stream = meter.stream
        ok = outcome == "answered"
        detail = ""
        if ok and self.s.expect is not None:
            why = meter.check(self.s.expect)
            if why is not None:
                ok, outcome, detail = False, "expect", why
        talked = bool(meter.sent or stream.received)
        return Record(
            kind="call",
            start=self.tally.since_start(call.started),
            end=self.tally.since_start(now),
            outcome=outcome,
            ok=ok,
            setup_ms=_ms(call.started, call.accepted_at),
            answer_ms=_ms(call.started, call.answered_at),
            cause=call.cause,
            cause_text=call.cause_text,
            sent=meter.sent,
            received=stream.received,
            lost=stream.lost,
            loss_pct=stream.loss_pct if talked else None,
            tx_loss_pct=meter.tx_loss_pct(),
            late=stream.late,
            reordered=stream.reordered,
            duplicates=stream.duplicates,
            jitter_ms=stream.jitter_ms if stream.received > 1 else None,
            echo_ms=meter.echo_ms(),
            echo_p99_ms=meter.echo_ms(99),
            mos=meter.mos(),
            codec=codec_name(call.codec),
            detail=detail,
        )


# -- registrations --------------------------------------------------------------------------


async def _register(s: RegisterScenario, agent: CallAgent, tally: Tally) -> None:
    origin = trio.current_time()
    async with trio.open_nursery() as nursery:
        for index, user in enumerate(s.users):
            nursery.start_soon(_peer, s, agent, tally, user, origin + index / s.rate)


async def _peer(s: RegisterScenario, agent: CallAgent, tally: Tally, user: str,
                at: float) -> None:
    account = Account(username=user, secret=s.secret, key_file=s.key_file)
    while True:
        await trio.sleep_until(at)
        tally.attempted[s.kind] += 1
        tally.in_progress[s.kind] += 1
        registration = agent.register(s.target, account, s.refresh)
        outcome = "stopped"
        try:
            with trio.move_on_after(s.timeout):
                await registration.ended.wait()
            if registration.granted:
                outcome = "registered"
            elif registration.ended.is_set() and registration.cause != "no answer":
                outcome = "refused"
            else:
                outcome = "timeout"
        finally:
            tally.in_progress[s.kind] -= 1
            if not registration.ended.is_set():
                agent.endpoint.destroy(registration.callno, trio.current_time())
            granted = registration.granted
            tally.add(Record(
                kind="register", start=tally.since_start(registration.started),
                end=tally.since_start(trio.current_time()), outcome=outcome, ok=granted,
                setup_ms=_ms(registration.started, registration.ended_at) if granted else None,
                cause_text=registration.cause, detail=user))
        if granted:
            every = s.reregister if s.reregister is not None else registration.refresh * 5 / 6
            at = registration.started + max(every, 0.001)
        else:
            at = trio.current_time() + _REGISTRATION_RETRY


# -- pokes ----------------------------------------------------------------------------------


async def _poke(s: PokeScenario, agent: CallAgent, tally: Tally) -> None:
    origin = trio.current_time()
    async with trio.open_nursery() as nursery:
        for index in range(s.count):
            await _paced(index, s.rate, origin)
            nursery.start_soon(_one_poke, s, agent, tally)


async def _one_poke(s: PokeScenario, agent: CallAgent, tally: Tally) -> None:
    tally.attempted[s.kind] += 1
    tally.in_progress[s.kind] += 1
    poke = agent.poke(s.target)
    try:
        with trio.move_on_after(s.timeout):
            await poke.ended.wait()
    finally:
        tally.in_progress[s.kind] -= 1
        if not poke.ended.is_set():
            agent.endpoint.destroy(poke.callno, trio.current_time())
        rtt = poke.rtt_ms
        tally.add(Record(kind="poke", start=tally.since_start(poke.started),
                         end=tally.since_start(trio.current_time()),
                         outcome="timeout" if rtt is None else "pong", ok=rtt is not None,
                         setup_ms=None if rtt is None else float(rtt)))


# -- flood ----------------------------------------------------------------------------------

_FLOOD_FIRST_CALL = 2


async def _flood(s: FloodScenario, tally: Tally) -> None:
    """Token-less NEWs from one raw socket, each from its own source call number. A NEW the
    server lets in (AUTHREQ or ACCEPT) is a failure: with call tokens required it must be
    refused (REJECT) or dropped. Those let in are sent INVAL, so they end at once."""
    family = trio.socket.AF_INET6 if ":" in s.target[0] else trio.socket.AF_INET
    sock = trio.socket.socket(family, trio.socket.SOCK_DGRAM)
    await sock.bind(("::1" if family == trio.socket.AF_INET6 else "127.0.0.1", 0))
    sent_at: dict[int, float] = {}
    ies = build_new(s.exten, prefs=[Codec.ULAW], capability=Codec.ULAW, format=Codec.ULAW,
                    now_datetime=datetime.now(), username=s.username,
                    calling_number="2001", calling_name="pbxedge load")
    payload = ies.encode()

    async def receive() -> None:
        while True:
            data = await sock.recv(65535)
            try:
                frame = parse_datagram(data)
            except MalformedFrame:
                continue
            if not isinstance(frame, FullFrame) or frame.dest_call not in sent_at:
                continue
            started = sent_at.pop(frame.dest_call)
            sub = frame.iax_subclass if frame.frametype == FrameType.IAX else None
            admitted = sub in (IaxSubclass.AUTHREQ, IaxSubclass.ACCEPT)
            if admitted and frame.source_call > 1:
                inval = FullFrame(frame.dest_call, frame.source_call, 0, 0, 0, FrameType.IAX,
                                  IaxSubclass.INVAL)
                await sock.sendto(inval.encode(), s.target)
            text = ""
            if sub is IaxSubclass.REJECT:
                with contextlib.suppress(MalformedFrame):
                    text = frame.ies().get_str(IE.CAUSE) or ""
            now = trio.current_time()
            tally.in_progress[s.kind] -= 1
            tally.add(Record(kind="flood", start=tally.since_start(started),
                             end=tally.since_start(now),
                             outcome=(sub.name.lower() if sub is not None else "other"),
                             ok=not admitted, setup_ms=(now - started) * 1000.0,
                             cause_text=text))

    origin = trio.current_time()
    with sock:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            try:
                for index in range(s.count):
                    await _paced(index, s.rate, origin)
                    callno = _FLOOD_FIRST_CALL + index % (0x7FFF - _FLOOD_FIRST_CALL)
                    frame = FullFrame(callno, 0, index & 0xFFFFFFFF, 0, 0, FrameType.IAX,
                                      IaxSubclass.NEW, payload)
                    sent_at[callno] = trio.current_time()
                    tally.attempted[s.kind] += 1
                    tally.in_progress[s.kind] += 1
                    await sock.sendto(frame.encode(), s.target)
                with trio.move_on_after(s.timeout):
                    while sent_at:
                        await trio.sleep(0.05)
            finally:
                nursery.cancel_scope.cancel()
                now = trio.current_time()
                for started in sent_at.values():
                    tally.in_progress[s.kind] -= 1
                    tally.add(Record(kind="flood", start=tally.since_start(started),
                                     end=tally.since_start(now), outcome="no reply", ok=True))
