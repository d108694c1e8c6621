"""Wire format of the control socket.

Request:  one command line, UTF-8, ended by ``\\n`` (at most ``MAX_REQUEST_BYTES``).
Response: the body's length in bytes as ASCII decimal, ``\\n``, then exactly that
          many bytes of UTF-8 text (the command's output, verbatim).

Refusal:  ``!``, a reason, ``\\n``, in place of a response header; then the node closes
          the connection (it serves as many console clients as it may).

A length prefix rather than an end marker means any output, even one containing
a would-be marker, arrives intact.  A connection carries any number of
request/response pairs in order; either side may close it between pairs (the node
closes connections left idle), so a client that finds its connection at end-of-stream
before sending a request may open a new one: nothing was lost.
"""

from __future__ import annotations

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_REFUSAL_BYTES",
    "MAX_REQUEST_BYTES",
    "MAX_RESPONSE_BYTES",
    "ConsoleBusy",
    "ProtocolError",
    "decode_request",
    "encode_refusal",
    "encode_request",
    "encode_response",
    "parse_response_header",
]

MAX_REQUEST_BYTES = 4096
# A response header is a decimal length; 20 digits is far beyond any real output.
MAX_HEADER_BYTES = 21
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# The longest line a client reads before a body: a refusal's reason fits.
MAX_REFUSAL_BYTES = 256


class ProtocolError(Exception):
    """The other side sent something that is not this protocol."""


class ConsoleBusy(Exception):
    """The node runs but takes no console client now; the message says why."""


def encode_request(command: str) -> bytes:
    if "\n" in command or "\r" in command:
        raise ProtocolError("a command is a single line")
    data = command.encode("utf-8") + b"\n"
    if len(data) > MAX_REQUEST_BYTES:
        raise ProtocolError(f"command longer than {MAX_REQUEST_BYTES} bytes")
    return data


def decode_request(line: bytes) -> str:
    """The command in one request line (without its ``\\n``); bad UTF-8 is replaced."""
    return line.decode("utf-8", errors="replace").rstrip("\r")


def encode_response(text: str) -> bytes:
    # "replace": output may quote undecodable file names (lone surrogates).
    body = text.encode("utf-8", errors="replace")
    return str(len(body)).encode("ascii") + b"\n" + body


def encode_refusal(reason: str) -> bytes:
    """*reason*: one short line (a client reads at most ``MAX_REFUSAL_BYTES``)."""
    return b"!" + reason.encode("utf-8", errors="replace") + b"\n"


def parse_response_header(header: bytes) -> int:
    """The body length announced by a response header line (without its ``\\n``).

    :raises ConsoleBusy: the line is a refusal.
    """
    if header.startswith(b"!"):
        raise ConsoleBusy(header[1:].decode("utf-8", errors="replace"))
    if not header.isdigit() or len(header) > MAX_HEADER_BYTES:
        raise ProtocolError(f"bad response header {header[:40]!r}")
    length = int(header)
    if length > MAX_RESPONSE_BYTES:
        raise ProtocolError(f"response of {length} bytes is too large")
    return length
