"""The Asterisk 22 capture vectors in ``tests/data/asterisk`` and the secrets that produced them.

The folder's README.md documents every capture; the facts the tests rely on cite its sections.
A vector that is missing is a test failure, never a skip.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "ACCOUNT_SECRETS",
    "CAPTURES",
    "IAX_PORTS",
    "KEY_FILES",
    "VECTORS",
    "capture",
    "cli_output",
    "copy_keys",
]

VECTORS = Path(__file__).resolve().parent / "data" / "asterisk"

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


# The RSA keys both Asterisk instances loaded (README §3.5).
KEY_FILES = ("iaxpeer.key", "iaxpeer.pub", "iaxtest.key", "iaxtest.pub")


def capture(name: str) -> Path:
    return VECTORS / name


def cli_output(title: str) -> str:
    """The output recorded under ``### <title>`` in asterisk-cli-outputs.txt."""
    text = (VECTORS / "asterisk-cli-outputs.txt").read_text()
    parts = re.split(r"^### (.*)\n", text, flags=re.MULTILINE)
    blocks = dict(zip(parts[1::2], parts[2::2], strict=True))
    return blocks[title]


def copy_keys(folder: Path, names: Sequence[str] = KEY_FILES, private_mode: int = 0o600) -> Path:
    """Key files of the captures copied into *folder*, private ones with *private_mode*.

    git keeps no file modes, so a checkout's modes depend on the umask; the key loader
    accepts a private key only at 0600 or 0400, and tests set the mode they mean.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        target = folder / name
        shutil.copy(VECTORS / "keys" / name, target)
        target.chmod(private_mode if target.suffix == ".key" else 0o644)
    return folder
