"""The one error type the wire layer raises for bad input."""

from __future__ import annotations

__all__ = ["MalformedFrame"]


class MalformedFrame(ValueError):
    """A datagram that is not valid IAX2; carries a reason string."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
