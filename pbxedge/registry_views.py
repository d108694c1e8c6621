"""Console text for peers and registrations, in Asterisk's exact layouts (iax2.md §9, §15.10).

Pure functions over small row dataclasses; the control layer gathers the rows from the config,
the registrar, the qualifiers and the registration clients. Operators' scripts parse these
layouts, so every width below is Asterisk's printf format.

Deliberate differences from Asterisk, in ``iax2 show peers``: a realtime peer's line ends with
``(R) registered at <systemname>``, the node holding its registration (several nodes share one
table). In ``iax2 show peer``:
- ``Expire`` is the number of seconds the registration has left (-1 when not registered);
  Asterisk prints its internal scheduler id there, which means nothing to anyone.
- ``Secret`` only ever says ``<Set>`` / ``<Not set>`` (as Asterisk does here; unlike its
  ``iax2 show users``, no command of pbxedge prints a secret).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pbxedge.iax2.codecs import Codec, codec_name, mask_names
from pbxedge.iax2.enums import EncryptionMethod
from pbxedge.iax2.qualify import PeerStatus, Reachability
from pbxedge.iax2.regclient import RegistryRow
from pbxedge.iax2.showframe import format_addr

__all__ = [
    "PeerDetail",
    "PeerRow",
    "peer_not_found",
    "show_peer",
    "show_peers",
    "show_registry",
]

Address = tuple[str, int]

_PEERS_HEADER = "%-15.15s  %-40.40s %s   %-40.40s  %-9s %s  %-11s %-32.32s\n"
_PEERS_ROW = "%-15.15s  %-40.40s %s  %-40.40s  %-6s%s %s  %-11s %-32.32s\n"
_REGISTRY_FORMAT = "%-45.45s  %-6.6s  %-10.10s  %-45.45s %8.8s  %s\n"
_REGISTRY_ROW = "%-45.45s  %-6.6s  %-10.10s  %-45.45s %8d  %s\n"
_NULL = "(null)"  # how Asterisk's sockaddr helpers print an unset address


@dataclass(frozen=True)
class PeerRow:
    """One line of ``iax2 show peers``."""

    name: str
    addr: Address | None  # the current address (registered or resolved); None = unknown
    dynamic: bool
    status: PeerStatus
    username: str = ""
    mask: str | None = None
    trunk: bool = False
    encryption: bool = False
    description: str = ""
    regserver: str | None = None  # realtime peers: the node they are registered to


@dataclass(frozen=True)
class PeerDetail:
    """Everything ``iax2 show peer <name>`` prints."""

    name: str
    status: str
    description: str = ""
    secret_set: bool = False
    context: str = ""
    parking_lot: str = ""
    mailbox: str = ""
    dynamic: bool = False
    callnum_limit: int = 0
    calltoken_required: str = "Yes"  # Yes / Auto / No
    trunk: bool = False
    encryption: EncryptionMethod | int = 0
    callerid_name: str = ""
    callerid_number: str = ""
    expire_seconds: int | None = None  # None = not registered
    acl: bool = False
    addr: Address | None = None
    defaddr: Address | None = None
    username: str = ""
    codecs: int = 0  # capability bit mask
    codec_order: Sequence[Codec] = field(default_factory=tuple)
    qualify_freq_ok_ms: int = 60_000
    qualify_freq_notok_ms: int = 10_000
    qualify_smoothing: bool = False


def show_peers(
    rows: Iterable[PeerRow],
    *,
    registered_only: bool = False,
    like: str | re.Pattern[str] | None = None,
) -> str:
    """``iax2 show peers [registered] [like <regex>]``; an invalid regex raises re.error.

    *like* may be already compiled (the console's ``like`` argument parser returns a pattern).
    """
    pattern = re.compile(like) if like is not None else None
    out = [
        _PEERS_HEADER
        % ("Name/Username", "Host", "   ", "Mask", "Port", "   ", "Status", "Description")
    ]
    counts = dict.fromkeys(Reachability, 0)
    for row in rows:
        if registered_only and row.addr is None:
            continue
        if pattern is not None and not pattern.search(row.name):
            continue
        counts[row.status.reachability] += 1
        line = (
            _PEERS_ROW
            % (
                f"{row.name}/{row.username}" if row.username else row.name,
                row.addr[0] if row.addr else _NULL,
                "(D)" if row.dynamic else "(S)",
                row.mask or _NULL,
                str(row.addr[1]) if row.addr else _NULL,
                "(T)" if row.trunk else "   ",
                "(E)" if row.encryption else "   ",
                row.status.text,
                row.description,
            )
        )
        if row.regserver is not None:  # a realtime peer: the node it is registered to
            line = f"{line[:-1]} (R) registered at {row.regserver}\n"
        out.append(line)
    online = counts[Reachability.ONLINE]
    offline = counts[Reachability.OFFLINE]
    unmonitored = counts[Reachability.UNMONITORED]
    total = online + offline + unmonitored
    out.append(
        f"{total} iax2 peers [{online} online, {offline} offline, {unmonitored} unmonitored]\n"
    )
    return "".join(out)


def show_registry(rows: Iterable[RegistryRow]) -> str:
    """``iax2 show registry``: outbound registrations only (inbound ones are peers)."""
    out = [_REGISTRY_FORMAT % ("Host", "dnsmgr", "Username", "Perceived", "Refresh", "State")]
    count = 0
    for row in rows:
        count += 1
        out.append(
            _REGISTRY_ROW
            % (
                format_addr(*row.addr) if row.addr else _NULL,
                "Y" if row.dnsmgr else "N",
                row.username,
                format_addr(*row.perceived) if row.perceived else "<Unregistered>",
                row.refresh,
                row.state.value,
            )
        )
    out.append(f"{count} IAX2 registrations.\n")
    return "".join(out)


def show_peer(detail: PeerDetail) -> str:
    """``iax2 show peer <name>``: the ``  * Name`` block with its blank lines around it."""
    d = detail
    lines = [
        "\n\n",
        f"  * Name       : {d.name}\n",
        f"  Description  : {d.description}\n",
        f"  Secret       : {'<Set>' if d.secret_set else '<Not set>'}\n",
        f"  Context      : {d.context}\n",
        f"  Parking lot  : {d.parking_lot}\n",
        f"  Mailbox      : {d.mailbox}\n",
        f"  Dynamic      : {_yes_no(d.dynamic)}\n",
        f"  Callnum limit: {d.callnum_limit}\n",
        f"  Calltoken req: {d.calltoken_required}\n",
        f"  Trunk        : {_yes_no(d.trunk)}\n",
        f"  Encryption   : {_encryption(d.encryption)}\n",
        f"  Callerid     : {_callerid(d.callerid_name, d.callerid_number)}\n",
        f"  Expire       : {-1 if d.expire_seconds is None else d.expire_seconds}\n",
        f"  ACL          : {_yes_no(d.acl)}\n",
        f"  Addr->IP     : {_ip_port(d.addr)}\n",
        f"  Defaddr->IP  : {_ip_port(d.defaddr)}\n",
        f"  Username     : {d.username}\n",
        f"  Codecs       : {mask_names(d.codecs)}\n",
        f"  Codec Order  : ({'|'.join(codec_name(c) for c in d.codec_order)})\n",
        f"  Status       : {d.status}\n",
        f"  Qualify      : every {d.qualify_freq_ok_ms}ms when OK, every "
        f"{d.qualify_freq_notok_ms}ms when UNREACHABLE (sample smoothing "
        f"{'On' if d.qualify_smoothing else 'Off'})\n",
        "\n",
    ]
    return "".join(lines)


def peer_not_found(name: str) -> str:
    """``iax2 show peer`` for a name that is not configured."""
    return f"Peer {name} not found.\n\n"


def _yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def _encryption(methods: EncryptionMethod | int) -> str:
    """``(aes128)`` / ``(aes128,keyrotate)``, or ``No`` (encmethods_to_str)."""
    names = []
    if methods & EncryptionMethod.AES128:
        names.append("aes128")
    if methods & EncryptionMethod.KEYROTATE:
        names.append("keyrotate")
    return f"({','.join(names)})" if names else "No"


def _callerid(name: str, number: str) -> str:
    """``ast_callerid_merge`` as ``iax2 show peer`` calls it: always ``"Name" <number>``.

    Asterisk's peer fields are never NULL, so a peer without callerid shows ``"" <>``.
    """
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{number}>'


def _ip_port(addr: Address | None) -> str:
    return f"{addr[0]} Port {addr[1]}" if addr else f"{_NULL} Port {_NULL}"
