"""RSA key directory (Asterisk's ``astkeydir``) and ``pbxedge keygen`` (iax2.md §4.4).

Asterisk loads ``NAME.pub`` (public, PEM SubjectPublicKeyInfo) and ``NAME.key`` (private,
PEM), refuses private files readable by others, and only uses 1024-bit keys. We apply the
same rules so a key directory works the same with both.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import stat
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["KEY_BITS", "KeyKind", "KeyStore", "LoadedKey", "keygen_main"]

KEY_BITS = 1024  # AST_CRYPTO_RSA_KEY_BITS; anything else is "not expected size"
_PUBLIC_EXPONENT = 65537
_PRIVATE_MODES = (0o600, 0o400)


class KeyKind(Enum):
    PUBLIC = "pub"
    PRIVATE = "key"


@dataclass(frozen=True, slots=True)
class LoadedKey:
    name: str
    kind: KeyKind
    path: Path
    md5sum: str  # md5 of the file bytes: the "Sum" column of `keys show`
    key: rsa.RSAPublicKey | rsa.RSAPrivateKey


class KeyStore:
    """The usable keys of one directory, by name and kind."""

    def __init__(self, keys: list[LoadedKey]) -> None:
        self._keys = {(k.name, k.kind): k for k in keys}

    @classmethod
    def load(cls, directory: str | Path) -> tuple[KeyStore, list[str]]:
        """Load every ``*.pub`` / ``*.key`` of *directory*; the list holds one line per refusal."""
        folder = Path(directory)
        problems: list[str] = []
        loaded: list[LoadedKey] = []
        try:
            entries = sorted(folder.iterdir())
        except OSError as exc:
            return cls([]), [f"cannot read key directory {folder}: {exc.strerror or exc}"]
        for path in entries:
            kind = _kind_of(path)
            if kind is None or not path.is_file():
                continue
            result = _load_one(path, kind)
            if isinstance(result, str):
                problems.append(result)
            else:
                loaded.append(result)
        return cls(loaded), problems

    def public(self, name: str) -> rsa.RSAPublicKey | None:
        entry = self._keys.get((name, KeyKind.PUBLIC))
        return entry.key if entry is not None and isinstance(entry.key, rsa.RSAPublicKey) else None

    def private(self, name: str) -> rsa.RSAPrivateKey | None:
        entry = self._keys.get((name, KeyKind.PRIVATE))
        if entry is not None and isinstance(entry.key, rsa.RSAPrivateKey):
            return entry.key
        return None

    def names(self) -> list[str]:
        return sorted({name for name, _ in self._keys})

    def show_text(self) -> str:
        """``keys show`` in res_crypto's layout (sorted; Asterisk lists in directory order)."""
        row = "{:<18} {:<8} {:<16} {:<33}\n"
        lines = [
            row.format("Key Name", "Type", "Status", "Sum"),
            row.format("-" * 18, "-" * 8, "-" * 16, "-" * 32),
        ]
        for (name, kind), entry in sorted(self._keys.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
            kind_text = "PUBLIC" if kind is KeyKind.PUBLIC else "PRIVATE"
            lines.append(row.format(name, kind_text, "[Loaded]", entry.md5sum))
        lines.append(f"\n{len(self._keys)} known RSA keys.\n")
        return "".join(lines)


def _kind_of(path: Path) -> KeyKind | None:
    if path.name.startswith(".") or path.suffix not in (".pub", ".key") or not path.stem:
        return None
    return KeyKind.PUBLIC if path.suffix == ".pub" else KeyKind.PRIVATE


def _load_one(path: Path, kind: KeyKind) -> LoadedKey | str:
    name = path.stem
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = path.read_bytes()
    except OSError as exc:
        return f"key '{name}': cannot read {path}: {exc.strerror or exc}"
    if kind is KeyKind.PRIVATE and mode not in _PRIVATE_MODES:
        return (
            f"key '{name}': private key file {path} has mode {mode:04o}; "
            f"it must be 0600 or 0400 (chmod 600 {path})"
        )
    key: rsa.RSAPublicKey | rsa.RSAPrivateKey
    try:
        if kind is KeyKind.PUBLIC:
            loaded_public = serialization.load_pem_public_key(data)
            if not isinstance(loaded_public, rsa.RSAPublicKey):
                return f"key '{name}': {path} is not an RSA public key"
            key = loaded_public
        else:
            loaded_private = serialization.load_pem_private_key(data, password=None)
            if not isinstance(loaded_private, rsa.RSAPrivateKey):
                return f"key '{name}': {path} is not an RSA private key"
            key = loaded_private
    except TypeError:
        return (
            f"key '{name}': {path} is passphrase-protected; pbxedge needs an unencrypted "
            f"PKCS#8 PEM key (openssl pkcs8 -topk8 -nocrypt)"
        )
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"key '{name}': {path} is not a PEM {kind.name.lower()} key ({exc})"
    if key.key_size != KEY_BITS:
        return (
            f"key '{name}' is {key.key_size} bits; Asterisk (and so pbxedge) only uses "
            f"{KEY_BITS}-bit RSA keys"
        )
    return LoadedKey(name, kind, path, hashlib.md5(data, usedforsecurity=False).hexdigest(), key)


def _keygen_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pbxedge keygen",
        description="Write an Asterisk-compatible 1024-bit RSA key pair NAME.pub / NAME.key.",
    )
    parser.add_argument("--dir", default=".", help="directory to write into (default: .)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.add_argument("name", metavar="NAME", help="key name (inkeys=/outkey= refer to it)")
    return parser


def keygen_main(argv: list[str]) -> int:
    args = _keygen_parser().parse_args(argv)
    name: str = args.name
    if not name or name.startswith(".") or "/" in name or os.sep in name:
        print(f"pbxedge keygen: invalid key name {name!r}", file=sys.stderr)
        return 2
    folder = Path(args.dir)
    public_path = folder / f"{name}.pub"
    private_path = folder / f"{name}.key"
    existing = [p for p in (public_path, private_path) if p.exists()]
    if existing and not args.force:
        print(
            f"pbxedge keygen: {', '.join(map(str, existing))} already exists; use --force to replace",
            file=sys.stderr,
        )
        return 1
    private_key = rsa.generate_private_key(public_exponent=_PUBLIC_EXPONENT, key_size=KEY_BITS)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_private(private_path, private_pem)
        public_path.write_bytes(public_pem)
    except OSError as exc:
        print(f"pbxedge keygen: {exc}", file=sys.stderr)
        return 1
    print(f"Wrote {public_path} and {private_path} (1024-bit RSA, private key mode 0600)")
    return 0


def _write_private(path: Path, pem: bytes) -> None:
    # Created 0600 from the start so the key is never readable by others, whatever the umask.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
    finally:
        os.close(fd)
