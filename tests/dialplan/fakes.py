"""Test doubles for the dialplan: a scripted channel that records what happened, and a
scripted dialer."""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from dialplan.channel import (
    ChannelState,
    Feature,
    Indication,
    PcmSource,
    Played,
    RecordRequest,
    RecordResult,
    RecordStatus,
    SoundNotFound,
)
from dialplan.dialer import DialResult, DialStatus


class FakeChannel:
    """A channel whose caller presses scripted digits and hangs up after a while."""

    def __init__(self, *, name: str = "IAX2/test-1", caller_num: str | None = "2001",
                 caller_name: str | None = "Test Caller", features: set[Feature] | None = None,
                 digits: str = "", hangs_up_after: float | None = 3600.0,
                 uniqueid: str = "1700000000.1") -> None:
        self._name = name
        self._uniqueid = uniqueid
        self.caller_num = caller_num
        self.caller_name = caller_name
        self.caller_ani: str | None = caller_num
        self.language = "en"
        self.accountcode = ""
        self.dnid: str | None = None
        self.rdnis: str | None = None
        self.variables: dict[str, str] = {}
        self.hangup_cause = 0
        self._state = ChannelState.RING
        self._hungup = trio.Event()
        self.features = features or set()
        self.pending_digits = list(digits)
        self.hangs_up_after = hangs_up_after
        self.events: list[tuple[str, ...]] = []
        self.played: list[str] = []
        self.texts: list[str] = []
        self.missing_sounds: set[str] = {"nosuchfile"}
        self.recorded: list[RecordRequest] = []
        self.generators: list[PcmSource] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def uniqueid(self) -> str:
        return self._uniqueid

    @property
    def state(self) -> ChannelState:
        return self._state

    @property
    def is_hungup(self) -> bool:
        return self._hungup.is_set()

    def caller_hangs_up(self) -> None:
        self.events.append(("caller-hangup",))
        self._hungup.set()

    def supports(self, feature: Feature) -> bool:
        return feature in self.features

    async def answer(self) -> None:
        self.events.append(("answer",))
        self._state = ChannelState.UP

    async def hangup(self, cause: int) -> None:
        self.events.append(("hangup", str(cause)))
        self.hangup_cause = cause
        self._hungup.set()

    async def indicate(self, indication: Indication) -> None:
        self.events.append(("indicate", indication.value))

    async def send_text(self, text: str) -> bool:
        self.texts.append(text)
        return True

    async def send_dtmf(self, digits: str, duration_ms: int = 100, gap_ms: int = 250) -> None:
        self.events.append(("dtmf", digits))

    async def wait(self, seconds: float | None) -> bool:
        limit = seconds if seconds is not None else self.hangs_up_after
        with trio.move_on_after(limit if limit is not None else float("inf")):
            await self._hungup.wait()
            return False
        if seconds is None:
            self.caller_hangs_up()
            return False
        return True

    async def wait_for_digit(self, timeout: float | None) -> str | None:
        if self.pending_digits:
            digit = self.pending_digits.pop(0)
            if digit != " ":  # a space in the script means "the caller stays silent"
                return digit
        await self.wait(timeout)
        return None

    def sound_exists(self, filename: str) -> bool:
        return filename not in self.missing_sounds

    async def play(self, filename: str, escape_digits: str, offset: int = 0) -> Played:
        if filename in self.missing_sounds:
            raise SoundNotFound(filename)
        self.played.append(filename)
        if escape_digits and self.pending_digits and self.pending_digits[0] in escape_digits:
            return Played(self.pending_digits.pop(0), 0)
        return Played(None, 0)

    async def record(self, request: RecordRequest) -> RecordResult:
        self.events.append(("record", f"{request.path}.{request.fmt}"))
        self.recorded.append(request)
        if self.pending_digits and self.pending_digits[0] in request.terminators:
            return RecordResult(RecordStatus.DTMF, self.pending_digits.pop(0), 0)
        return RecordResult(RecordStatus.TIMEOUT, None, 0)

    async def echo(self) -> None:
        self.events.append(("echo",))
        await self.wait(None)

    async def start_generator(self, source: PcmSource) -> None:
        self.events.append(("generator", type(source).__name__))
        self.generators.append(source)

    async def stop_generator(self) -> None:
        self.events.append(("stop-generator",))

    async def start_moh(self, moh_class: str) -> bool:
        self.events.append(("moh", moh_class))
        return moh_class != "missing"

    async def stop_moh(self) -> None:
        self.events.append(("stop-moh",))


@dataclass
class FakeDialer:
    """Answers each dial with a scripted status per target."""

    results: dict[str, DialStatus] = field(default_factory=dict)
    default: DialStatus = DialStatus.NOANSWER
    dialled: list[tuple[list[str], float | None, str]] = field(default_factory=list)

    async def dial(self, channel: object, targets: list[str], timeout: float | None,
                   options: str) -> DialResult:
        self.dialled.append((targets, timeout, options))
        status = next((self.results[t] for t in targets if t in self.results), self.default)
        if timeout is not None and status is DialStatus.NOANSWER:
            await trio.sleep(timeout)
        return DialResult(status, 16 if status is DialStatus.ANSWER else 19)
