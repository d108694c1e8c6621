"""Cutting a stream of payloads of any size into frames of exactly N milliseconds."""

from __future__ import annotations

from pbxedge.media.formats import Format


class Reframer:
    """Collects payloads of ``fmt`` and hands out whole ``ms`` millisecond frames.

    Payloads must be whole codec units (2 bytes of slin, a 33-byte GSM frame); one that is not
    raises `PayloadError` and leaves the buffer as it was, so sample alignment is never lost.
    """

    def __init__(self, fmt: Format, ms: int = 20) -> None:
        self.format = fmt
        self.frame_bytes = fmt.bytes_for_ms(ms)
        self._buffer = bytearray()

    def feed(self, payload: bytes) -> list[bytes]:
        """Add ``payload``; return every complete frame now available, oldest first."""
        self.format.check_payload(payload)
        self._buffer += payload
        size = self.frame_bytes
        whole = len(self._buffer) - len(self._buffer) % size
        if not whole:
            return []
        frames = [bytes(self._buffer[i : i + size]) for i in range(0, whole, size)]
        del self._buffer[:whole]
        return frames

    @property
    def pending(self) -> int:
        """Bytes waiting for the rest of their frame."""
        return len(self._buffer)

    def flush(self) -> bytes:
        """Return and forget the incomplete remainder (whole units, possibly empty)."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest
