"""The accounts the protocol core decides about, as plain immutable parameters.

A ``[user]`` is who may call us; a ``[peer]`` is whom we call or who registers to us. The
core reads only these types, never the configuration: the service layer builds them from
``iax.conf`` one account at a time, when a request needs one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pbxedge.acl import Acl
from pbxedge.iax2.codecs import BANDWIDTH_HIGH, Codec
from pbxedge.iax2.enums import AuthMethod

__all__ = ["DEFAULT_PORT", "Account", "PeerAccount", "UserAccount"]

DEFAULT_PORT = 4569


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """What authenticating either kind of account needs."""

    name: str
    auth: AuthMethod = AuthMethod.MD5  # the methods a challenge offers
    secrets: tuple[str, ...] = field(default=(), repr=False)  # a peer has at most one
    dbsecret: str | None = None  # ``family/key`` in the key/value store, before secrets
    inkeys: tuple[str, ...] = ()  # names of public keys an RSA answer may match
    acl: Acl = field(default_factory=Acl)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserAccount(Account):
    contexts: tuple[str, ...] = ()  # the contexts a NEW may name; "*" = any


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerAccount(Account):
    # Registering to us, and where to reach the peer.
    dynamic: bool = False
    host: str | None = None  # None when dynamic
    port: int = DEFAULT_PORT
    defaultip: str | None = None
    mask: str | None = None  # compared with an AUTHREQ's source when choosing credentials
    # Calling the peer.
    username: str | None = None
    outkey: str | None = None
    peercontext: str | None = None
    encryption: bool = False
    force_encryption: bool = False
    trunk: bool = False
    sendani: bool = False
    capability: Codec = BANDWIDTH_HIGH
    prefs: tuple[Codec, ...] = ()
    qualify_ms: int = 0  # 0: not qualified
