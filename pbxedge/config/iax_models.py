"""Typed ``iax.conf``: ``[general]``, users, peers, ``[callnumberlimits]``, registrations.

Field names are the option names in snake_case. Defaults are Asterisk's (chan_iax2.c, as
summarised in reference iax2.md). The builder in :mod:`pbxedge.config.iax_build` has already
checked every value and named its ``file:line`` when it did not fit, so these models only
carry the result.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
Transfer = Literal["yes", "no", "mediaonly"]
AmaFlags = Literal["default", "omit", "billing", "documentation"]
# "default" differs from "yes": only a default lets calltokenoptional= ranges skip the
# token (reference §3.3).
RequireCallToken = Literal["default", "yes", "no", "auto"]
ConnectedLine = Literal["yes", "no", "send", "receive"]

IAX_DEFAULT_PORT = 4569
QUALIFY_YES_MS = 2000
AUTOKILL_YES_MS = 2000


class _Model(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=False)


class BindAddr(_Model):
    host: str
    port: int = IAX_DEFAULT_PORT


class Registration(_Model):
    """One ``register =>`` line: we register to someone else (reference §6.1)."""

    username: str
    secret: str | None = None
    key: str | None = None  # RSA key name given as [keyname]
    host: str
    port: int = IAX_DEFAULT_PORT
    origin: Origin


class CallNumberLimit(_Model):
    """``ip/mask = N``: the per-address limit for every address inside *network*."""

    network: IPNetwork
    limit: int
    origin: Origin


class General(_Model):
    # Sockets. bindaddrs is never empty after loading: 0.0.0.0:bindport when unset.
    bindport: int = IAX_DEFAULT_PORT
    bindaddrs: list[BindAddr] = Field(default_factory=list)
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
    prefs: list[Codec] = Field(default_factory=list)
    codecpriority: CodecPriority = "host"
    # Transfer and trunking.
    transfer: Transfer = "yes"
    trunkfreq: int = 20
    trunkmtu: int = 1240
    trunkmaxsize: int = 128000
    trunktimestamps: bool = False
    # Call tokens and call-number limits.
    calltokenoptional: list[IPNetwork] = Field(default_factory=list)
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


class _Entry(_Model):
    """The options users and peers share (chan_iax2 reads each of them for both)."""

    name: str
    origin: Origin
    dbsecret: str | None = None
    inkeys: list[str] = Field(default_factory=list)
    auth: AuthMethods = AuthMethods.MD5
    acl: Acl = Field(default_factory=Acl)
    capability: Codec = BANDWIDTH_HIGH
    prefs: list[Codec] = Field(default_factory=list)
    trunk: bool = False
    encryption: bool = False
    forceencryption: bool = False
    requirecalltoken: RequireCallToken = "default"
    callerid_name: str | None = None
    callerid_number: str | None = None
    transfer: Transfer = "yes"
    jitterbuffer: bool = False
    sendani: bool = False
    mohinterpret: str | None = None
    mohsuggest: str | None = None
    parkinglot: str | None = None
    adsi: bool = False
    connectedline: ConnectedLine = "no"


class User(_Entry):
    """Who may call us (``type=user``, or the user half of a friend)."""

    secrets: list[str] = Field(default_factory=list)  # every one is accepted
    contexts: list[str] = Field(default_factory=list)  # first = default; "*" = any
    setvars: list[tuple[str, str]] = Field(default_factory=list)
    codecpriority: CodecPriority = "host"
    immediate: bool = False
    accountcode: str | None = None
    language: str | None = None
    amaflags: AmaFlags = "default"
    maxauthreq: int = 3


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


class IaxConfig(_Model):
    path: str
    general: General = Field(default_factory=General)
    users: dict[str, User] = Field(default_factory=dict)  # file order
    peers: dict[str, Peer] = Field(default_factory=dict)  # file order
    callnumberlimits: list[CallNumberLimit] = Field(default_factory=list)
    registrations: list[Registration] = Field(default_factory=list)
