"""Authentication decisions for calls and registrations, both as server and as client.

Server side: which ``[user]`` takes an incoming NEW (``check_access``), the AUTHREQ/REGAUTH
challenge (``authenticate_request``, ``registry_authrequest``), verifying the answer
(``authenticate_verify``, ``register_verify``), ``maxauthreq`` and ``forceencryption``.
Client side: answering an AUTHREQ/REGAUTH (``authenticate_reply``, ``authenticate``).
Also the AES-128 agreement (``merge_encryption``). See iax2.md §4 and §5.1-§5.5.

Everything here is a pure function of accounts (:mod:`pbxedge.iax2.accounts`), IEs, loaded
keys and an injected ``random.Random``.
Failure reasons are meant for ``authdebug`` log lines and never contain a secret; names
that came in a frame are shown through :func:`pbxedge.log.printable`.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from pbxedge.iax2.accounts import Account, PeerAccount, UserAccount
from pbxedge.iax2.crypto import aes_key, md5_response, rsa_sign, rsa_verify
from pbxedge.iax2.enums import IE, AuthMethod, Cause, EncryptionMethod
from pbxedge.iax2.ies import IEList
from pbxedge.log import printable

__all__ = [
    "DEFAULT_MAXAUTHREQ",
    "DELAYREJECT_SECONDS",
    "AuthFailure",
    "AuthMethodMemory",
    "AuthOutcome",
    "AuthRequestCounter",
    "ChallengeAnswer",
    "Credentials",
    "EncryptionAgreement",
    "MatchResult",
    "RegistrantMatch",
    "Rejection",
    "RsaKeys",
    "SecretResolver",
    "answer_challenge",
    "build_authreq",
    "build_regauth",
    "choose_credentials",
    "encryption_keys",
    "force_encryption_rejection",
    "make_challenge",
    "match_registrant",
    "match_user",
    "merge_encryption",
    "needs_authentication",
    "offered_encryption",
    "offers_challenge",
    "resolve_secrets",
    "verify_authrep",
    "verify_regreq",
]

# (family, key) -> the astdb value, or None when absent. The node passes its store.
SecretResolver = Callable[[str, str], str | None]


class RsaKeys(Protocol):
    """The RSA keys loaded by name (the node passes its key store)."""

    def public(self, name: str) -> RSAPublicKey | None: ...

    def private(self, name: str) -> RSAPrivateKey | None: ...


DEFAULT_MAXAUTHREQ = 3  # chan_iax2.c line 368
# With delayreject=yes a failed authentication (REJECT) or registration (REGREJ) is answered
# this long after the attempt, to slow password guessing (auth_fail 9511-9524, 9484-9488).
DELAYREJECT_SECONDS = 1.0
_CHALLENGE_MIN = 100_000_000
_CHALLENGE_MAX = 999_999_999
_ENCRYPTION_OFFER = EncryptionMethod.AES128 | EncryptionMethod.KEYROTATE  # 0x8001


# -- shared result types ----------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """A REJECT/REGREJ to send: *text* goes in CAUSE, *cause* in CAUSECODE; *reason* is
    the precise internal explanation for the authdebug log."""

    text: str
    cause: Cause
    reason: str

    @classmethod
    def no_authority(cls, reason: str) -> Rejection:
        return cls("No authority found", Cause.FACILITY_NOT_SUBSCRIBED, reason)

    @classmethod
    def no_such_extension(cls, reason: str) -> Rejection:
        return cls("No such context/extension", Cause.NO_ROUTE_DESTINATION, reason)

    @classmethod
    def unauthenticated_limit(cls, reason: str) -> Rejection:
        return cls("Unauthenticated call limit reached", Cause.CALL_REJECTED, reason)

    @classmethod
    def registration_refused(cls, reason: str) -> Rejection:
        return cls("Registration Refused", Cause.FACILITY_REJECTED, reason)


# -- secrets ----------------------------------------------------------------------------


def resolve_secrets(
    secrets: Sequence[str], dbsecret: str | None, resolver: SecretResolver | None
) -> tuple[str, ...] | None:
    """The effective secrets of a user or peer, or None when ``dbsecret`` cannot be read.

    ``dbsecret=family/key`` takes precedence over ``secret=`` and, like a joined Asterisk
    secret, may hold several ``;``-separated values (8138-8153). Asterisk logs a warning and
    goes on with an *empty* secret when the lookup fails, which lets the call in without
    authentication; pbxedge fails closed instead (None).
    """
    if not dbsecret:
        return tuple(s for s in secrets if s)
    family, sep, key = dbsecret.partition("/")
    if not sep or not family or not key or resolver is None:
        return None
    value = resolver(family, key)
    if not value:
        return None
    return tuple(s for s in value.split(";") if s)


def needs_authentication(account: Account) -> bool:
    """Whether a NEW (or REGREQ) must be challenged: any secret, dbsecret or inkeys.

    A ``dbsecret`` counts even before it is read, so a missing astdb entry cannot turn an
    account into an open one (the fail-closed rule of :func:`resolve_secrets`).
    """
    return bool(account.secrets or account.dbsecret or account.inkeys)


# -- challenge and AUTHREQ / REGAUTH ----------------------------------------------------


def make_challenge(rng: random.Random) -> str:
    """A 9-digit decimal challenge, as Asterisk's ``snprintf("%d", ast_random())`` looks
    on the wire (every captured challenge has 9 digits)."""
    return str(rng.randint(_CHALLENGE_MIN, _CHALLENGE_MAX))


def offers_challenge(methods: AuthMethod) -> bool:
    """Whether offering *methods* means sending a challenge (MD5 or RSA among them)."""
    # Membership tests: ``&`` on a flag builds a new member, several times the cost.
    return AuthMethod.MD5 in methods or AuthMethod.RSA in methods


def build_authreq(
    methods: AuthMethod, challenge: str | None, username: str, encryption: int = 0
) -> IEList:
    """AUTHREQ IEs in Asterisk's order: AUTHMETHODS, CHALLENGE (MD5 or RSA only),
    ENCRYPTION (when negotiated), USERNAME (iax2.md §15.3)."""
    ies = IEList().add_u16(IE.AUTHMETHODS, int(methods))
    if offers_challenge(methods):
        if not challenge:
            raise ValueError("MD5 and RSA need a challenge")
        ies.add_str(IE.CHALLENGE, challenge)
    if encryption:
        ies.add_u16(IE.ENCRYPTION, encryption)
    return ies.add_str(IE.USERNAME, username)


def build_regauth(methods: AuthMethod, challenge: str | None, username: str) -> IEList:
    """REGAUTH IEs: AUTHMETHODS, CHALLENGE (unless plaintext only), USERNAME.
    Registrations are never encrypted (§15.4)."""
    return build_authreq(methods, challenge, username)


class AuthMethodMemory:
    """Asterisk's ``last_authmethod``: the methods of the last real challenge, which a
    decoy challenge repeats so it looks like whatever this node usually sends."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = AuthMethod.MD5

    @property
    def last(self) -> AuthMethod:
        return self._last

    def remember(self, methods: AuthMethod) -> None:
        if methods:
            self._last = methods


class AuthRequestCounter:
    """Outstanding AUTHREQs per user, for ``maxauthreq`` (8215-8240; 0 = no limit)."""

    __slots__ = ("_outstanding",)

    def __init__(self) -> None:
        self._outstanding: dict[str, int] = {}

    def acquire(self, user_name: str, limit: int) -> Rejection | None:
        """Count one more AUTHREQ, or the REJECT cause 21 when *limit* are outstanding."""
        current = self._outstanding.get(user_name, 0)
        if limit > 0 and current >= limit:
            return Rejection.unauthenticated_limit(
                f"user '{user_name}' already has {current} unanswered AUTHREQs (maxauthreq={limit})"
            )
        self._outstanding[user_name] = current + 1
        return None

    def release(self, user_name: str) -> None:
        """The AUTHREP arrived or the call ended."""
        current = self._outstanding.get(user_name, 0)
        if current <= 1:
            self._outstanding.pop(user_name, None)
        else:
            self._outstanding[user_name] = current - 1

    def outstanding(self, user_name: str) -> int:
        return self._outstanding.get(user_name, 0)


# -- which [user] takes a NEW -----------------------------------------------------------


@dataclass(frozen=True)
class MatchResult:
    """The outcome of user matching.

    * ``user`` set: that user handles the call.
    * ``decoy``: a USERNAME was given but nothing matched; send a challenge that can never
      succeed, so that probing cannot tell unknown names from wrong passwords.
    * neither: REJECT "No authority found".
    """

    user: UserAccount | None
    decoy: bool
    reason: str

    @property
    def rejected(self) -> bool:
        return self.user is None and not self.decoy


def _user_score(user: UserAccount) -> int:
    has_acl = user.acl.is_set
    if not (user.secrets or user.dbsecret or user.inkeys):
        return 4 if has_acl else 3
    return 2 if has_acl else 1


def _context_allowed(user: UserAccount, context: str | None) -> bool:
    return not context or "*" in user.contexts or context in user.contexts


def match_user(
    users: Mapping[str, UserAccount], *, username: str | None, context: str | None, ip: str
) -> MatchResult:
    """Pick the ``[user]`` for a NEW from *ip* the way ``check_access`` does (7940-8171).

    With a USERNAME the first exact, permitted match wins. Without one the best score wins
    (4 no credentials + ACL, 3 no credentials, 2 secret + ACL, 1 secret); Asterisk keeps
    users in a hash table, so its tie-break is arbitrary, while pbxedge takes the first in
    file order so the outcome is reproducible.
    """
    if username:
        user = users.get(username)
        shown = printable(username)
        if user is None:
            return MatchResult(None, True, f"no user named '{shown}'")
        if not user.acl.permits(ip):
            return MatchResult(None, True, f"user '{shown}' does not permit {ip}")
        if not _context_allowed(user, context):
            return MatchResult(None, True,
                               f"user '{shown}' may not use context '{printable(context or '')}'")
        return MatchResult(user, False, f"user '{shown}' named in the NEW")

    best: UserAccount | None = None
    best_score = 0
    for user in users.values():
        if not user.acl.permits(ip) or not _context_allowed(user, context):
            continue
        score = _user_score(user)
        if score > best_score:  # strict: the earlier user keeps a tie
            best, best_score = user, score
    if best is None:
        where = f" for context '{printable(context)}'" if context else ""
        return MatchResult(None, False, f"no user without a name permits {ip}{where}")
    return MatchResult(best, False, f"user '{best.name}' chosen by score {best_score}")


# -- encryption agreement ---------------------------------------------------------------


@dataclass(frozen=True)
class EncryptionAgreement:
    """What ``merge_encryption`` leaves on a call: AES128 or nothing, and key rotation."""

    methods: int
    key_rotation: bool

    @property
    def encrypted(self) -> bool:
        return bool(self.methods)


def offered_encryption(enabled: bool) -> int:
    """ENCRYPTION for a NEW: ``encryption=yes|aes128`` means AES128|KEYROTATE (0x8001)."""
    return int(_ENCRYPTION_OFFER) if enabled else 0


def merge_encryption(ours: int, offered: int) -> EncryptionAgreement:
    """``merge_encryption`` (8189-8208): keep the common bits, note whether both can rotate
    keys, then settle on AES128 alone (0x0001, which the AUTHREQ carries)."""
    common = ours & offered
    if not common:
        return EncryptionAgreement(0, False)
    rotation = bool(common & EncryptionMethod.KEYROTATE)
    if common & EncryptionMethod.AES128:
        return EncryptionAgreement(int(EncryptionMethod.AES128), rotation)
    return EncryptionAgreement(0, False)


def encryption_keys(challenge: str, secrets: Iterable[str]) -> list[bytes]:
    """Candidate AES keys for an encrypted AUTHREP, one per secret in order: the server
    has not picked a secret yet when that frame arrives, so it tries each (6668-6694)."""
    return [aes_key(challenge, secret) for secret in secrets]


def force_encryption_rejection(
    *, force: bool, secrets: Sequence[str] | None, agreement: EncryptionAgreement
) -> Rejection | None:
    """Server side ``forceencryption``: a forced user needs a secret (10957-10962) and a
    NEW that offered encryption (8284-8287); both failures are "No authority found"."""
    if not force:
        return None
    if not secrets:
        return Rejection.no_authority("encryption is forced but the user has no secret")
    if not agreement.encrypted:
        return Rejection.no_authority(
            "incoming call is unencrypted while forceencryption is enabled"
        )
    return None


# -- verifying an AUTHREP / an authenticated REGREQ -------------------------------------


@dataclass(frozen=True)
class AuthOutcome:
    """Success with the method that proved it, or failure with a loggable reason."""

    ok: bool
    method: AuthMethod | None
    reason: str
    aes_key: bytes | None = field(default=None, repr=False)


def _fail(reason: str) -> AuthOutcome:
    return AuthOutcome(False, None, reason)


def _verify_rsa(
    inkeys: Sequence[str], challenge: str, result: str, keystore: RsaKeys
) -> AuthOutcome:
    missing: list[str] = []
    for name in inkeys:
        key = keystore.public(name)
        if key is None:
            missing.append(name)
        elif rsa_verify(key, challenge, result):
            return AuthOutcome(True, AuthMethod.RSA, f"RSA signature verified with key '{name}'")
    note = f" (not loaded: {', '.join(missing)})" if missing else ""
    return _fail(f"RSA signature matches none of inkeys {':'.join(inkeys)}{note}")


def _verify_md5(secrets: Sequence[str], challenge: str, result: str) -> AuthOutcome:
    answer = result.lower()  # Asterisk compares with strcasecmp
    for secret in secrets:
        if md5_response(challenge, secret) == answer:
            return AuthOutcome(
                True, AuthMethod.MD5, "MD5 response matches", aes_key(challenge, secret)
            )
    return _fail(f"MD5 response matches none of {len(secrets)} secret(s)")


def _verify_plaintext(secrets: Sequence[str], password: str | None) -> AuthOutcome:
    if password is None:
        return _fail("plaintext allowed but no PASSWORD IE")
    # pbxedge compares with each secret; Asterisk compares with the ';'-joined string,
    # so with several secret= lines no single password could ever match there.
    if password and password in secrets:
        return AuthOutcome(True, AuthMethod.PLAINTEXT, "plaintext password matches")
    return _fail("plaintext password does not match")


def verify_authrep(
    user: UserAccount | None,
    methods: AuthMethod,
    challenge: str,
    ies: IEList,
    keystore: RsaKeys,
    secret_resolver: SecretResolver | None,
) -> AuthOutcome:
    """Check an AUTHREP exactly like ``authenticate_verify`` (8261-8354): ONE branch,
    chosen by the *allowed* methods, not by which result the caller sent.

    1. RSA if allowed, RSA_RESULT present and the user has inkeys; each key is tried.
    2. else MD5 if allowed; each secret is tried, hex compared case-insensitively.
    3. else plaintext.

    *user* None is a decoy challenge: always refused. ``forceencryption`` is checked
    separately by :func:`force_encryption_rejection`.
    """
    if user is None:
        return _fail("answer to a decoy challenge (unknown or refused user)")
    secrets = resolve_secrets(user.secrets, user.dbsecret, secret_resolver)
    rsa_result = ies.get_str(IE.RSA_RESULT)
    if AuthMethod.RSA in methods and rsa_result and user.inkeys:
        return _verify_rsa(user.inkeys, challenge, rsa_result, keystore)
    if secrets is None:
        return _fail(f"dbsecret '{user.dbsecret}' is missing from the database")
    if AuthMethod.MD5 in methods:
        md5_result = ies.get_str(IE.MD5_RESULT)
        if md5_result is None:
            return _fail("MD5 required but no MD5_RESULT IE")
        return _verify_md5(secrets, challenge, md5_result)
    if AuthMethod.PLAINTEXT in methods:
        return _verify_plaintext(secrets, ies.get_str(IE.PASSWORD))
    return _fail("user allows no authentication method")


@dataclass(frozen=True)
class RegistrantMatch:
    """The peer a REGREQ's USERNAME names, or a decoy (``peer`` None) with the reason."""

    peer: PeerAccount | None
    reason: str

    @property
    def decoy(self) -> bool:
        return self.peer is None

    @property
    def needs_challenge(self) -> bool:
        """False only for a real peer with no secret, dbsecret or inkeys (11767-11779)."""
        return self.peer is None or needs_authentication(self.peer)


def match_registrant(peers: Mapping[str, PeerAccount], username: str, ip: str) -> RegistrantMatch:
    """``register_verify`` (8356-8516): USERNAME is a peer's *section name*; the peer must
    be ``host=dynamic`` and its ACL must permit *ip*. Anything else gets a decoy REGAUTH
    and then ``REGREJ "Registration Refused"`` (cause 29), whatever the reason, so that
    names cannot be enumerated."""
    peer = peers.get(username)
    shown = printable(username)
    if peer is None:
        return RegistrantMatch(None, f"no such peer '{shown}'")
    if not peer.dynamic:
        return RegistrantMatch(None, f"peer '{shown}' is not dynamic")
    if not peer.acl.permits(ip):
        return RegistrantMatch(None, f"peer '{shown}' does not permit {ip}")
    return RegistrantMatch(peer, f"peer '{shown}'")


def verify_regreq(
    peer: PeerAccount | None,
    methods: AuthMethod,
    challenge: str | None,
    ies: IEList,
    keystore: RsaKeys,
    secret_resolver: SecretResolver | None,
) -> AuthOutcome:
    """Check the REGREQ that answers a REGAUTH. Unlike calls, the branch follows which
    result is present: RSA (method allowed, inkeys set) → MD5 → plaintext; a REGREQ with
    no usable result is refused."""
    if peer is None:
        return _fail("answer to a decoy REGAUTH (unknown, non-dynamic or refused peer)")
    secrets = resolve_secrets(peer.secrets, peer.dbsecret, secret_resolver)
    rsa_result = ies.get_str(IE.RSA_RESULT)
    md5_result = ies.get_str(IE.MD5_RESULT)
    password = ies.get_str(IE.PASSWORD)
    if rsa_result and AuthMethod.RSA in methods and challenge and peer.inkeys:
        return _verify_rsa(peer.inkeys, challenge, rsa_result, keystore)
    if md5_result and AuthMethod.MD5 in methods and challenge:
        if secrets is None:
            return _fail(f"dbsecret '{peer.dbsecret}' is missing from the database")
        return _verify_md5(secrets, challenge, md5_result)
    if password is not None and AuthMethod.PLAINTEXT in methods:
        if secrets is None:
            return _fail(f"dbsecret '{peer.dbsecret}' is missing from the database")
        return _verify_plaintext(secrets, password)
    return _fail("no usable RSA_RESULT, MD5_RESULT or PASSWORD for the offered methods")


# -- client side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """What we may answer a challenge with: a secret and/or the name of a private key."""

    secret: str | None = field(default=None, repr=False)
    outkey: str | None = None


@dataclass(frozen=True)
class AuthFailure:
    """We cannot answer: hang up (cause 0), log *reason*."""

    reason: str


@dataclass(frozen=True)
class ChallengeAnswer:
    """The IEs to put in the AUTHREP (or append to the REGREQ), and the encryption state."""

    ies: IEList
    agreement: EncryptionAgreement
    aes_key: bytes | None = field(default=None, repr=False)


def answer_challenge(
    offered: AuthMethod,
    challenge: str | None,
    username: str,
    creds: Credentials,
    keystore: RsaKeys,
    *,
    our_encryption: int = 0,
    offered_encryption: int = 0,
    force_encryption: bool = False,
) -> ChallengeAnswer | AuthFailure:
    """``authenticate_reply`` + ``authenticate`` (8518-8732).

    With an outkey and RSA offered → RSA_RESULT; otherwise with a secret → MD5_RESULT if
    MD5 is offered and there is a challenge, else PASSWORD if plaintext is offered.
    Encryption is merged only when the challenge offers MD5 (8612-8616); the key is
    md5(challenge + our secret).
    """
    if offered == AuthMethod.RSA and not creds.outkey:
        return AuthFailure(
            f"RSA authentication requires an outkey (user '{printable(username)}')")
    agreement = (
        merge_encryption(our_encryption, offered_encryption)
        if AuthMethod.MD5 in offered
        else EncryptionAgreement(0, False)
    )
    if agreement.encrypted and not creds.secret:
        return AuthFailure("encryption requested by peer but no secret available locally")
    if force_encryption and not agreement.encrypted:
        return AuthFailure("challenge offers no encryption while forceencryption is enabled")

    ies = IEList()
    if creds.outkey and AuthMethod.RSA in offered and challenge:
        private_key = keystore.private(creds.outkey)
        if private_key is not None:
            ies.add_str(IE.RSA_RESULT, rsa_sign(private_key, challenge))
    if not len(ies) and creds.secret:
        if AuthMethod.MD5 in offered and challenge:
            ies.add_str(IE.MD5_RESULT, md5_response(challenge, creds.secret))
        elif AuthMethod.PLAINTEXT in offered:
            ies.add_str(IE.PASSWORD, creds.secret)
    if not len(ies):
        return AuthFailure(
            _no_answer_reason(offered, challenge, printable(username), creds, keystore))
    key = (
        aes_key(challenge, creds.secret)
        if agreement.encrypted and challenge and creds.secret
        else None
    )
    return ChallengeAnswer(ies, agreement, key)


def _no_answer_reason(
    offered: AuthMethod,
    challenge: str | None,
    shown_name: str,
    creds: Credentials,
    keystore: RsaKeys,
) -> str:
    if creds.outkey and AuthMethod.RSA in offered and keystore.private(creds.outkey) is None:
        return f"private key '{creds.outkey}' is not loaded (user '{shown_name}')"
    if offers_challenge(offered) and not challenge and AuthMethod.PLAINTEXT not in offered:
        return f"challenge for '{shown_name}' carries no CHALLENGE IE"
    if not creds.secret and not creds.outkey:
        return f"no secret or outkey to authenticate '{shown_name}'"
    return f"no way to answer methods {int(offered)} for '{shown_name}' with our credentials"


def choose_credentials(
    peers: Mapping[str, PeerAccount],
    peer_name: str | None,
    authreq_username: str | None,
    ip: str,
    *,
    peer_address: Callable[[PeerAccount], str | None],
    secret_resolver: SecretResolver | None = None,
) -> list[Credentials]:
    """Candidate credentials for an AUTHREQ on a call that has none of its own, in file
    order (``authenticate_reply`` 8640-8670): a peer qualifies when its name is the dialed
    peer (any, if none), its ``username=`` (if set) equals the AUTHREQ's USERNAME, and its
    address (*peer_address*: current, registered or configured IP; None if unknown)
    matches *ip* under the peer's mask. The first candidate that yields an answer wins.
    """
    candidates: Iterable[PeerAccount] = peers.values()
    if peer_name:  # by name: a dialled peer costs one lookup, however many peers there are
        named = peers.get(peer_name)
        candidates = [named] if named is not None else []
    out: list[Credentials] = []
    for peer in candidates:
        if peer.username and peer.username != (authreq_username or ""):
            continue
        address = peer_address(peer)
        if address is not None and not _same_masked(address, ip, peer.mask):
            continue
        secrets = resolve_secrets(peer.secrets, peer.dbsecret, secret_resolver)
        secret = secrets[0] if secrets else None
        if secret or peer.outkey:
            out.append(Credentials(secret, peer.outkey or None))
    return out


def _same_masked(a: str, b: str, mask: str | None) -> bool:
    try:
        first = ipaddress.ip_address(a)
        second = ipaddress.ip_address(b)
    except ValueError:
        return a == b
    if first.version != second.version:
        return False
    if not mask or first.version != 4:
        return first == second
    bits = int(ipaddress.IPv4Address(mask))
    return (int(first) & bits) == (int(second) & bits)
