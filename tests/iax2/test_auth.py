"""Authentication: user matching, challenges, verification (server) and answers (client).

Golden values come from the Asterisk 22 captures (tests/data/asterisk/README.md §5.1-§5.3).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pbxedge.acl import Acl
from pbxedge.iax2.accounts import PeerAccount, UserAccount
from pbxedge.iax2.auth import (
    AuthFailure,
    AuthMethodMemory,
    AuthRequestCounter,
    ChallengeAnswer,
    Credentials,
    EncryptionAgreement,
    Rejection,
    answer_challenge,
    build_authreq,
    build_regauth,
    choose_credentials,
    encryption_keys,
    force_encryption_rejection,
    make_challenge,
    match_registrant,
    match_user,
    merge_encryption,
    needs_authentication,
    offered_encryption,
    resolve_secrets,
    verify_authrep,
    verify_regreq,
)
from pbxedge.iax2.crypto import AesTransform, md5_response
from pbxedge.iax2.enums import IE, AuthMethod, Cause
from pbxedge.iax2.ies import IEList
from pbxedge.keys import KeyKind, KeyStore, LoadedKey
from tests.vectors import VECTORS

MD5, RSA, PLAIN = AuthMethod.MD5, AuthMethod.RSA, AuthMethod.PLAINTEXT
LOCAL = "127.0.0.1"


def make_user(name: str, **fields: Any) -> UserAccount:
    return UserAccount(name=name, **fields)


def make_peer(name: str, **fields: Any) -> PeerAccount:
    return PeerAccount(name=name, **fields)


def permit(*networks: str) -> Acl:
    acl = Acl().extended("0.0.0.0/0", permit=False)
    for network in networks:
        acl = acl.extended(network, permit=True)
    return acl


def _load_key(path: Path, kind: KeyKind) -> LoadedKey:
    data = path.read_bytes()
    key: rsa.RSAPublicKey | rsa.RSAPrivateKey
    if kind is KeyKind.PUBLIC:
        loaded_public = serialization.load_pem_public_key(data)
        assert isinstance(loaded_public, rsa.RSAPublicKey)
        key = loaded_public
    else:
        loaded_private = serialization.load_pem_private_key(data, password=None)
        assert isinstance(loaded_private, rsa.RSAPrivateKey)
        key = loaded_private
    return LoadedKey(path.stem, kind, path, hashlib.md5(data).hexdigest(), key)


@pytest.fixture(scope="module")
def keystore() -> KeyStore:
    keys = VECTORS / "keys"
    return KeyStore(
        [
            _load_key(keys / f"{name}.{suffix}", kind)
            for name in ("iaxpeer", "iaxtest")
            for suffix, kind in (("pub", KeyKind.PUBLIC), ("key", KeyKind.PRIVATE))
        ]
    )


EMPTY_KEYS = KeyStore([])

# ---------------------------------------------------------------------------------------
# user matching (§4.2)

USERS = {
    u.name: u
    for u in [
        make_user("md5peer", secrets=("md5secret",), contexts=("from-iax",)),
        make_user("lanphone", contexts=("lan",), acl=permit("10.0.0.0/8")),
        make_user("guest", contexts=("from-iax",)),
        make_user("guest2", contexts=("from-iax",)),
        make_user("office", secrets=("s",), contexts=("*",), acl=permit("192.0.2.0/24")),
        make_user("any", secrets=("s",), contexts=("*",)),
    ]
}


@pytest.mark.parametrize(
    ("username", "context", "ip", "chosen", "decoy"),
    [
        ("md5peer", None, LOCAL, "md5peer", False),
        ("md5peer", "from-iax", LOCAL, "md5peer", False),
        # named user, but the context is not one of its own: decoy, not a REJECT
        ("md5peer", "lan", LOCAL, None, True),
        # unknown name: decoy
        ("nosuch", None, LOCAL, None, True),
        # named user whose ACL refuses the address: decoy
        ("lanphone", None, LOCAL, None, True),
        ("lanphone", None, "10.1.2.3", "lanphone", False),
        # no name: score 4 (no secret + ACL) beats score 3 (guest)
        (None, None, "10.1.2.3", "lanphone", False),
        # no name: score 3 beats secrets; guest before guest2 in file order
        (None, None, LOCAL, "guest", False),
        (None, "from-iax", LOCAL, "guest", False),
        # only secret users allow this context: score 2 (ACL) beats score 1
        (None, "elsewhere", "192.0.2.9", "office", False),
        (None, "elsewhere", LOCAL, "any", False),
    ],
)
def test_match_user(
    username: str | None, context: str | None, ip: str, chosen: str | None, decoy: bool
) -> None:
    result = match_user(USERS, username=username, context=context, ip=ip)
    assert (result.user.name if result.user else None) == chosen
    assert result.decoy is decoy
    assert result.rejected is (chosen is None and not decoy)
    assert result.reason


def test_no_name_and_no_candidate_is_a_plain_reject() -> None:
    users = {"md5peer": USERS["md5peer"], "lanphone": USERS["lanphone"]}
    for username in (None, ""):
        result = match_user(users, username=username, context="lan", ip=LOCAL)
        assert result.rejected and not result.decoy and result.user is None


def test_tie_break_is_file_order() -> None:
    first = make_user("zeta")
    second = make_user("alpha")
    forward = match_user({"zeta": first, "alpha": second}, username=None, context=None, ip=LOCAL)
    backward = match_user({"alpha": second, "zeta": first}, username=None, context=None, ip=LOCAL)
    assert forward.user is first
    assert backward.user is second


def test_dbsecret_user_does_not_score_as_guest() -> None:
    users = {"db": make_user("db", dbsecret="fam/key"), "guest": make_user("guest")}
    assert match_user(users, username=None, context=None, ip=LOCAL).user is users["guest"]
    assert needs_authentication(users["db"])
    assert not needs_authentication(users["guest"])


# ---------------------------------------------------------------------------------------
# challenges and AUTHREQ / REGAUTH (§4.3, §15.3)


def test_make_challenge_is_nine_digits_and_seeded() -> None:
    rng = random.Random(7)
    challenges = [make_challenge(rng) for _ in range(200)]
    assert all(len(c) == 9 and c.isdigit() and c[0] != "0" for c in challenges)
    again = random.Random(7)
    assert [make_challenge(again) for _ in range(200)] == challenges


@pytest.mark.parametrize(
    ("ies", "wire"),
    [
        # calls frame 210: encpeer's AUTHREQ with ENCRYPTION between CHALLENGE and USERNAME
        (
            build_authreq(MD5, "128872642", "encpeer", 0x0001),
            "0e0200020f09" + b"128872642".hex() + "2b020001" + "0607" + b"encpeer".hex(),
        ),
        # b-to-a frame 15: RSA REGAUTH
        (
            build_regauth(RSA, "348815818", "rsapeer"),
            "0e0200040f09" + b"348815818".hex() + "0607" + b"rsapeer".hex(),
        ),
        # b-to-a frame 14: plaintext REGAUTH carries no CHALLENGE
        (build_regauth(PLAIN, "ignored", "plainpeer"), "0e020001" + "0609" + b"plainpeer".hex()),
    ],
)
def test_authreq_golden(ies: IEList, wire: str) -> None:
    assert ies.encode().hex() == wire


def test_md5_challenge_without_challenge_is_a_bug() -> None:
    with pytest.raises(ValueError):
        build_authreq(MD5, None, "x")


def _shape(ies: IEList) -> list[tuple[int, int]]:
    return [(ie, len(data)) for ie, data in ies]


def test_decoy_authreq_looks_like_a_real_md5_challenge() -> None:
    rng = random.Random(1)
    memory = AuthMethodMemory()
    real = match_user(USERS, username="md5peer", context=None, ip=LOCAL)
    fake = match_user(USERS, username="md5fake", context=None, ip=LOCAL)  # same length
    assert real.user is not None and fake.decoy
    real_ies = build_authreq(real.user.auth, make_challenge(rng), real.user.name)
    memory.remember(real.user.auth)
    fake_ies = build_authreq(memory.last, make_challenge(rng), "md5fake")
    assert _shape(real_ies) == _shape(fake_ies)
    # whatever answer comes back, it is refused like a wrong password
    challenge = fake_ies.get_str(IE.CHALLENGE)
    assert challenge is not None
    for guess in ("badsecret", "md5secret", ""):
        reply = IEList().add_str(IE.MD5_RESULT, md5_response(challenge, guess))
        outcome = verify_authrep(fake.user, memory.last, challenge, reply, EMPTY_KEYS, None)
        assert not outcome.ok


def test_auth_method_memory_starts_with_md5_and_follows_real_challenges() -> None:
    memory = AuthMethodMemory()
    assert memory.last == MD5
    memory.remember(RSA)
    assert memory.last == RSA


# ---------------------------------------------------------------------------------------
# verification (§4.3, §4.6) against every captured MD5 result

MD5_RESULTS = [  # (kind, user, challenge, secret, MD5_RESULT) from README §5.1
    ("REGREQ", "encpeer", "885912610", "encsecret", "e8959ee1c7d4b6323325a3933683142e"),
    ("REGREQ", "md5peer", "976170687", "md5secret", "997be43b51a86b7f4015e9ea534f2c30"),
    ("REGREQ", "iaxmodem", "408586065", "modemsecret", "648564952f10b6f1952b06f3f49ae18b"),
    ("REGREQ", "encpeer", "874515411", "encsecret", "0bed2480fa2e7af8c016a6ef117f8eb9"),
    ("REGREQ", "md5peer", "608281957", "md5secret", "d1ad8e91bd960700d413c8aceb8fa5fa"),
    ("AUTHREP", "md5peer", "128032954", "md5secret", "ccc2c09045375482dad812e327b509dc"),
    ("AUTHREP", "md5peer", "127399793", "md5secret", "d18f3846debe44854dd33885b3ee2602"),
    ("AUTHREP", "md5peer", "214149376", "md5secret", "9965190c7586b604bd6d0431f2ca0e10"),
    ("REGREQ", "iaxmodem", "168348246", "modemsecret", "30150f526580c98ad729a5f7a049a0c2"),
    ("REGREQ", "encpeer", "111957493", "encsecret", "3e26c278472d2f3c7e0665186d6ef8d0"),
    ("REGREQ", "md5peer", "141686832", "md5secret", "041509cda543fc3f0eb8937ca49e8b50"),
    ("REGREQ", "encpeer", "124326451", "encsecret", "d01df43f249b0463c65237c1af524de9"),
    ("REGREQ", "md5peer", "471164705", "md5secret", "a859848203ec4d13e8eb0b0728a629db"),
    ("AUTHREP", "md5peer", "606145703", "md5secret", "ff43d7c0f53d817af6f305f4abb7bea2"),
    ("AUTHREP", "md5peer", "178354311", "md5secret", "a5217b9d7de2c70a06778c01e10df5e8"),
    ("AUTHREP", "md5peer", "190140661", "md5secret", "31f60488ee479cd6b4d5b1ed05935ff8"),
    ("REGREQ", "iaxmodem", "191612998", "modemsecret", "79f26f1538e2ec961dec70fe8cc5cde4"),
]


@pytest.mark.parametrize(("kind", "name", "challenge", "secret", "result"), MD5_RESULTS)
def test_captured_md5_results_verify_and_are_reproduced(
    kind: str, name: str, challenge: str, secret: str, result: str
) -> None:
    reply = IEList().add_str(IE.MD5_RESULT, result)
    if kind == "AUTHREP":
        user = make_user(name, secrets=("other", secret))
        outcome = verify_authrep(user, MD5, challenge, reply, EMPTY_KEYS, None)
    else:
        peer = make_peer(name, secrets=(secret,), dynamic=True)
        outcome = verify_regreq(peer, MD5, challenge, reply, EMPTY_KEYS, None)
    assert outcome.ok and outcome.method == MD5
    # the client side produces the very same IE
    answer = answer_challenge(MD5, challenge, name, Credentials(secret=secret), EMPTY_KEYS)
    assert isinstance(answer, ChallengeAnswer)
    assert answer.ies.get_str(IE.MD5_RESULT) == result


def test_md5_compare_is_case_insensitive_and_wrong_secret_fails() -> None:
    user = make_user("md5peer", secrets=("md5secret",))
    upper = IEList().add_str(IE.MD5_RESULT, "CCC2C09045375482DAD812E327B509DC")
    assert verify_authrep(user, MD5, "128032954", upper, EMPTY_KEYS, None).ok
    wrong = IEList().add_str(IE.MD5_RESULT, md5_response("128032954", "guess"))
    outcome = verify_authrep(user, MD5, "128032954", wrong, EMPTY_KEYS, None)
    assert not outcome.ok and "md5secret" not in outcome.reason


RSA_RESULTS = [  # (challenge, RSA_RESULT prefix) from README §5.2
    ("348815818", "IFy0H7WdKYU/LezCbPhtl7wa"),
    ("131112043", "ZjgDaiGThxoO4Uj1dvJKopDZ"),
    ("427420709", "WhJpgH0lWerS7Pwcn5jz75Zf"),
    ("137088591", "UfMtyTA5RzvCkbQi7p65tORb"),
    ("170395601", "az2NcVQ8U5Fa+C+O27YxfcrA"),
]
RSA_FULL_348815818 = (
    "IFy0H7WdKYU/LezCbPhtl7walpnEpLM5NjikpnaIV03IGyqiqHAnemm3p788Ms2Jr2RhJ2X4PEVxNaT80RWMM+V7"
    "YQ6G1IvMbio890obxnY0TcCHKg/wllwAIYdNj2Q3QY8zp9iJv+0xj0oLCFh7e3VqIdzYGZDtZko/icIiCZs="
)


@pytest.mark.parametrize(("challenge", "prefix"), RSA_RESULTS)
def test_captured_rsa_results(keystore: KeyStore, challenge: str, prefix: str) -> None:
    answer = answer_challenge(RSA, challenge, "rsapeer", Credentials(outkey="iaxpeer"), keystore)
    assert isinstance(answer, ChallengeAnswer)
    signature = answer.ies.get_str(IE.RSA_RESULT)
    assert signature is not None and signature.startswith(prefix) and len(signature) == 172
    if challenge == "348815818":
        assert signature == RSA_FULL_348815818
    # A's rsapeer: inkeys tried in order, the second one verifies
    user = make_user("rsapeer", auth=RSA, inkeys=("iaxtest", "iaxpeer"))
    outcome = verify_authrep(user, RSA, challenge, answer.ies, keystore, None)
    assert outcome.ok and outcome.method == RSA
    peer = make_peer("rsapeer", auth=RSA, inkeys=("iaxpeer",), dynamic=True)
    assert verify_regreq(peer, RSA, challenge, answer.ies, keystore, None).ok


def test_rsa_with_wrong_or_missing_key_fails(keystore: KeyStore) -> None:
    reply = IEList().add_str(IE.RSA_RESULT, RSA_FULL_348815818)
    wrong_key = make_user("rsapeer", auth=RSA, inkeys=("iaxtest", "gone"))
    outcome = verify_authrep(wrong_key, RSA, "348815818", reply, keystore, None)
    assert not outcome.ok and "gone" in outcome.reason
    other_challenge = make_user("rsapeer", auth=RSA, inkeys=("iaxpeer",))
    assert not verify_authrep(other_challenge, RSA, "348815819", reply, keystore, None).ok


@pytest.mark.parametrize(
    ("methods", "secrets", "reply", "ok", "method"),
    [
        # md5,plaintext: MD5 is the branch, so a PASSWORD alone fails (Asterisk quirk kept)
        (MD5 | PLAIN, ["pw"], IEList().add_str(IE.PASSWORD, "pw"), False, None),
        # plaintext only: each secret is compared on its own (pbxedge improvement)
        (PLAIN, ["a", "b"], IEList().add_str(IE.PASSWORD, "b"), True, PLAIN),
        (PLAIN, ["a", "b"], IEList().add_str(IE.PASSWORD, "a;b"), False, None),
        (PLAIN, ["a"], IEList(), False, None),
        # RSA allowed but no RSA_RESULT: falls to MD5
        (
            RSA | MD5,
            ["pw"],
            IEList().add_str(IE.MD5_RESULT, md5_response("123456789", "pw")),
            True,
            MD5,
        ),
        (MD5, ["pw"], IEList(), False, None),
    ],
)
def test_verify_branch_follows_allowed_methods(
    methods: AuthMethod, secrets: list[str], reply: IEList, ok: bool, method: AuthMethod | None
) -> None:
    user = make_user("u", auth=methods, secrets=tuple(secrets), inkeys=("iaxpeer",))
    outcome = verify_authrep(user, methods, "123456789", reply, EMPTY_KEYS, None)
    assert (outcome.ok, outcome.method) == (ok, method)
    assert all(s not in outcome.reason for s in secrets if len(s) > 1)


def test_dbsecret_resolves_and_fails_closed() -> None:
    user = make_user("db", dbsecret="iax/db", secrets=("ignored",))
    reply = IEList().add_str(IE.MD5_RESULT, md5_response("111111111", "fromdb"))
    store = {("iax", "db"): "old;fromdb"}
    ok = verify_authrep(user, MD5, "111111111", reply, EMPTY_KEYS, lambda f, k: store.get((f, k)))
    assert ok.ok
    # dbsecret wins over secret=
    ignored = IEList().add_str(IE.MD5_RESULT, md5_response("111111111", "ignored"))
    assert not verify_authrep(user, MD5, "111111111", ignored, EMPTY_KEYS, lambda f, k: "x").ok
    # missing entry, no resolver, malformed dbsecret: refused, never "no authentication"
    missing = verify_authrep(user, MD5, "111111111", reply, EMPTY_KEYS, lambda f, k: None)
    assert not missing.ok and "iax/db" in missing.reason
    assert not verify_authrep(user, MD5, "111111111", reply, EMPTY_KEYS, None).ok
    assert resolve_secrets([], "nofamily", lambda f, k: "x") is None
    assert resolve_secrets(["a", ""], None, None) == ("a",)
    peer = make_peer("dbpeer", dbsecret="iax/db", dynamic=True)
    assert match_registrant({"dbpeer": peer}, "dbpeer", LOCAL).needs_challenge
    assert not verify_regreq(peer, MD5, "111111111", reply, EMPTY_KEYS, lambda f, k: None).ok


def test_maxauthreq_counter() -> None:
    counter = AuthRequestCounter()
    assert [counter.acquire("u", 3) for _ in range(3)] == [None, None, None]
    refused = counter.acquire("u", 3)
    assert refused is not None
    assert (refused.text, refused.cause) == (
        "Unauthenticated call limit reached",
        Cause.CALL_REJECTED,
    )
    counter.release("u")
    assert counter.acquire("u", 3) is None
    assert counter.outstanding("u") == 3
    assert all(counter.acquire("v", 0) is None for _ in range(10))  # 0 = unlimited
    for _ in range(5):
        counter.release("u")
    assert counter.outstanding("u") == 0


@pytest.mark.parametrize(
    ("factory", "text", "cause"),
    [
        (Rejection.no_authority, "No authority found", 50),
        (Rejection.no_such_extension, "No such context/extension", 3),
        (Rejection.unauthenticated_limit, "Unauthenticated call limit reached", 21),
        (Rejection.registration_refused, "Registration Refused", 29),
    ],
)
def test_rejection_texts(factory: Any, text: str, cause: int) -> None:
    rejection = factory("why")
    assert (rejection.text, int(rejection.cause), rejection.reason) == (text, cause, "why")


# ---------------------------------------------------------------------------------------
# encryption (§5.1, §5.2, §5.5)


@pytest.mark.parametrize(
    ("ours", "offered", "methods", "rotation"),
    [
        (0x8001, 0x8001, 0x0001, True),  # server, both rotate
        (0x8001, 0x0001, 0x0001, False),  # client merging the AUTHREQ's 0x0001
        (0x0001, 0x8001, 0x0001, False),
        (0x8001, 0, 0, False),
        (0, 0x8001, 0, False),
        (0x8000, 0x8000, 0, False),  # rotation alone is no cipher
    ],
)
def test_merge_encryption(ours: int, offered: int, methods: int, rotation: bool) -> None:
    assert merge_encryption(ours, offered) == EncryptionAgreement(methods, rotation)


def test_offered_encryption() -> None:
    assert offered_encryption(True) == 0x8001
    assert offered_encryption(False) == 0


# asterisk-b-to-a-calls frame 211: encpeer's encrypted AUTHREP (README §5.3)
FRAME_211 = bytes.fromhex(
    "a0d11c10276252aa867b9ce784aadd011397c12562cb71800819758e4334a6122e37d343"
    "aab2d37bc4b9250d7db24e45c8a5e9296c3667e3d2a5dd003aff64092cb67fa5"
)
ENC_KEY = bytes.fromhex("6463a1967fb4507b9e23da204a5b619f")


def test_encrypted_authrep_end_to_end() -> None:
    user = make_user("encpeer", secrets=("wrong", "encsecret"))  # encryption=yes
    agreement = merge_encryption(offered_encryption(True), 0x8001)
    assert force_encryption_rejection(force=True, secrets=user.secrets, agreement=agreement) is None
    candidates = encryption_keys("128872642", user.secrets)
    assert candidates[1] == ENC_KEY
    # the server tries each candidate key on the encrypted AUTHREP
    plain = AesTransform(ENC_KEY).decrypt_full(FRAME_211)
    ies = IEList.parse(plain[12:])
    outcome = verify_authrep(user, MD5, "128872642", ies, EMPTY_KEYS, None)
    assert outcome.ok and outcome.aes_key == ENC_KEY
    # the client (B) derives the same key from the AUTHREQ of frame 210
    answer = answer_challenge(
        MD5,
        "128872642",
        "encpeer",
        Credentials(secret="encsecret"),
        EMPTY_KEYS,
        our_encryption=0x8001,
        offered_encryption=0x0001,
        force_encryption=True,
    )
    assert isinstance(answer, ChallengeAnswer)
    assert answer.aes_key == ENC_KEY
    assert answer.agreement == EncryptionAgreement(0x0001, False)
    assert answer.ies == ies


@pytest.mark.parametrize(
    ("force", "secrets", "agreement", "rejected"),
    [
        (False, [], EncryptionAgreement(0, False), False),
        (True, [], EncryptionAgreement(1, True), True),
        (True, None, EncryptionAgreement(1, True), True),
        (True, ["s"], EncryptionAgreement(0, False), True),
        (True, ["s"], EncryptionAgreement(1, False), False),
    ],
)
def test_force_encryption(
    force: bool, secrets: list[str] | None, agreement: EncryptionAgreement, rejected: bool
) -> None:
    result = force_encryption_rejection(force=force, secrets=secrets, agreement=agreement)
    assert (result is not None) is rejected
    if result is not None:
        assert result.text == "No authority found" and result.cause == Cause.FACILITY_NOT_SUBSCRIBED


# ---------------------------------------------------------------------------------------
# registration (§4.6)

PEERS = {
    p.name: p
    for p in [
        make_peer("md5peer", secrets=("md5secret",), dynamic=True),
        make_peer("plainpeer", secrets=("plainsecret",), auth=PLAIN, dynamic=True),
        make_peer("static", secrets=("x",), host="192.0.2.1"),
        make_peer("open", dynamic=True),
        make_peer("lan", secrets=("x",), dynamic=True, acl=permit("10.0.0.0/8")),
    ]
}


@pytest.mark.parametrize(
    ("username", "ip", "peer", "reason", "challenge"),
    [
        ("md5peer", LOCAL, "md5peer", "peer 'md5peer'", True),
        ("nosuch", LOCAL, None, "no such peer 'nosuch'", True),
        ("static", LOCAL, None, "peer 'static' is not dynamic", True),
        ("lan", LOCAL, None, "peer 'lan' does not permit 127.0.0.1", True),
        ("lan", "10.9.9.9", "lan", "peer 'lan'", True),
        ("open", LOCAL, "open", "peer 'open'", False),
    ],
)
def test_match_registrant(
    username: str, ip: str, peer: str | None, reason: str, challenge: bool
) -> None:
    match = match_registrant(PEERS, username, ip)
    assert (match.peer.name if match.peer else None) == peer
    assert match.decoy is (peer is None)
    assert match.reason == reason
    assert match.needs_challenge is challenge


def test_plaintext_registration_from_capture() -> None:
    # b-to-a frames 14 -> 18: REGAUTH methods 1, no challenge; REGREQ carries PASSWORD
    peer = PEERS["plainpeer"]
    reply = IEList().add_str(IE.USERNAME, "plainpeer").add_u16(IE.REFRESH, 60)
    reply.add_str(IE.PASSWORD, "plainsecret")
    assert verify_regreq(peer, PLAIN, None, reply, EMPTY_KEYS, None).ok
    answer = answer_challenge(PLAIN, None, "plainpeer", Credentials("plainsecret"), EMPTY_KEYS)
    assert isinstance(answer, ChallengeAnswer)
    assert answer.ies.get_str(IE.PASSWORD) == "plainsecret"


@pytest.mark.parametrize(
    ("peer", "reply", "reason_part"),
    [
        (None, IEList().add_str(IE.MD5_RESULT, "x"), "decoy"),
        (PEERS["md5peer"], IEList(), "no usable"),
        (PEERS["md5peer"], IEList().add_str(IE.PASSWORD, "md5secret"), "no usable"),
        (PEERS["md5peer"], IEList().add_str(IE.MD5_RESULT, "0" * 32), "MD5"),
    ],
)
def test_regreq_failures(peer: PeerAccount | None, reply: IEList, reason_part: str) -> None:
    outcome = verify_regreq(peer, MD5, "976170687", reply, EMPTY_KEYS, None)
    assert not outcome.ok and reason_part in outcome.reason
    assert "md5secret" not in outcome.reason


# ---------------------------------------------------------------------------------------
# client side (§4.5)


@pytest.mark.parametrize(
    ("offered", "challenge", "creds", "kwargs", "result_ie", "failure"),
    [
        (MD5 | RSA, "1", Credentials("pw", "iaxpeer"), {}, IE.RSA_RESULT, None),
        (MD5 | PLAIN, "1", Credentials("pw"), {}, IE.MD5_RESULT, None),
        (MD5 | PLAIN, None, Credentials("pw"), {}, IE.PASSWORD, None),
        # RSA offered but our key is not loaded: falls back to the secret
        (MD5 | RSA, "1", Credentials("pw", "nokey"), {}, IE.MD5_RESULT, None),
        (RSA, "1", Credentials("pw"), {}, None, "RSA authentication requires an outkey"),
        (RSA, "1", Credentials(None, "nokey"), {}, None, "private key 'nokey' is not loaded"),
        (MD5, "1", Credentials(None, "iaxpeer"), {}, None, "no way to answer methods 2"),
        (MD5, "1", Credentials(), {}, None, "no secret or outkey"),
        (MD5, None, Credentials("pw"), {}, None, "no CHALLENGE"),
        (
            MD5,
            "1",
            Credentials(None, "iaxpeer"),
            {"our_encryption": 0x8001, "offered_encryption": 1},
            None,
            "encryption requested by peer but no secret available locally",
        ),
        (
            MD5,
            "1",
            Credentials("pw"),
            {"our_encryption": 0x8001, "force_encryption": True},
            None,
            "forceencryption",
        ),
        # RSA-only challenges never merge encryption
        (
            RSA,
            "1",
            Credentials(None, "iaxpeer"),
            {"our_encryption": 0x8001, "offered_encryption": 1},
            IE.RSA_RESULT,
            None,
        ),
    ],
)
def test_answer_challenge_table(
    keystore: KeyStore,
    offered: AuthMethod,
    challenge: str | None,
    creds: Credentials,
    kwargs: dict[str, Any],
    result_ie: IE | None,
    failure: str | None,
) -> None:
    answer = answer_challenge(offered, challenge, "user", creds, keystore, **kwargs)
    if failure is not None:
        assert isinstance(answer, AuthFailure) and failure in answer.reason
        assert "pw" not in answer.reason
    else:
        assert isinstance(answer, ChallengeAnswer)
        assert [ie for ie, _ in answer.ies] == [result_ie]


B_PEERS = {  # instance-b-iax.conf's outbound peers
    p.name: p
    for p in [
        make_peer("a-md5", host=LOCAL, port=4570, username="md5peer", secrets=("md5secret",)),
        make_peer("a-rsa", host=LOCAL, port=4570, username="rsapeer", outkey="iaxpeer", auth=RSA),
        make_peer(
            "a-enc",
            host=LOCAL,
            port=4570,
            username="encpeer",
            secrets=("encsecret",),
            encryption=True,
            force_encryption=True,
        ),
        make_peer("a-guest", host=LOCAL, port=4570),
        make_peer("lan", host="10.0.0.1", secrets=("lansecret",), mask="255.0.0.0"),
        make_peer("roamer", dynamic=True, secrets=("roamsecret",)),
    ]
}


def _host(peer: PeerAccount) -> str | None:
    return peer.host


@pytest.mark.parametrize(
    ("peer_name", "username", "ip", "expected"),
    [
        ("a-md5", "md5peer", LOCAL, [Credentials("md5secret")]),
        ("a-rsa", "rsapeer", LOCAL, [Credentials(None, "iaxpeer")]),
        # no dialed peer: every peer whose username fits and address matches
        (None, "md5peer", LOCAL, [Credentials("md5secret"), Credentials("roamsecret")]),
        (None, None, "10.200.0.9", [Credentials("lansecret"), Credentials("roamsecret")]),
        ("a-md5", "rsapeer", LOCAL, []),
        ("a-md5", "md5peer", "192.0.2.1", []),
        ("nosuch", "md5peer", LOCAL, []),  # a dialed peer that is not configured
    ],
)
def test_choose_credentials(
    peer_name: str | None, username: str | None, ip: str, expected: list[Credentials]
) -> None:
    assert choose_credentials(B_PEERS, peer_name, username, ip, peer_address=_host) == expected
