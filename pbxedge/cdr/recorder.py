"""Turning a finished call into its CDR and writing it to every backend.

The call service hands over the channel and how it left the dialplan; which fields come
from where follows Asterisk 22 (media.md §7.1): ``dst``/``dcontext``/``lastapp``/``lastdata``
from the last priority run before ``h`` (``endbeforehexten=yes``), ``dstchannel`` from the
last ``Dial``, the disposition from the answer or ``DIALSTATUS``. An unanswered call that
dialled nobody gets no record unless ``unanswered=yes``.

Master.csv gets each record at the hangup, and so does the manager's ``Cdr`` event (the
``notify`` backends; Asterisk's comes before the channel's ``Hangup`` event). The stores (the
state database, the PostgreSQL outbox) get it in the next scheduler pass, with the records
of every other call that ended in the same pass, in one transaction: a group commit (at a
thousand call setups a second, a transaction per call was a sixth of each). Asterisk, outside
batch mode, hands each record to its backends from another thread, so none had it at the
instant of the hangup either. In batch mode (``cdr.conf`` ``batch=yes``) every backend but
the CSV file gets the records together: when ``size`` of them wait, when the first has waited
``time`` seconds. :class:`CdrBatches` posts what waits (:meth:`CdrRecorder.post_due`), and so
do a reload and a clean stop.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

import trio

from dialplan.call import format_callerid
from dialplan.engine import CallOutcome
from pbxedge.cdr.config import CdrConfig
from pbxedge.cdr.csvlog import CsvCdrLog
from pbxedge.cdr.record import AmaFlags, CdrRecord, disposition_for
from pbxedge.events import Cdr, EventBus

__all__ = ["CdrBatches", "CdrChannel", "CdrEvents", "CdrRecorder", "CdrSink"]

logger = logging.getLogger("pbxedge.cdr")


class CdrChannel(Protocol):
    """What a record needs of a channel."""

    @property
    def name(self) -> str: ...
    @property
    def uniqueid(self) -> str: ...

    caller_num: str | None
    caller_name: str | None
    accountcode: str
    amaflags: str
    variables: dict[str, str]
    created_at: float  # unix time
    answered_at: float | None
    dial_peer: str


class CdrSink(Protocol):
    def save_cdr(self, record: CdrRecord) -> None: ...


@dataclass
class CdrEvents:
    """A sink that tells the node's event bus of each record (the manager's Cdr event)."""

    bus: EventBus
    initiated_seconds: bool = False

    def save_cdr(self, record: CdrRecord) -> None:
        self.bus.publish(Cdr(record, self.initiated_seconds))


@dataclass
class CdrRecorder:
    config: CdrConfig
    csv: CsvCdrLog | None
    sinks: tuple[CdrSink, ...] = ()
    # What makes one post a single database transaction (the store's).
    transaction: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext
    clock: Callable[[], float] = trio.current_time
    # Told when a batch starts waiting, so that its deadline is kept. Without one (no
    # CdrBatches attached) records outside batch mode are posted at the hangup, each alone.
    batch_started: Callable[[], None] | None = None
    # Backends that only tell someone (the manager's event): outside batch mode, at the hangup.
    notify: tuple[CdrSink, ...] = ()
    _waiting: list[CdrRecord] = field(default_factory=list)
    _first_waited_at: float = math.inf
    _stopped: bool = False

    def build(self, channel: CdrChannel, outcome: CallOutcome) -> CdrRecord | None:
        steps = [s for s in outcome.trace if s.exten != "h"] if self.config.endbeforehexten \
            else outcome.trace
        last = steps[-1] if steps else None
        answered = channel.answered_at is not None
        disposition = disposition_for(answered, channel.variables.get("DIALSTATUS"),
                                      congestion=self.config.congestion)
        if not answered and not channel.dial_peer and not self.config.unanswered:
            return None
        return CdrRecord(
            accountcode=channel.accountcode or "",
            src=channel.caller_num or "",
            dst=last.exten if last else "",
            dcontext=last.context if last else "",
            clid=format_callerid(channel.caller_name, channel.caller_num),
            channel=channel.name,
            dstchannel=channel.dial_peer,
            lastapp=last.app if last else "",
            lastdata=last.data if last else "",
            start=channel.created_at,
            answer=channel.answered_at,
            end=max(outcome.ended_at, channel.created_at),
            disposition=disposition,
            amaflags=AmaFlags.from_config(channel.amaflags),
            uniqueid=channel.uniqueid,
            userfield=channel.variables.get("CDR_USERFIELD", ""),
            linkedid=channel.uniqueid,
        )

    def call_ended(self, channel: CdrChannel, outcome: CallOutcome) -> None:
        if not self.config.enable:
            return
        record = self.build(channel, outcome)
        if record is None:
            return
        if self.csv is not None:
            self.csv.write(record)
        if self._stopped or not self.config.batch:
            self._post([record], self.notify)
            if self._stopped or self.batch_started is None:
                self._post([record], self.sinks)
                return
        self._waiting.append(record)
        if len(self._waiting) == 1:
            self._first_waited_at = self.clock()
            if self.batch_started is not None:
                self.batch_started()
        if self.config.batch and len(self._waiting) >= self.config.size:
            self.post_waiting()

    @property
    def waiting(self) -> int:
        """Records of the batch not yet posted."""
        return len(self._waiting)

    @property
    def due(self) -> float | None:
        """When the waiting records are to be posted: ``time`` after the first in batch
        mode, at once (the scheduler pass after they ended) otherwise."""
        if not self._waiting:
            return None
        return self._first_waited_at + (self.config.time if self.config.batch else 0)

    def post_due(self, now: float) -> None:
        due = self.due
        if due is not None and now >= due:
            self.post_waiting()

    def post_waiting(self, *, final: bool = False) -> None:
        """Post the waiting batch now; *final* posts every later record at once (the
        node is stopping: nothing would post a new batch)."""
        self._stopped = self._stopped or final
        waiting, self._waiting = self._waiting, []
        self._first_waited_at = math.inf
        if waiting:
            self._post(waiting, (*self.sinks, *self.notify) if self.config.batch else self.sinks)

    def _post(self, records: list[CdrRecord], sinks: tuple[CdrSink, ...]) -> None:
        # One record is one write per backend already; a batch shares one commit.
        together = self.transaction() if len(records) > 1 else contextlib.nullcontext()
        try:
            with together:
                for record in records:
                    for sink in sinks:
                        try:
                            sink.save_cdr(record)
                        except Exception as exc:  # a backend failing must not lose the others
                            logger.error("CDR for %s not stored: %s", record.channel, exc)
        except Exception as exc:
            logger.error("%d CDRs not stored: %s", len(records), exc)


class CdrBatches:
    """The node's service that posts waiting CDRs when their time is up (outside batch
    mode, in the scheduler pass after their calls ended), and what waits when the node
    stops."""

    name = "cdr"

    def __init__(self, recorder: CdrRecorder) -> None:
        self._recorder = recorder
        self._started = trio.Event()
        recorder.batch_started = self._wake

    def _wake(self) -> None:
        self._started.set()

    def register_commands(self, registry: object) -> None:
        """No console commands."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        recorder = self._recorder
        while True:
            due = recorder.due
            if due is None:
                await self._started.wait()
                self._started = trio.Event()
                continue
            if due > trio.current_time():
                await trio.sleep_until(due)
            recorder.post_due(trio.current_time())

    async def stop(self) -> None:
        self._recorder.post_waiting(final=True)
