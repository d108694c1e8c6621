import base64
import contextlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from pbxedge.iax2.crypto import AesTransform, aes_key, md5_response, rsa_sign, rsa_verify
from pbxedge.iax2.errors import MalformedFrame
from pbxedge.iax2.frames import FullFrame, parse_datagram
from tests.vectors import VECTORS

# README §5.1: every MD5_RESULT in the captures (the a-to-b rows repeat three calls rows).
MD5_TABLE = [
    ("885912610", "encsecret", "e8959ee1c7d4b6323325a3933683142e"),
    ("976170687", "md5secret", "997be43b51a86b7f4015e9ea534f2c30"),
    ("408586065", "modemsecret", "648564952f10b6f1952b06f3f49ae18b"),
    ("874515411", "encsecret", "0bed2480fa2e7af8c016a6ef117f8eb9"),
    ("608281957", "md5secret", "d1ad8e91bd960700d413c8aceb8fa5fa"),
    ("128032954", "md5secret", "ccc2c09045375482dad812e327b509dc"),
    ("127399793", "md5secret", "d18f3846debe44854dd33885b3ee2602"),
    ("214149376", "md5secret", "9965190c7586b604bd6d0431f2ca0e10"),
    ("168348246", "modemsecret", "30150f526580c98ad729a5f7a049a0c2"),
    ("111957493", "encsecret", "3e26c278472d2f3c7e0665186d6ef8d0"),
    ("141686832", "md5secret", "041509cda543fc3f0eb8937ca49e8b50"),
    ("124326451", "encsecret", "d01df43f249b0463c65237c1af524de9"),
    ("471164705", "md5secret", "a859848203ec4d13e8eb0b0728a629db"),
    ("606145703", "md5secret", "ff43d7c0f53d817af6f305f4abb7bea2"),
    ("178354311", "md5secret", "a5217b9d7de2c70a06778c01e10df5e8"),
    ("190140661", "md5secret", "31f60488ee479cd6b4d5b1ed05935ff8"),
    ("606145703", "md5secret", "ff43d7c0f53d817af6f305f4abb7bea2"),
    ("178354311", "md5secret", "a5217b9d7de2c70a06778c01e10df5e8"),
    ("190140661", "md5secret", "31f60488ee479cd6b4d5b1ed05935ff8"),
    ("191612998", "modemsecret", "79f26f1538e2ec961dec70fe8cc5cde4"),
]

RSA_CHALLENGE = "348815818"
RSA_RESULT = (
    "IFy0H7WdKYU/LezCbPhtl7walpnEpLM5NjikpnaIV03IGyqiqHAnemm3p788Ms2Jr2RhJ2X4PEVxNaT80RWMM+V7"
    "YQ6G1IvMbio890obxnY0TcCHKg/wllwAIYdNj2Q3QY8zp9iJv+0xj0oLCFh7e3VqIdzYGZDtZko/icIiCZs="
)

# iax2.md §13: AUTHREP encrypted with zero padding.
SELF_PLAIN = bytes.fromhex("8002123400000005010106091020") + b"947a8ad7394ef218f8938094fa0ccfe5"
SELF_WIRE = bytes.fromhex(
    "800212346fbe6ec85594b9f272e2e4987866237cc532c96177a07dae8486d7c30279e54f"
    "53f296ee669ba4d07a5e05d3323e5563c2cae7f11e0f5250490fbab7f529307d"
)
# README §5.3: asterisk-b-to-a-calls.pcapng frame 211.
FRAME_211 = bytes.fromhex(
    "a0d11c10276252aa867b9ce784aadd011397c12562cb71800819758e4334a6122e37d343"
    "aab2d37bc4b9250d7db24e45c8a5e9296c3667e3d2a5dd003aff64092cb67fa5"
)


def _zero_pad(n: int) -> bytes:
    return bytes(n)


@pytest.mark.parametrize(("challenge", "secret", "result"), MD5_TABLE)
def test_md5_results_from_the_captures(challenge: str, secret: str, result: str) -> None:
    assert md5_response(challenge, secret) == result
    assert aes_key(challenge, secret).hex() == result


def test_md5_self_computed_vector() -> None:
    assert md5_response("48213977", "moofoo") == "947a8ad7394ef218f8938094fa0ccfe5"
    assert len(MD5_TABLE) == 20


def _iaxpeer_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    keys = VECTORS / "keys"
    private = serialization.load_pem_private_key((keys / "iaxpeer.key").read_bytes(), None)
    public = serialization.load_pem_public_key((keys / "iaxpeer.pub").read_bytes())
    assert isinstance(private, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey)
    return private, public


def test_rsa_sign_reproduces_the_capture_byte_for_byte() -> None:
    private, public = _iaxpeer_keys()
    signature = rsa_sign(private, RSA_CHALLENGE)
    assert signature == RSA_RESULT and len(signature) == 172
    assert rsa_verify(public, RSA_CHALLENGE, RSA_RESULT)


def test_rsa_verify_rejects_without_raising() -> None:
    _, public = _iaxpeer_keys()
    assert not rsa_verify(public, "348815819", RSA_RESULT)
    assert not rsa_verify(public, RSA_CHALLENGE, RSA_RESULT[:-4])
    assert not rsa_verify(public, RSA_CHALLENGE, "not base64!")
    assert not rsa_verify(public, RSA_CHALLENGE, "")
    assert not rsa_verify(public, RSA_CHALLENGE, "é" * 172)
    short = base64.b64encode(b"\x00" * 64).decode()
    assert not rsa_verify(public, RSA_CHALLENGE, short)


@given(st.text(max_size=200))
def test_rsa_verify_never_raises_on_any_text(text: str) -> None:
    key = _generated_public_key()
    assert rsa_verify(key, "123456789", text) is False


_GENERATED: list[rsa.RSAPublicKey] = []


def _generated_public_key() -> rsa.RSAPublicKey:
    if not _GENERATED:
        _GENERATED.append(rsa.generate_private_key(65537, 1024).public_key())
    return _GENERATED[0]


def test_aes_self_computed_golden_both_ways() -> None:
    transform = AesTransform(aes_key("48213977", "moofoo"), pad_source=_zero_pad)
    assert transform.encrypt_full(SELF_PLAIN) == SELF_WIRE
    assert transform.decrypt_full(SELF_WIRE) == SELF_PLAIN


def test_aes_decrypts_asterisk_frame_211() -> None:
    key = aes_key("128872642", "encsecret")
    assert key.hex() == "6463a1967fb4507b9e23da204a5b619f"
    frame = parse_datagram(AesTransform(key).decrypt_full(FRAME_211))
    assert frame == FullFrame(
        source_call=8401,
        dest_call=7184,
        timestamp=19,
        oseqno=1,
        iseqno=1,
        frametype=6,
        subclass=9,
        payload=b"\x10\x20" + key.hex().encode(),
    )


@pytest.mark.parametrize("body_len", range(8, 60))
def test_aes_pad_length_rule_and_roundtrip(body_len: int) -> None:
    frame = b"\x80\x01\x00\x02" + bytes([0, 0, 0, 1, 0, 0, 6, 4]) + b"x" * (body_len - 8)
    transform = AesTransform(bytes(range(16)))
    wire = transform.encrypt_full(frame)
    region = len(frame) - 4
    pad = 16 + ((16 - region % 16) % 16)
    assert 16 <= pad <= 31
    assert len(wire) == 4 + region + pad and (len(wire) - 4) % 16 == 0
    assert wire[:4] == frame[:4]
    assert transform.decrypt_full(wire) == frame


def test_aes_fresh_pad_each_time() -> None:
    transform = AesTransform(bytes(16))
    assert transform.encrypt_full(SELF_PLAIN) != transform.encrypt_full(SELF_PLAIN)


def test_aes_mini_roundtrip_keeps_call_number_clear() -> None:
    transform = AesTransform(bytes(range(16)))
    mini = bytes.fromhex("15c10244") + b"\x7f" * 160
    wire = transform.encrypt_mini(mini)
    assert wire[:2] == mini[:2] and wire[2:4] != mini[2:4]
    assert transform.decrypt_mini(wire) == mini


def test_aes_decrypt_rejects_implausible_input() -> None:
    transform = AesTransform(aes_key("48213977", "moofoo"))
    with pytest.raises(MalformedFrame, match="AES blocks"):
        transform.decrypt_full(SELF_WIRE[:-1])
    with pytest.raises(MalformedFrame, match="AES blocks"):
        transform.decrypt_full(SELF_WIRE[:20])
    with pytest.raises(MalformedFrame, match="AES blocks"):
        transform.decrypt_mini(b"\x00\x01")
    wrong = AesTransform(aes_key("48213977", "wrong"))
    with pytest.raises(MalformedFrame):
        # A wrong key turns the header into noise; here the pad nibble or type check fails.
        wrong.decrypt_full(SELF_WIRE)
    with pytest.raises(ValueError):
        AesTransform(b"short")
    with pytest.raises(ValueError):
        transform.encrypt_full(b"\x80\x01")


@given(st.binary(max_size=120))
def test_aes_decrypt_only_raises_malformed(data: bytes) -> None:
    transform = AesTransform(bytes(16))
    for decrypt in (transform.decrypt_full, transform.decrypt_mini):
        with contextlib.suppress(MalformedFrame):
            decrypt(data)
