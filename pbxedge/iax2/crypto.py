"""Authentication digests, RSA signatures and the AES-128 frame transform (iax2.md §4.3–§5.3).

All of it is Asterisk-compatible rather than good cryptography: MD5 over a short decimal
challenge, RSA with SHA-1, AES-CBC with a fixed zero IV and no integrity check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pbxedge.iax2.enums import FrameType
from pbxedge.iax2.errors import MalformedFrame

__all__ = [
    "AesTransform",
    "aes_key",
    "md5_response",
    "rsa_sign",
    "rsa_verify",
]

_BLOCK = 16
_ZERO_IV = bytes(_BLOCK)
_FULL_CLEAR = 4  # source and destination call numbers stay readable
_MINI_CLEAR = 2  # the mini frame's call number stays readable
_FULL_REST = 8  # timestamp, oseqno, iseqno, type, subclass
_MINI_REST = 2  # 16-bit timestamp
_FRAME_TYPE_OFFSET = 6  # of the frame type byte, counted after the clear bytes
_KNOWN_FRAME_TYPES = frozenset(int(t) for t in FrameType)


def md5_response(challenge: str, secret: str) -> str:
    """MD5_RESULT: 32 lowercase hex digits of md5(challenge + secret), no separator."""
    return hashlib.md5((challenge + secret).encode(), usedforsecurity=False).hexdigest()


def aes_key(challenge: str, secret: str) -> bytes:
    """The AES-128 key of an encrypted call: the raw 16 bytes of md5(challenge + secret)."""
    return hashlib.md5((challenge + secret).encode(), usedforsecurity=False).digest()


def rsa_sign(private_key: RSAPrivateKey, challenge: str) -> str:
    """RSA_RESULT: base64 (no line breaks) of PKCS#1 v1.5 SHA-1 over the ASCII challenge."""
    signature = private_key.sign(challenge.encode(), padding.PKCS1v15(), hashes.SHA1())
    return base64.b64encode(signature).decode("ascii")


def rsa_verify(public_key: RSAPublicKey, challenge: str, result: str) -> bool:
    """True if *result* is a valid RSA_RESULT for *challenge*; never raises."""
    try:
        signature = base64.b64decode(result.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False
    if len(signature) != public_key.key_size // 8:
        return False
    try:
        public_key.verify(signature, challenge.encode(), padding.PKCS1v15(), hashes.SHA1())
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


class AesTransform:
    """Asterisk's per-frame AES-128-CBC transform with a random-length pad prefix.

    Every frame restarts from a zero IV. The pad (16–31 bytes) goes in front of the plaintext
    and the low nibble of its byte 15 says how long it is beyond 16.
    """

    __slots__ = ("_key", "_pad_source")

    def __init__(self, key: bytes, pad_source: Callable[[int], bytes] = os.urandom) -> None:
        if len(key) != _BLOCK:
            raise ValueError(f"AES-128 key must be 16 bytes, got {len(key)}")
        self._key = bytes(key)
        # Injectable so golden tests can reproduce fixed wire bytes; any content is valid.
        self._pad_source = pad_source

    @property
    def key(self) -> bytes:
        return self._key

    def encrypt_full(self, frame_bytes: bytes) -> bytes:
        """Encrypt an encoded full frame, leaving its first 4 bytes in clear."""
        if len(frame_bytes) < _FULL_CLEAR + _FULL_REST:
            raise ValueError("a full frame has at least 12 bytes")
        return frame_bytes[:_FULL_CLEAR] + self._encrypt(frame_bytes[_FULL_CLEAR:])

    def decrypt_full(self, data: bytes) -> bytes:
        """The clear full frame; raises MalformedFrame if the result is implausible."""
        plain = self._decrypt(data, _FULL_CLEAR, _FULL_REST, "full")
        frame_type = plain[_FRAME_TYPE_OFFSET]
        if frame_type not in _KNOWN_FRAME_TYPES:
            raise MalformedFrame(f"decrypted frame has unknown type {frame_type}")
        return data[:_FULL_CLEAR] + plain

    def encrypt_mini(self, frame_bytes: bytes) -> bytes:
        """Encrypt an encoded mini frame, leaving its call number in clear."""
        if len(frame_bytes) < _MINI_CLEAR + _MINI_REST:
            raise ValueError("a mini frame has at least 4 bytes")
        return frame_bytes[:_MINI_CLEAR] + self._encrypt(frame_bytes[_MINI_CLEAR:])

    def decrypt_mini(self, data: bytes) -> bytes:
        return data[:_MINI_CLEAR] + self._decrypt(data, _MINI_CLEAR, _MINI_REST, "mini")

    def _encrypt(self, region: bytes) -> bytes:
        pad_len = _BLOCK + ((_BLOCK - len(region) % _BLOCK) % _BLOCK)
        pad = bytearray(self._pad_source(pad_len)[:pad_len])
        if len(pad) != pad_len:
            raise ValueError("pad source returned too few bytes")
        pad[15] = (pad[15] & 0xF0) | (pad_len & 0x0F)
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(_ZERO_IV)).encryptor()
        return encryptor.update(bytes(pad) + region) + encryptor.finalize()

    def _decrypt(self, data: bytes, clear: int, minimum_rest: int, kind: str) -> bytes:
        region = data[clear:]
        if len(region) < 2 * _BLOCK or len(region) % _BLOCK:
            raise MalformedFrame(
                f"encrypted {kind} frame body of {len(region)} bytes is not 2+ AES blocks"
            )
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(_ZERO_IV)).decryptor()
        plain = decryptor.update(region) + decryptor.finalize()
        pad_len = _BLOCK + (plain[15] & 0x0F)
        if len(plain) - pad_len < minimum_rest:
            raise MalformedFrame(f"decrypted {kind} frame is too short after its {pad_len}-byte pad")
        return plain[pad_len:]
