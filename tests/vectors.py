"""Where the shared Asterisk capture vectors live, and the secrets that produced them.

CI clones the repository next to ``shared/``, so the vectors are found relative to this file.
Tests that need them call :func:`asterisk_vectors`, which skips cleanly when they are absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = [
    "ACCOUNT_SECRETS",
    "CAPTURES",
    "IAX_PORTS",
    "asterisk_vectors",
    "capture",
]

VECTORS_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "vectors" / "asterisk"

CAPTURES = (
    "asterisk-b-to-a.pcapng",
    "asterisk-b-to-a-calls.pcapng",
    "asterisk-a-to-b.pcapng",
    "iaxmodem-register.pcapng",
    "nmap-iax2-version.pcapng",
)

# The UDP ports that carry IAX2 in the captures (README §1).
IAX_PORTS = (4570, 4571, 4590, 4591)

# Username -> secret, from README §3.
ACCOUNT_SECRETS = {
    "md5peer": "md5secret",
    "plainpeer": "plainsecret",
    "encpeer": "encsecret",
    "notokenpeer": "notokensecret",
    "iaxmodem": "modemsecret",
}


def asterisk_vectors() -> Path:
    """The vectors directory, or skip the calling test."""
    if not (VECTORS_DIR / "README.md").is_file():
        pytest.skip(f"Asterisk vectors not found at {VECTORS_DIR.resolve()}")
    return VECTORS_DIR.resolve()


def capture(name: str) -> Path:
    return asterisk_vectors() / name
