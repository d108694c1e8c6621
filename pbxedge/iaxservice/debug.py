"""``iax2 set debug on|off|peer NAME``: every frame in Asterisk's debug layout;
``iax2 set debug trunk on|off``: one line per meta trunk frame sent or received.

The tap sits between the transport and the endpoint, so the protocol core stays free of
logging.  Frames of encrypted calls cannot be shown from outside the endpoint; they are
reported by their clear header only (call numbers), which is what travels in clear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pbxedge.iax2.endpoint import Endpoint, UnknownCall
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.events import Event
from pbxedge.iax2.frames import FullFrame, MetaTrunkFrame, parse_datagram
from pbxedge.iax2.showframe import format_addr, show_frame

__all__ = ["FrameDebugger", "TappedEndpoint"]

Address = tuple[str, int]
logger = logging.getLogger("pbxedge.iax2.debug")


class FrameDebugger:
    """What to print: nothing, every frame, or the frames of one address.

    *on_change* is told whenever that changes: the transport drives the bare endpoint
    while nothing is shown, so the tap costs nothing then.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self.enabled = False
        self.only: Address | None = None
        self._trunk = False
        self._on_change = on_change

    @property
    def active(self) -> bool:
        """Whether any frame may be shown."""
        return self.enabled or self._trunk

    @property
    def trunk(self) -> bool:
        return self._trunk

    @trunk.setter
    def trunk(self, on: bool) -> None:
        self._trunk = on
        self._changed()

    def set(self, enabled: bool, only: Address | None = None) -> None:
        self.enabled = enabled
        self.only = only
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def wants(self, addr: Address) -> bool:
        return self.enabled and (self.only is None or self.only == addr)

    def show(self, data: bytes, direction: str, addr: Address, encrypted: bool) -> None:
        if encrypted:
            logger.warning("%s-Frame (encrypted, %d bytes) %s", direction, len(data),
                           format_addr(*addr))
            return
        try:
            frame = parse_datagram(data)
        except MalformedFrame as exc:
            logger.warning("%s-Frame malformed (%s) %s", direction, exc.reason, format_addr(*addr))
            return
        if isinstance(frame, FullFrame):
            # One record per line: a log record never spans lines.
            for line in show_frame(frame, direction, addr).rstrip("\n").split("\n"):
                logger.warning("%s", line)

    def show_trunk(self, data: bytes, direction: str, addr: Address) -> None:
        try:
            frame = parse_datagram(data)
        except MalformedFrame as exc:
            logger.warning("%s-Trunk malformed (%s) %s", direction, exc.reason, format_addr(*addr))
            return
        if isinstance(frame, MetaTrunkFrame):
            calls = len({entry.call for entry in frame.entries})
            logger.warning("%s-Trunk %s: %d call chunk%s of %d call%s in %d bytes, trunk ts %d%s",
                           direction, format_addr(*addr), len(frame.entries),
                           "" if len(frame.entries) == 1 else "s", calls,
                           "" if calls == 1 else "s", len(data), frame.timestamp,
                           ", with timestamps" if frame.with_timestamps else "")


def _is_trunk(data: bytes) -> bool:
    return len(data) >= 8 and data[0] == 0 and data[1] == 0 and data[2] == 1


class TappedEndpoint:
    """The endpoint as the transport sees it, printing frames while debugging is on."""

    def __init__(self, endpoint: Endpoint, debugger: FrameDebugger) -> None:
        self._endpoint = endpoint
        self._debug = debugger

    def _encrypted(self, callno: int) -> bool:
        try:
            return self._endpoint.is_encrypted(callno)
        except UnknownCall:  # stateless replies, INVAL, frames of calls already gone
            return False

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        if self._debug.wants(addr) and len(data) >= 4 and data[0] & 0x80:
            dest = int.from_bytes(data[2:4], "big") & 0x7FFF
            self._debug.show(data, "Rx", addr, self._encrypted(dest))
        elif self._debug.trunk and _is_trunk(data):
            self._debug.show_trunk(data, "Rx", addr)
        self._endpoint.receive_datagram(data, addr, now)

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        out = self._endpoint.datagrams_to_send(now)
        if self._debug.enabled or self._debug.trunk:
            for data, addr in out:
                if self._debug.wants(addr) and len(data) >= 4 and data[0] & 0x80:
                    source = int.from_bytes(data[0:2], "big") & 0x7FFF
                    self._debug.show(data, "Tx", addr, self._encrypted(source))
                elif self._debug.trunk and _is_trunk(data):
                    self._debug.show_trunk(data, "Tx", addr)
        return out

    def get_timer(self) -> float | None:
        return self._endpoint.get_timer()

    def handle_timer(self, now: float) -> None:
        self._endpoint.handle_timer(now)

    def next_event(self) -> Event | None:
        return self._endpoint.next_event()
