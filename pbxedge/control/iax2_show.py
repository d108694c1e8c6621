"""Text of ``iax2 show users|peers|peer``, column for column as chan_iax2 prints it.

Formats come from chan_iax2.c (reference iax2.md §9, §15.10) and were checked
against the real outputs in ``vectors/asterisk/asterisk-cli-outputs.txt``.
One deliberate difference: secrets are never printed (``<Set>`` instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pbxedge.config.iax_models import IaxConfig, Peer, User
from pbxedge.control.peer_status import (
    PeerHealth,
    PeerRuntime,
    PeerStatusProvider,
    health,
    status_text,
)
from pbxedge.iax2.codecs import codec_name, mask_names

__all__ = ["show_peer", "show_peers", "show_users"]

_NULL = "(null)"

_CODEC_PREF = {"host": "Host", "caller": "Caller", "disabled": "Disabled", "reqonly": "REQ Only"}
_CALLTOKEN = {"yes": "Yes", "auto": "Auto"}


def _c(text: str, width: int) -> str:
    """printf ``%-W.Ws``: pad to and truncate at *width*."""
    return f"{text[:width]:<{width}}"


def _matching(names: Iterable[str], pattern: re.Pattern[str] | None) -> list[str]:
    return [n for n in names if pattern is None or pattern.search(n)]


# ---------------------------------------------------------------- users ---

_USERS_FORMAT_WIDTHS = (15, 20, 15, 15, 5)


def _user_row(columns: tuple[str, str, str, str, str, str]) -> str:
    fixed = "  ".join(_c(text, w) for text, w in zip(columns, _USERS_FORMAT_WIDTHS, strict=False))
    # "%-5.10s": at least 5 wide, at most 10 long.
    return f"{fixed}  {columns[5][:10]:<5}\n"


def _user_secret(user: User) -> str:
    if user.secrets or user.dbsecret:
        return "<Set>"
    if user.inkeys:
        return "Key: " + ":".join(user.inkeys)
    return "-no secret-"


def show_users(config: IaxConfig, pattern: re.Pattern[str] | None = None) -> str:
    lines = [_user_row(("Username", "Secret", "Authen", "Def.Context", "A/C", "Codec Pref"))]
    for name in _matching(config.users, pattern):
        user = config.users[name]
        lines.append(_user_row((
            user.name,
            _user_secret(user),
            f"{int(user.auth):015d}",
            user.contexts[0] if user.contexts else config.general.context,
            "Yes" if user.acl.is_set else "No",
            _CODEC_PREF[user.codecpriority],
        )))
    return "".join(lines)


# ---------------------------------------------------------------- peers ---

def _peer_address(peer: Peer, runtime: PeerRuntime | None) -> tuple[str, int] | None:
    """Where the peer is now: its registration, else its static host."""
    if runtime is not None and runtime.address is not None:
        return runtime.address
    if peer.host is not None and not peer.dynamic:
        return peer.host, peer.port
    return None


def _peer_row(name: str, host: str, kind: str, mask: str, port: str,
              trunk: str, encrypted: str, status: str, description: str) -> str:
    # chan_iax2 FORMAT: "%-15.15s  %-40.40s %s  %-40.40s  %-6s%s %s  %-11s %-32.32s\n"
    return (
        f"{_c(name, 15)}  {_c(host, 40)} {kind}  {_c(mask, 40)}  {port:<6}{trunk} {encrypted}  "
        f"{status:<11} {_c(description, 32)}\n"
    )


_PEERS_HEADER = (
    # chan_iax2 FORMAT2: "%-15.15s  %-40.40s %s   %-40.40s  %-9s %s  %-11s %-32.32s\n"
    f"{_c('Name/Username', 15)}  {_c('Host', 40)} {'   '}   {_c('Mask', 40)}  {'Port':<9} "
    f"{'   '}  {'Status':<11} {_c('Description', 32)}\n"
)


def show_peers(
    config: IaxConfig,
    status: PeerStatusProvider,
    pattern: re.Pattern[str] | None = None,
    registered_only: bool = False,
) -> str:
    lines = [_PEERS_HEADER]
    counts = dict.fromkeys(PeerHealth, 0)
    for name in _matching(config.peers, pattern):
        peer = config.peers[name]
        runtime = status.runtime(name)
        address = _peer_address(peer, runtime)
        if registered_only and address is None:
            continue
        last_ms = runtime.last_ms if runtime is not None else 0
        counts[health(peer.qualify_ms, last_ms)] += 1
        lines.append(_peer_row(
            f"{peer.name}/{peer.username}" if peer.username else peer.name,
            address[0] if address else _NULL,
            "(D)" if peer.dynamic else "(S)",
            peer.mask or _NULL,
            str(address[1]) if address else _NULL,
            "(T)" if peer.trunk else "   ",
            "(E)" if peer.encryption else "   ",
            status_text(peer.qualify_ms, last_ms),
            peer.description or "",
        ))
    total = sum(counts.values())
    lines.append(
        f"{total} iax2 peers [{counts[PeerHealth.ONLINE]} online, "
        f"{counts[PeerHealth.OFFLINE]} offline, {counts[PeerHealth.UNMONITORED]} unmonitored]\n"
    )
    return "".join(lines)


def _callerid(name: str | None, number: str | None) -> str:
    """Asterisk's ``ast_callerid_merge`` with ``<unspecified>`` for nothing."""
    if name and number:
        return f'"{name}" <{number}>'
    return name or number or "<unspecified>"


def _codec_order(peer: Peer) -> str:
    return "(" + "|".join(codec_name(c) for c in peer.prefs) + ")" if peer.prefs else "(none)"


def show_peer(config: IaxConfig, status: PeerStatusProvider, name: str) -> str:
    peer = config.peers.get(name)
    if peer is None:
        return f"Peer {name} not found.\n"
    runtime = status.runtime(name)
    address = _peer_address(peer, runtime)
    last_ms = runtime.last_ms if runtime is not None else 0
    addr_ip, addr_port = (address[0], str(address[1])) if address else (_NULL, _NULL)
    def_ip, def_port = (peer.defaultip, str(peer.port)) if peer.defaultip else (_NULL, _NULL)
    # Asterisk always adds ",keyrotate" unless keyrotate=off, which pbxedge does not offer.
    encryption = "(aes128,keyrotate)" if peer.encryption else "No"
    fields = [
        ("  * Name       ", peer.name),
        ("  Description  ", peer.description or ""),
        ("  Secret       ", "<Set>" if peer.secret or peer.dbsecret else "<Not set>"),
        ("  Context      ", peer.context or ""),
        ("  Parking lot  ", peer.parkinglot or ""),
        ("  Mailbox      ", peer.mailbox or ""),
        ("  Dynamic      ", "Yes" if peer.dynamic else "No"),
        ("  Callnum limit", str(peer.maxcallnumbers or 0)),
        ("  Calltoken req", _CALLTOKEN.get(peer.requirecalltoken, "No")),
        ("  Trunk        ", "Yes" if peer.trunk else "No"),
        ("  Encryption   ", encryption),
        ("  Callerid     ", _callerid(peer.callerid_name, peer.callerid_number)),
        ("  Expire       ", str(runtime.expire if runtime is not None else -1)),
        ("  ACL          ", "Yes" if peer.acl.is_set else "No"),
        ("  Addr->IP     ", f"{addr_ip} Port {addr_port}"),
        ("  Defaddr->IP  ", f"{def_ip} Port {def_port}"),
        ("  Username     ", peer.username or ""),
        ("  Codecs       ", mask_names(peer.capability)),
        ("  Codec Order  ", _codec_order(peer)),
        ("  Status       ", status_text(peer.qualify_ms, last_ms)),
        ("  Qualify      ",
         f"every {peer.qualifyfreqok}ms when OK, every {peer.qualifyfreqnotok}ms when "
         f"UNREACHABLE (sample smoothing {'On' if peer.qualifysmoothing else 'Off'})"),
    ]
    return "\n\n" + "".join(f"{label}: {value}\n" for label, value in fields) + "\n"
