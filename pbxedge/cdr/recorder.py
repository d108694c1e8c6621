"""Turning a finished call into its CDR and writing it to every backend.

The call service hands over the channel and how it left the dialplan; which fields come
from where follows Asterisk 22 (media.md §7.1): ``dst``/``dcontext``/``lastapp``/``lastdata``
from the last priority run before ``h`` (``endbeforehexten=yes``), ``dstchannel`` from the
last ``Dial``, the disposition from the answer or ``DIALSTATUS``. An unanswered call that
dialled nobody gets no record unless ``unanswered=yes``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from dialplan.call import format_callerid
from dialplan.engine import CallOutcome
from pbxedge.cdr.config import CdrConfig
from pbxedge.cdr.csvlog import CsvCdrLog
from pbxedge.cdr.record import AmaFlags, CdrRecord, disposition_for
from pbxedge.events import Cdr, EventBus

__all__ = ["CdrChannel", "CdrEvents", "CdrRecorder", "CdrSink"]

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
        for sink in self.sinks:
            try:
                sink.save_cdr(record)
            except Exception as exc:  # a backend failing must not lose the others
                logger.error("CDR for %s not stored: %s", channel.name, exc)
