"""The manager protocol on the wire: ``Key: Value`` lines ended by CRLF, a blank line
ending each message (reference ami.md §2). Pure functions and a byte-fed reader; the
session does the I/O.

As in Asterisk, only CRLF ends a line, header names are matched case-insensitively and in
any order, a key may repeat (``Variable:``), and a value starts after the colon and the
blanks that follow it. A line or a message that exceeds the limits below is refused
whole rather than cut: the reader raises :class:`OversizedMessage` and the session drops
the client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "BANNER",
    "MAX_HEADERS",
    "MAX_LINE",
    "Message",
    "MessageReader",
    "OversizedMessage",
    "encode",
    "integer",
    "list_complete",
    "response",
]

# The AMI protocol version, not Asterisk's (manager.h AMI_VERSION): clients parse it.
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
# Asterisk reads a line into 1025 bytes and a message into 128 headers
# (AST_MAX_MANHEADERS); a little more room here refuses nothing a client sends.
MAX_LINE = 4096
MAX_HEADERS = 128

Pairs = Sequence[tuple[str, str]]
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


class OversizedMessage(ValueError):
    """A line or a message beyond :data:`MAX_LINE` / :data:`MAX_HEADERS`."""


@dataclass(frozen=True)
class Message:
    """One message from a client: its header lines, in order."""

    lines: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str:
        """The first non-empty value of *key* (``astman_get_header``), or ``""``."""
        wanted = key.lower()
        for name, value in self.lines:
            if name.lower() == wanted and value:
                return value
        return ""

    def get_all(self, key: str) -> list[str]:
        wanted = key.lower()
        return [value for name, value in self.lines if name.lower() == wanted]

    @property
    def action(self) -> str:
        return self.get("Action")

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    @property
    def id_lines(self) -> list[tuple[str, str]]:
        """The ``ActionID`` line a reply repeats, or none when the request had none."""
        return [("ActionID", self.action_id)] if self.action_id else []


def _parse_line(line: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    if not colon:
        return line, ""  # kept, as Asterisk keeps it, but it matches no key
    return name, value.lstrip(" \t")


class MessageReader:
    """Bytes in, messages out."""

    def __init__(self) -> None:
        self._buffer = b""
        self._lines: list[tuple[str, str]] = []

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages: list[Message] = []
        while True:
            end = self._buffer.find(b"\r\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    raise OversizedMessage(f"a line longer than {MAX_LINE} bytes")
                return messages
            raw, self._buffer = self._buffer[:end], self._buffer[end + 2:]
            if len(raw) > MAX_LINE:
                raise OversizedMessage(f"a line longer than {MAX_LINE} bytes")
            if not raw:
                if self._lines:
                    messages.append(Message(tuple(self._lines)))
                    self._lines = []
                continue
            if len(self._lines) >= MAX_HEADERS:
                raise OversizedMessage(f"a message of more than {MAX_HEADERS} lines")
            self._lines.append(_parse_line(raw.decode("utf-8", errors="replace")))


def integer(text: str) -> int | None:
    """A header's whole number (``sscanf %d`` of a sane size), or None."""
    value = text.strip()
    return int(value) if _INTEGER.fullmatch(value) else None


def encode(pairs: Iterable[tuple[str, str]]) -> bytes:
    """A message: each pair as ``Key: Value`` (an empty value keeps its trailing space,
    as Asterisk sends it), then the blank line."""
    return "".join(f"{key}: {value}\r\n" for key, value in pairs).encode() + b"\r\n"


def response(request: Message, status: str = "Success", message: str | None = None,
             extra: Pairs = (), *, list_start: bool = False) -> bytes:
    """``astman_send_response_full``: Response, ActionID (when the request had one),
    ``EventList: start`` for lists, Message, then *extra*."""
    pairs = [("Response", status), *request.id_lines]
    if list_start:
        pairs.append(("EventList", "start"))
    if message is not None:
        pairs.append(("Message", message))
    pairs.extend(extra)
    return encode(pairs)


def list_complete(request: Message, event: str, items: int, extra: Pairs = ()) -> bytes:
    """The event that closes a list (``astman_send_list_complete_start``)."""
    pairs = [("Event", event), *request.id_lines, ("EventList", "Complete"),
             ("ListItems", str(items)), *extra]
    return encode(pairs)
