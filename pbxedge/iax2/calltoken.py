"""Call tokens: the stateless cookie that proves a requester owns its source address.

pbxedge's own token format (reference iax2.md §3.2): ``f"{ts}?{hex}"`` where ``hex`` is
HMAC-SHA256 over ``f"{ip}:{port}:{ts}"`` with a key chosen once per process. The token is
opaque to peers, so the format only has to be recomputable by us. Asterisk uses SHA-1 over
the same ingredients; the HMAC avoids length-extension games and the random key means a
restart invalidates every outstanding token, which is what we want.

Sans-IO: the caller passes ``now`` (seconds, same clock as everything else).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["MAX_TOKEN_LENGTH", "CallTokenIssuer"]

# An IE carries at most 255 bytes, so nothing longer can arrive; anything longer handed to
# validate() comes from a bug above us and is refused without hashing it.
MAX_TOKEN_LENGTH = 255


class CallTokenIssuer:
    """Issues and checks call tokens bound to one source ``(ip, port)``."""

    def __init__(self, key: bytes, expiration: float = 10.0) -> None:
        if not key:
            raise ValueError("call token key must not be empty")
        self._key = key
        self._expiration = expiration
        # Keyed once; each digest copies this state instead of keying HMAC again.
        self._hmac = hmac.new(key, digestmod=hashlib.sha256)

    @property
    def expiration(self) -> float:
        return self._expiration

    @expiration.setter
    def expiration(self, seconds: float) -> None:
        """A reload's ``calltokenexpiration``: tokens already out are judged by the new one."""
        self._expiration = seconds

    def _digest(self, addr: tuple[str, int], ts: int) -> str:
        mac = self._hmac.copy()
        mac.update(f"{addr[0]}:{addr[1]}:{ts}".encode())
        return mac.hexdigest()

    def issue(self, addr: tuple[str, int], now: float) -> str:
        """Return a token for ``addr`` stamped with the current whole second."""
        ts = int(now)
        return f"{ts}?{self._digest(addr, ts)}"

    def validate(self, token: str, addr: tuple[str, int], now: float) -> bool:
        """True when ``token`` was issued by us for ``addr`` and has not expired.

        Valid means ``0 <= now - ts < expiration``: a timestamp from the future is refused
        as firmly as a stale one, so a forged far-future stamp cannot live forever.
        """
        if len(token) > MAX_TOKEN_LENGTH:
            return False
        stamp, sep, digest = token.partition("?")
        if not sep or not stamp.isascii() or not stamp.isdigit():
            return False
        ts = int(stamp)
        if not 0 <= now - ts < self._expiration:
            return False
        return hmac.compare_digest(digest.encode(), self._digest(addr, ts).encode())
