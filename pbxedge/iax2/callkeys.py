"""The AES-128 keys of one call (reference iax2.md §5.2–§5.4, §10 row 6).

What the call transmits under, which keys it accepts, the candidate keys of an AUTHREQ still
waiting for the peer to prove its secret, and the previous receive key an RTKEY retires.
Decryption carries no integrity check, so every choice between keys is a plausibility
judgement made here, in one place. Sans-IO: expiry is judged against the ``now`` passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pbxedge.iax2.crypto import AesTransform
from pbxedge.iax2.enums import FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.frames import FullFrame, MiniFrame, parse_datagram

__all__ = ["OLD_KEY_GRACE", "CallKeys"]

OLD_KEY_GRACE = 5.0  # keep the previous receive key this long after an RTKEY (§10 row 6)


class CallKeys:
    """One call's key ring; empty (no encryption) until :meth:`set` or :meth:`expect`."""

    def __init__(self, pad_source: Callable[[int], bytes]) -> None:
        self._pad_source = pad_source
        self.tx: AesTransform | None = None
        self._rx: list[tuple[AesTransform, float | None]] = []  # (cipher, expires)
        self._candidates: list[AesTransform] = []

    @property
    def encrypted(self) -> bool:
        return self.tx is not None or bool(self._rx)

    def _cipher(self, key: bytes) -> AesTransform:
        return AesTransform(key, pad_source=self._pad_source)

    def set(self, tx_key: bytes, rx_keys: Sequence[bytes]) -> None:
        self.tx = self._cipher(tx_key)
        self._rx = [(self._cipher(k), None) for k in rx_keys]
        self._candidates = []

    def expect(self, candidate_keys: Sequence[bytes]) -> None:
        """The peer's next frames come encrypted under one of these; which one it proves."""
        self._candidates = [self._cipher(k) for k in candidate_keys]

    def switch_tx(self, key: bytes) -> None:
        """Our RTKEY went out (under the old key): transmit under *key* from now on."""
        self.tx = self._cipher(key)

    def peer_rotated(self, key: bytes, now: float) -> None:
        """The peer's RTKEY: receive under *key*, and for a while under the key it replaces.

        Frames sent under the replaced key may still be in flight. Keys an earlier RTKEY
        already retired keep their own deadline, so quick successive rotations cannot keep an
        old key alive indefinitely.
        """
        old = [(c, now + OLD_KEY_GRACE if exp is None else exp) for c, exp in self._rx]
        self._rx = [(self._cipher(key), None), *old]

    def _receive_ciphers(self, now: float) -> list[AesTransform]:
        self._rx = [(c, exp) for c, exp in self._rx if exp is None or exp > now]
        return [c for c, _ in self._rx]

    def open_full(self, data: bytes, now: float, rx_last: int) -> FullFrame | None:
        """Decrypt (when keys are set) and parse a full frame; None if it cannot be read.

        ``rx_last`` is the highest timestamp received on the call so far.
        """
        if not self._rx and not self._candidates:  # a call in clear, the common case
            return _parse_clear_full(data)
        ciphers = self._receive_ciphers(now)
        decoded = [f for c in ciphers if (f := _decrypt_full(c, data)) is not None]
        if decoded:
            # Within an RTKEY's grace both keys may yield a plausible header; a wrong key
            # turns the 32-bit timestamp into noise, so the closest one to the call's wins.
            return min(decoded, key=lambda f: abs(f.timestamp - rx_last))
        for cipher in self._candidates:
            frame = _decrypt_full(cipher, data)
            if frame is not None:
                # The peer proved which secret it used: lock that key in both directions.
                self.set(cipher.key, [cipher.key])
                return frame
        parsed = _parse_clear_full(data)
        if parsed is not None and ciphers and parsed.iax_subclass is not IaxSubclass.INVAL:
            # On an encrypted call only INVAL (sent by Asterisk's raw_hangup without any
            # call state, hence in clear) may arrive unencrypted.
            return None
        return parsed

    def open_mini(self, data: bytes, now: float, rx_last: int) -> MiniFrame | None:
        ciphers = self._receive_ciphers(now)
        if not ciphers:
            parsed = parse_datagram(data)
            return parsed if isinstance(parsed, MiniFrame) else None
        # A mini frame decrypts to *something* under any key. While an RTKEY's previous key
        # is still kept, take the key whose result lies closest in time to the audio received
        # so far: a wrong key turns the timestamp into noise.
        decoded: list[MiniFrame] = []
        for cipher in ciphers:
            try:
                parsed = parse_datagram(cipher.decrypt_mini(data))
            except MalformedFrame:
                continue
            if isinstance(parsed, MiniFrame):
                decoded.append(parsed)
        return min(decoded, key=lambda f: _mini_distance(f.timestamp, rx_last), default=None)


def _mini_distance(ts16: int, rx_last: int) -> int:
    """How far (ms, either way) a mini frame's 16-bit timestamp lies from the last one seen."""
    return abs(((ts16 - rx_last + 0x8000) & 0xFFFF) - 0x8000)


def _parse_clear_full(data: bytes) -> FullFrame | None:
    try:
        parsed = parse_datagram(data)
    except MalformedFrame:
        return None
    return parsed if isinstance(parsed, FullFrame) else None


def _decrypt_full(cipher: AesTransform, data: bytes) -> FullFrame | None:
    try:
        frame = parse_datagram(cipher.decrypt_full(data))
    except MalformedFrame:
        return None
    return frame if isinstance(frame, FullFrame) and _plausible(frame) else None


def _plausible(frame: FullFrame) -> bool:
    """Decryption has no integrity check: reject results no peer would send (§10 row 6)."""
    if frame.frametype == FrameType.IAX:
        return frame.iax_subclass is not None
    return True
