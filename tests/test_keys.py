import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pbxedge.iax2.crypto import rsa_sign, rsa_verify
from pbxedge.keys import KeyStore, keygen_main
from tests.vectors import cli_output, copy_keys


@pytest.fixture
def vector_keys(tmp_path: Path) -> Path:
    return copy_keys(tmp_path / "keys")


def test_loads_the_asterisk_keys_and_shows_them_like_asterisk(vector_keys: Path) -> None:
    store, problems = KeyStore.load(vector_keys)
    assert problems == []
    assert store.names() == ["iaxpeer", "iaxtest"]
    ours = store.show_text().splitlines(keepends=True)
    theirs = cli_output("A: keys show").splitlines(keepends=True)
    # Same header, rows (Asterisk lists them in directory order) and footer.
    assert ours[:2] == theirs[:2]
    assert sorted(ours[2:6]) == sorted(theirs[2:6])
    assert ours[6:] == theirs[6:8]


def test_loaded_keys_sign_and_verify(vector_keys: Path) -> None:
    store, _ = KeyStore.load(vector_keys)
    private, public = store.private("iaxpeer"), store.public("iaxpeer")
    assert private is not None and public is not None
    assert rsa_verify(public, "348815818", rsa_sign(private, "348815818"))
    assert store.public("missing") is None and store.private("missing") is None
    other_public = store.public("iaxtest")
    assert other_public is not None
    assert not rsa_verify(other_public, "1", rsa_sign(private, "1"))


def test_private_key_with_loose_mode_is_refused(vector_keys: Path) -> None:
    (vector_keys / "iaxtest.key").chmod(0o644)
    store, problems = KeyStore.load(vector_keys)
    assert store.private("iaxtest") is None and store.public("iaxtest") is not None
    assert len(problems) == 1
    assert "iaxtest" in problems[0] and "0644" in problems[0] and "0600 or 0400" in problems[0]
    (vector_keys / "iaxtest.key").chmod(0o400)
    assert KeyStore.load(vector_keys)[0].private("iaxtest") is not None


def _write_private(path: Path, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
                   password: bytes | None = None) -> None:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    path.chmod(0o600)


def test_wrong_size_encrypted_foreign_and_garbage_keys_are_explained(tmp_path: Path) -> None:
    big = rsa.generate_private_key(65537, 2048)
    _write_private(tmp_path / "big.key", big)
    (tmp_path / "big.pub").write_bytes(
        big.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    _write_private(tmp_path / "locked.key", rsa.generate_private_key(65537, 1024), b"pass")
    _write_private(tmp_path / "curve.key", ec.generate_private_key(ec.SECP256R1()))
    (tmp_path / "junk.pub").write_text("not a key\n")
    (tmp_path / "notes.txt").write_text("ignored\n")
    store, problems = KeyStore.load(tmp_path)
    assert store.names() == []
    text = "\n".join(problems)
    assert "key 'big' is 2048 bits; Asterisk (and so pbxedge) only uses 1024-bit RSA keys" in text
    assert text.count("2048 bits") == 2
    assert "locked" in text and "passphrase-protected" in text
    assert "curve" in text and "not an RSA private key" in text
    assert "junk" in text and "not a PEM public key" in text
    assert len(problems) == 5
    assert store.show_text().endswith("\n0 known RSA keys.\n")


def test_missing_directory_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    store, problems = KeyStore.load(tmp_path / "nope")
    assert store.names() == [] and len(problems) == 1 and "cannot read" in problems[0]


def test_keygen_writes_an_asterisk_compatible_pair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_umask = os.umask(0o022)
    try:
        assert keygen_main(["--dir", str(tmp_path / "k"), "mynode"]) == 0
    finally:
        os.umask(old_umask)
    private_path, public_path = tmp_path / "k" / "mynode.key", tmp_path / "k" / "mynode.pub"
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert private_path.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
    assert public_path.read_text().startswith("-----BEGIN PUBLIC KEY-----\n")
    store, problems = KeyStore.load(tmp_path / "k")
    assert problems == []
    private, public = store.private("mynode"), store.public("mynode")
    assert private is not None and public is not None and private.key_size == 1024
    assert rsa_verify(public, "976170687", rsa_sign(private, "976170687"))
    assert "mynode.pub" in capsys.readouterr().out


def test_keygen_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert keygen_main(["--dir", str(tmp_path), "n"]) == 0
    before = (tmp_path / "n.key").read_bytes()
    assert keygen_main(["--dir", str(tmp_path), "n"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "n.key").read_bytes() == before
    assert keygen_main(["--dir", str(tmp_path), "--force", "n"]) == 0
    assert (tmp_path / "n.key").read_bytes() != before


@pytest.mark.parametrize("name", ["", ".hidden", "a/b"])
def test_keygen_rejects_bad_names(tmp_path: Path, name: str) -> None:
    assert keygen_main(["--dir", str(tmp_path), name]) == 2
    assert list(tmp_path.iterdir()) == []
