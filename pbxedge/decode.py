"""``pbxedge decode``: print the IAX2 frames of a capture in Asterisk's debug layout.

With ``--secret`` it follows encrypted calls: the key is md5(CHALLENGE + secret), the
CHALLENGE taken from the AUTHREQ seen in the capture; each secret is tried until one
decrypts plausibly (iax2.md §5.2–§5.4). Damaged input is reported, never fatal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pbxedge.iax2.crypto import AesTransform, aes_key
from pbxedge.iax2.enums import IE, EncryptionMethod, FrameType, IaxSubclass
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.frames import (
    Frame,
    FullFrame,
    MetaVideoFrame,
    MiniFrame,
    parse_datagram,
)
from pbxedge.iax2.showframe import format_addr, show_frame
from pbxedge.pcap import CaptureError, UdpDatagram, read_udp

__all__ = ["DEFAULT_PORT", "DecodedDatagram", "decode_capture", "main"]

DEFAULT_PORT = 4569
_AES_KEY_LEN = 16

Endpoint = tuple[tuple[str, int], int]  # (address, call number) of one side of a call


@dataclass(frozen=True, slots=True)
class DecodedDatagram:
    """One IAX2 datagram of a capture and how it was understood."""

    capture: UdpDatagram
    frame: Frame | None
    decrypted: bool = False
    error: str | None = None

    def render(self) -> str:
        src, dst = self.capture.src, self.capture.dst
        head = f"-- frame {self.capture.number}  {format_addr(*src)} -> {format_addr(*dst)}\n"
        if self.frame is None:
            return head + f"Malformed frame: {self.error}\n"
        direction = "RD" if self.decrypted else "Rx"
        return head + _render_frame(self.frame, direction, src)


def _render_frame(frame: Frame, direction: str, src: tuple[str, int]) -> str:
    if isinstance(frame, FullFrame):
        return show_frame(frame, direction, src)
    where = format_addr(*src)
    if isinstance(frame, MiniFrame):
        return (
            f"{direction}-Mini   Timestamp: {frame.timestamp:05d}ms  "
            f"SCall: {frame.source_call:05d}  Length: {len(frame.payload)} {where}\n"
        )
    if isinstance(frame, MetaVideoFrame):
        return (
            f"{direction}-Video  Timestamp: {frame.timestamp:05d}ms  "
            f"SCall: {frame.source_call:05d}  Mark: {'Yes' if frame.marker else ' No'}  "
            f"Length: {len(frame.payload)} {where}\n"
        )
    lines = [
        f"{direction}-Trunk  Timestamp: {frame.timestamp:05d}ms  "
        f"Entries: {len(frame.entries)} {where}\n"
    ]
    for entry in frame.entries:
        ts = "" if entry.timestamp is None else f"  Timestamp: {entry.timestamp:05d}ms"
        lines.append(f"   Call: {entry.call:05d}{ts}  Length: {len(entry.payload)}\n")
    return "".join(lines)


@dataclass(slots=True)
class _EncryptedCall:
    """A call whose AUTHREQ negotiated AES: candidate keys until one is proven."""

    challenge: str
    candidates: list[AesTransform]
    # Per sender: the key it encrypts with. Both start equal; RTKEY changes one side.
    sender_keys: dict[Endpoint, AesTransform] = field(default_factory=dict)


class _Decryptor:
    """Tracks AUTHREQ challenges and per-sender keys across a capture."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._secrets = list(secrets)
        self._calls: dict[frozenset[Endpoint], _EncryptedCall] = {}
        self._by_sender: dict[Endpoint, _EncryptedCall] = {}

    def note_clear_frame(self, frame: FullFrame, src: tuple[str, int], dst: tuple[str, int]) -> None:
        if frame.iax_subclass is not IaxSubclass.AUTHREQ:
            return
        try:
            ies = frame.ies()
        except MalformedFrame:
            return
        challenge = ies.get_str(IE.CHALLENGE)
        encryption = ies.get_u16(IE.ENCRYPTION)
        if challenge is None or not encryption or not encryption & EncryptionMethod.AES128:
            return
        sender: Endpoint = (src, frame.source_call)
        receiver: Endpoint = (dst, frame.dest_call)
        pair = frozenset((sender, receiver))
        known = self._calls.get(pair)
        if known is not None and known.challenge == challenge:
            return  # a retransmission: keep the key already proven
        candidates = [AesTransform(aes_key(challenge, s)) for s in self._secrets]
        call = _EncryptedCall(challenge, candidates)
        self._calls[pair] = call
        self._by_sender[sender] = call
        self._by_sender[receiver] = call

    def encrypted_full(self, data: bytes, src: tuple[str, int], dst: tuple[str, int]) -> bool:
        """Whether this full frame belongs to a call that negotiated encryption."""
        scall = int.from_bytes(data[0:2], "big") & 0x7FFF
        dcall = int.from_bytes(data[2:4], "big") & 0x7FFF
        return frozenset(((src, scall), (dst, dcall))) in self._calls

    def encrypted_mini(self, src: tuple[str, int], scall: int) -> bool:
        return (src, scall) in self._by_sender

    def decrypt(self, data: bytes, src: tuple[str, int], full: bool) -> Frame:
        """Decrypt and parse; raises MalformedFrame if no key gives a plausible frame."""
        scall = int.from_bytes(data[0:2], "big") & 0x7FFF
        sender: Endpoint = (src, scall)
        call = self._by_sender[sender]
        known = call.sender_keys.get(sender)
        keys = [known] if known is not None else call.candidates
        if not keys:
            raise MalformedFrame("encrypted frame and no --secret given")
        last_error = "no key"
        for key in keys:
            try:
                plain = key.decrypt_full(data) if full else key.decrypt_mini(data)
                frame = parse_datagram(plain)
                if isinstance(frame, FullFrame) and frame.frametype == FrameType.IAX:
                    frame.ies()  # a wrong key yields IEs that overrun
            except MalformedFrame as exc:
                last_error = exc.reason
                continue
            if known is None and not _proves_key(frame):
                last_error = "no secret decrypts it to a plausible IAX command"
                continue
            if known is None:
                # The first key that works is the call's key, in both directions.
                for endpoint, owner in self._by_sender.items():
                    if owner is call:
                        call.sender_keys.setdefault(endpoint, key)
            self._follow_key_rotation(frame, sender, call)
            return frame
        raise MalformedFrame(f"cannot decrypt with any secret ({last_error})")

    @staticmethod
    def _follow_key_rotation(frame: Frame, sender: Endpoint, call: _EncryptedCall) -> None:
        if not isinstance(frame, FullFrame) or frame.iax_subclass is not IaxSubclass.RTKEY:
            return
        new_key = frame.ies().get(IE.CHALLENGE)
        if new_key is not None and len(new_key) == _AES_KEY_LEN:
            call.sender_keys[sender] = AesTransform(new_key)


def _proves_key(frame: Frame) -> bool:
    """Whether a frame decrypted with a candidate key is convincing enough to adopt the key.

    The length and type checks alone pass for about one wrong key in twenty. The first
    encrypted frame of a call is the caller's AUTHREP, so a key is only adopted when it yields
    a known IAX command whose IEs parse (the chance of that by accident is tiny).
    """
    return _is_clear_command(frame)


def _is_clear_command(frame: Frame) -> bool:
    """A known IAX command with well-formed IEs: what an unencrypted frame looks like."""
    if not isinstance(frame, FullFrame) or frame.iax_subclass is None:
        return False
    try:
        frame.ies()
    except MalformedFrame:
        return False
    return True


def decode_capture(
    datagrams: Iterable[UdpDatagram], ports: Iterable[int], secrets: Sequence[str] = ()
) -> Iterator[DecodedDatagram]:
    """Decode every datagram to or from one of *ports*; never raises on bad packets."""
    port_set = set(ports)
    decryptor = _Decryptor(secrets)
    for datagram in datagrams:
        if datagram.src[1] not in port_set and datagram.dst[1] not in port_set:
            continue
        yield _decode_one(datagram, decryptor)


def _decode_one(datagram: UdpDatagram, decryptor: _Decryptor) -> DecodedDatagram:
    data, src, dst = datagram.payload, datagram.src, datagram.dst
    try:
        frame = parse_datagram(data)
    except MalformedFrame as exc:
        return DecodedDatagram(datagram, None, error=exc.reason)
    is_full = isinstance(frame, FullFrame)
    encrypted = (
        decryptor.encrypted_full(data, src, dst)
        if is_full
        else isinstance(frame, MiniFrame) and decryptor.encrypted_mini(src, frame.source_call)
    )
    if encrypted:
        try:
            return DecodedDatagram(datagram, decryptor.decrypt(data, src, is_full), decrypted=True)
        except MalformedFrame as exc:
            # A retransmitted AUTHREQ travels in clear on a call already marked encrypted.
            if not _is_clear_command(frame):
                return DecodedDatagram(datagram, None, error=exc.reason)
    if isinstance(frame, FullFrame):
        decryptor.note_clear_frame(frame, src, dst)
    return DecodedDatagram(datagram, frame)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pbxedge decode",
        description="Print the IAX2 frames of a pcap/pcapng capture in Asterisk's debug layout.",
    )
    parser.add_argument(
        "--port",
        type=int,
        action="append",
        metavar="N",
        help=f"UDP port carrying IAX2 (repeatable; default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="S",
        help="secret to try on encrypted calls (repeatable)",
    )
    parser.add_argument("file", metavar="FILE", help="capture file (pcap or pcapng)")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    ports: list[int] = args.port or [DEFAULT_PORT]
    out = sys.stdout
    try:
        for decoded in decode_capture(read_udp(args.file), ports, args.secret):
            out.write(decoded.render())
    except CaptureError as exc:
        out.flush()
        print(f"pbxedge decode: {exc}", file=sys.stderr)
        return 1
    return 0
