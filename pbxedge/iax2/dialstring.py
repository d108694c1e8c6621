"""Outbound dial strings: ``IAX2/[user[:secret][:[key]]@]peer[:port][/exten[@context]][/options]``.

Parsing follows ``parse_dial_string`` (chan_iax2.c 5145-5203); filling in the peer's defaults
follows ``create_addr`` (4719-4833) and ``iax2_request`` (12703-12818). See iax2.md §8.1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pbxedge.iax2.accounts import DEFAULT_PORT, PeerAccount
from pbxedge.iax2.auth import SecretResolver, offered_encryption, resolve_secrets
from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.enums import Cause

__all__ = [
    "DEFAULT_PORT",
    "Address",
    "DialDefaults",
    "DialString",
    "DialStringError",
    "DialTarget",
    "DialUnavailable",
    "PeerRuntime",
    "parse_dial_string",
    "resolve_dial_target",
]

Address = tuple[str, int]

_TECH_PREFIX = "iax2/"


class DialStringError(ValueError):
    """A dial string with no peer or host."""


@dataclass(frozen=True)
class DialString:
    """The parts of a dial string exactly as written; None where a part was left out."""

    peer: str
    port: int | None = None
    username: str | None = None
    secret: str | None = None
    outkey: str | None = None
    exten: str | None = None
    context: str | None = None
    options: str = ""

    @property
    def autoanswer(self) -> bool:
        """Option ``a``, the only one Asterisk knows: send the AUTOANSWER IE."""
        return "a" in self.options


def parse_dial_string(text: str) -> DialString:
    """Parse a dial string, with or without its ``IAX2/`` technology prefix.

    Credentials may be ``user:secret``, ``user:[key]``, ``user:secret:[key]`` or
    ``user:[key]:secret`` (Asterisk accepts both orders since 2021, df9aeea4c8). The user
    part ends at the *last* ``@`` before the host, so a secret may itself contain ``@``.
    """
    if text[: len(_TECH_PREFIX)].lower() == _TECH_PREFIX:
        text = text[len(_TECH_PREFIX) :]
    address, _, rest = text.partition("/")
    destination, _, options = rest.partition("/")
    exten, _, context = destination.partition("@")
    credentials, _, hostport = address.rpartition("@")
    host, port = _split_host_port(hostport)
    if not host:
        raise DialStringError(f"dial string {text!r} names no peer or host")
    username, secret, outkey = _split_credentials(credentials)
    return DialString(
        peer=host,
        port=port,
        username=username,
        secret=secret,
        outkey=outkey,
        exten=exten or None,
        context=context or None,
        options=options,
    )


def _split_host_port(hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):  # [2001:db8::1]:4569
        host, _, after = hostport[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else ""
    elif hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
    else:  # a bare IPv6 address, or no port
        host, port_text = hostport, ""
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DialStringError(f"bad port {port_text!r} in {hostport!r}")
    return host, int(port_text)


def _split_credentials(credentials: str) -> tuple[str | None, str | None, str | None]:
    if not credentials:
        return None, None, None
    username, *parts = credentials.split(":", 2)
    secret: str | None = None
    outkey: str | None = None
    for part in parts:
        if part.startswith("[") and part.endswith("]") and outkey is None:
            outkey = part[1:-1]
        elif secret is None:
            secret = part
        else:  # a third part that is no key belongs to a secret containing ':'
            secret = f"{secret}:{part}"
    return username or None, secret or None, outkey or None


@dataclass(frozen=True)
class PeerRuntime:
    """What the node knows about a peer right now.

    *address*: where a dynamic peer registered from, or a static peer's resolved address
    (None if unknown). *lastms*: the last qualify round trip (-1 no answer, 0 unknown).
    """

    address: Address | None = None
    lastms: int = 0


@dataclass(frozen=True)
class DialDefaults:
    """``[general]`` settings for a dial string that names a host rather than a peer."""

    encryption: bool
    force_encryption: bool
    capability: Codec
    prefs: tuple[Codec, ...]


@dataclass(frozen=True)
class DialTarget:
    """Everything needed to place the call: destination, credentials, media and flags."""

    host: str
    port: int
    exten: str
    context: str | None
    username: str | None
    secret: str | None = field(repr=False)
    outkey: str | None
    peer_name: str | None
    encryption: int
    force_encryption: bool
    trunk: bool
    sendani: bool
    capability: int
    prefs: tuple[Codec, ...]
    autoanswer: bool
    qualify_maxms: int = 0
    lastms: int = 0

    @property
    def lagged(self) -> bool:
        """Qualified and slower than ``qualify=``: Asterisk refuses to dial (cause 20),
        pbxedge dials anyway and lets the caller warn (iax2.md §10 row 4)."""
        return self.qualify_maxms > 0 and self.lastms > self.qualify_maxms


@dataclass(frozen=True)
class DialUnavailable:
    """The call cannot be placed; *cause* is the channel's hangup cause (local only)."""

    reason: str
    cause: Cause = Cause.SUBSCRIBER_ABSENT


def resolve_dial_target(
    parsed: DialString,
    peers: Mapping[str, PeerAccount],
    defaults: DialDefaults,
    *,
    runtime: Callable[[str], PeerRuntime],
    secret_resolver: SecretResolver | None = None,
) -> DialTarget | DialUnavailable:
    """Fill in a parsed dial string from the peer it names (``create_addr``), or treat the
    name as a host name/IP with ``[general]`` codecs and encryption, port 4569 by default.

    What the dial string gives wins over the peer's ``username``/``secret``/``outkey``/
    ``peercontext``. The exten defaults to ``s``.
    """
    peer = peers.get(parsed.peer)
    if peer is None:
        return DialTarget(
            host=parsed.peer,
            port=parsed.port or DEFAULT_PORT,
            exten=parsed.exten or "s",
            context=parsed.context,
            username=parsed.username,
            secret=parsed.secret,
            outkey=parsed.outkey,
            peer_name=None,
            encryption=offered_encryption(defaults.encryption or defaults.force_encryption),
            force_encryption=defaults.force_encryption,
            trunk=False,
            sendani=False,
            capability=defaults.capability,
            prefs=defaults.prefs,
            autoanswer=parsed.autoanswer,
        )

    state = runtime(peer.name)
    if peer.qualify_ms and state.lastms < 0:
        return DialUnavailable(f"peer '{peer.name}' is UNREACHABLE")
    address = _peer_address(peer, state)
    if address is None:
        return DialUnavailable(f"peer '{peer.name}' is not registered and has no defaultip")
    host, port = address
    secret = parsed.secret
    if secret is None:
        secrets = resolve_secrets(peer.secrets, peer.dbsecret, secret_resolver)
        secret = secrets[0] if secrets else None
    return DialTarget(
        host=host,
        port=parsed.port or port,
        exten=parsed.exten or "s",
        context=parsed.context or peer.peercontext,
        username=parsed.username or peer.username,
        secret=secret,
        outkey=parsed.outkey or peer.outkey,
        peer_name=peer.name,
        encryption=offered_encryption(peer.encryption or peer.force_encryption),
        force_encryption=peer.force_encryption,
        trunk=peer.trunk,
        sendani=peer.sendani,
        capability=peer.capability,
        prefs=peer.prefs,
        autoanswer=parsed.autoanswer,
        qualify_maxms=peer.qualify_ms,
        lastms=state.lastms,
    )


def _peer_address(peer: PeerAccount, state: PeerRuntime) -> Address | None:
    if state.address is not None:
        return state.address
    if peer.host and not peer.dynamic:
        return peer.host, peer.port
    if peer.defaultip:
        return peer.defaultip, peer.port
    return None
