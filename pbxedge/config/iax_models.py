"""Typed ``iax.conf``: ``[general]``, users, peers, ``[callnumberlimits]``, registrations.

Field names are the option names in snake_case. Defaults are Asterisk's (chan_iax2.c, as
summarised in reference iax2.md). The builder in :mod:`pbxedge.config.iax_build` has already
checked every value and named its ``file:line`` when it did not fit, so these models only
carry the result: plain slotted dataclasses, because a big deployment holds hundreds of
thousands of users and peers, and a slot costs 8 bytes where a validated model with an
instance dict cost kilobytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pbxedge.acl import Acl, IPNetwork
from pbxedge.config.diagnostics import Origin
from pbxedge.iax2.codecs import BANDWIDTH_HIGH, Codec
from pbxedge.iax2.enums import AuthMethod

__all__ = [
    "AmaFlags",
    "AuthMethods",
    "BindAddr",
    "CallNumberLimit",
    "CodecPriority",
    "General",
    "IaxConfig",
    "Peer",
    "Registration",
    "RequireCallToken",
    "Transfer",
    "User",
]

# The AUTHMETHODS IE bits (PLAINTEXT=1, MD5=2, RSA=4), shared with the wire layer.
AuthMethods = AuthMethod

CodecPriority = Literal["host", "caller", "disabled", "reqonly"]
# "default" (transfer= not written) answers a peer's TXREQ like "yes" but never starts a
# native transfer: only an explicit yes/mediaonly on both legs lets pbxedge re-path them.
Transfer = Literal["default", "yes", "no", "mediaonly"]
AmaFlags = Literal["default", "omit", "billing", "documentation"]
# "default" differs from "yes": only a default lets calltokenoptional= ranges skip the
# token (reference §3.3).
RequireCallToken = Literal["default", "yes", "no", "auto"]
ConnectedLine = Literal["yes", "no", "send", "receive"]
# How a call reaches a realtime peer registered to another node (a pbxedge option).
RtReach = Literal["auto", "direct", "regserver"]

IAX_DEFAULT_PORT = 4569
QUALIFY_YES_MS = 2000
AUTOKILL_YES_MS = 2000
RTAUTOCLEAR_YES_S = 120


# Acl is immutable, so every entry without permit=/deny= can share one.
_NO_ACL = Acl()


@dataclass(slots=True, kw_only=True)
class BindAddr:
    host: str
    port: int = IAX_DEFAULT_PORT


@dataclass(slots=True, kw_only=True)
class Registration:
    """One ``register =>`` line: we register to someone else (reference §6.1)."""

    username: str
    secret: str | None = None
    key: str | None = None  # RSA key name given as [keyname]
    host: str
    port: int = IAX_DEFAULT_PORT
    origin: Origin


@dataclass(slots=True, kw_only=True)
class CallNumberLimit:
    """``ip/mask = N``: the per-address limit for every address inside *network*."""

    network: IPNetwork
    limit: int
    origin: Origin


@dataclass(slots=True, kw_only=True)
class General:
    # Sockets. bindaddrs is never empty after loading: 0.0.0.0:bindport when unset.
    bindport: int = IAX_DEFAULT_PORT
    bindaddrs: list[BindAddr] = field(default_factory=list)
    tos: int = 0
    # Timers.
    pingtime: int = 21
    lagrqtime: int = 10
    autokill_ms: int = 0
    # Jitter buffer (milliseconds).
    jitterbuffer: bool = False
    maxjitterbuffer: int = 1000
    resyncthreshold: int = 1000
    maxjitterinterps: int = 10
    jittertargetextra: int = 40
    # Registration.
    minregexpire: int = 60
    maxregexpire: int = 60
    regcontext: str | None = None
    # Authentication and encryption. auth=None means "per-entry defaults" (§4.1).
    auth: AuthMethods | None = None
    authdebug: bool = False
    encryption: bool = False
    forceencryption: bool = False
    delayreject: bool = False
    maxauthreq: int = 3
    # Codecs.
    capability: Codec = BANDWIDTH_HIGH
    prefs: list[Codec] = field(default_factory=list)
    codecpriority: CodecPriority = "host"
    # Transfer and trunking.
    transfer: Transfer = "default"
    trunkfreq: int = 20
    trunkmtu: int = 1240
    trunkmaxsize: int = 128000
    trunktimestamps: bool = False
    # Call tokens and call-number limits.
    calltokenoptional: list[IPNetwork] = field(default_factory=list)
    calltokenexpiration: int = 10
    maxcallnumbers: int = 2048
    maxcallnumbers_nonvalidated: int = 8192
    # Channel defaults.
    context: str = "default"
    language: str | None = None
    accountcode: str | None = None
    amaflags: AmaFlags = "default"
    mohinterpret: str | None = None
    mohsuggest: str | None = None
    parkinglot: str | None = None
    adsi: bool = False
    srvlookup: bool = False
    connectedline: ConnectedLine = "no"
    shrinkcallerid: bool = True
    iaxcompat: bool = False
    subscribe_network_change_event: bool = True
    # pbxedge's own: where Prometheus scrapes the node's metrics (None: no endpoint).
    metrics: BindAddr | None = None
    # Realtime accounts in PostgreSQL (extconfig.conf), and this node's name among several
    # sharing them (Asterisk keeps systemname in asterisk.conf).
    systemname: str | None = None
    rtcachefriends: bool = False
    rtupdate: bool = True
    rtsavesysname: bool = False
    rtautoclear: int = 0  # seconds a cached realtime account is kept; 0 = until pruned
    rtignoreregexpire: bool = False
    rtreach: RtReach = "auto"


@dataclass(slots=True, kw_only=True)
class _Entry:
    """The options users and peers share (chan_iax2 reads each of them for both).

    Collections are tuples: entries made from one template share equal ones.
    """

    name: str
    origin: Origin
    dbsecret: str | None = None
    inkeys: tuple[str, ...] = ()
    auth: AuthMethods = AuthMethods.MD5
    acl: Acl = _NO_ACL
    capability: Codec = BANDWIDTH_HIGH
    prefs: tuple[Codec, ...] = ()
    trunk: bool = False
    encryption: bool = False
    forceencryption: bool = False
    requirecalltoken: RequireCallToken = "default"
    callerid_name: str | None = None
    callerid_number: str | None = None
    transfer: Transfer = "default"
    jitterbuffer: bool = False
    sendani: bool = False
    mohinterpret: str | None = None
    mohsuggest: str | None = None
    parkinglot: str | None = None
    adsi: bool = False
    connectedline: ConnectedLine = "no"


@dataclass(slots=True, kw_only=True)
class User(_Entry):
    """Who may call us (``type=user``, or the user half of a friend)."""

    secrets: tuple[str, ...] = ()  # every one is accepted
    contexts: tuple[str, ...] = ()  # first = default; "*" = any
    setvars: tuple[tuple[str, str], ...] = ()
    codecpriority: CodecPriority = "host"
    immediate: bool = False
    accountcode: str | None = None
    language: str | None = None
    amaflags: AmaFlags = "default"
    maxauthreq: int = 3


@dataclass(slots=True, kw_only=True)
class Peer(_Entry):
    """Whom we call or who registers to us (``type=peer``, or the peer half of a friend)."""

    secret: str | None = None  # the last secret= line
    outkey: str | None = None
    username: str | None = None
    host: str | None = None  # None when dynamic
    dynamic: bool = False
    port: int = IAX_DEFAULT_PORT
    defaultip: str | None = None
    sourceaddress: str | None = None
    mask: str | None = None
    peercontext: str | None = None
    context: str | None = None
    regexten: str | None = None
    mailbox: str | None = None
    description: str | None = None
    qualify_ms: int = 0
    qualifysmoothing: bool = False
    qualifyfreqok: int = 60000
    qualifyfreqnotok: int = 10000
    timezone: str | None = None
    maxcallnumbers: int | None = None


@dataclass(slots=True, kw_only=True)
class IaxConfig:
    path: str
    general: General = field(default_factory=General)
    users: dict[str, User] = field(default_factory=dict)  # file order
    peers: dict[str, Peer] = field(default_factory=dict)  # file order
    callnumberlimits: list[CallNumberLimit] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
