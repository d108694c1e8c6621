"""``iaxfriends`` rows as the same :class:`User` and :class:`Peer` models iax.conf gives.

As in chan_iax2 (``realtime_peer``/``realtime_user``, realtime.md §4.2), every column is
handed to the ordinary option parser as if it were an iax.conf line, so any option may be
a column; NULL and empty columns are left out; a value is split at ``;`` into several
lines and each piece has its ``^XX`` escapes decoded (``allow = 'ulaw;alaw'`` is two
``allow`` lines). ``ipaddr``, ``port`` and ``regseconds`` of a ``host=dynamic`` row are
where it is registered, not options; ``regserver`` says which node holds it.

Asterisk asks up to three queries per lookup (name with ``host = 'dynamic'``, with
``host = <source ip>``, then the name alone); the table's ``name`` is UNIQUE, so one query
by name gives the same row and the same acceptance rules are applied to it here.
Asterisk's last user query, any row at the caller's ``ipaddr``/``port`` whatever its name,
is not made: a USERNAME names the account it wants.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import trio

from pbxedge.config.diagnostics import Diagnostic, Origin, Severity
from pbxedge.config.iax_build import build_section
from pbxedge.config.iax_models import General, Peer, User
from pbxedge.config.loader import Category, Variable
from pbxedge.realtime.database import Database, Row

__all__ = ["Location", "RowAccount", "decode_value", "host_matches", "load_friend", "location_of",
           "row_accounts", "unescape"]

# Columns that are registration state or identity, never options.
_STATE_COLUMNS = frozenset({"id", "name", "type", "ipaddr", "port", "regseconds", "regserver"})


def decode_value(text: str) -> list[str]:
    """Asterisk's reading of a realtime value: pieces split at ``;``, each ``^XX``-decoded."""
    return [unescape(piece) for piece in text.split(";")]


def unescape(piece: str) -> str:
    """Decode Asterisk's ``^XX`` escapes (``^3B`` is ``;``, ``^5E`` is ``^``)."""
    out: list[str] = []
    index = 0
    while index < len(piece):
        ch = piece[index]
        code = piece[index + 1:index + 3]
        if ch == "^" and len(code) == 2 and all(c in "0123456789abcdefABCDEF" for c in code):
            out.append(chr(int(code, 16)))
            index += 3
            continue
        out.append(ch)
        index += 1
    return "".join(out)


@dataclass(frozen=True)
class Location:
    """Where a dynamic realtime peer is registered, as its row says."""

    addr: tuple[str, int]
    regseconds: int  # unix time of the registration
    regserver: str | None  # the node that holds it, when the row names one


def location_of(row: Row) -> Location | None:
    ipaddr, port, regseconds = row.get("ipaddr"), row.get("port"), row.get("regseconds")
    if not ipaddr or not port or not regseconds:
        return None
    try:
        host = str(ipaddress.ip_address(str(ipaddr).strip()))
        number = int(port)
    except ValueError:
        return None
    if not 0 < number < 65536:
        return None
    server = row.get("regserver")
    return Location((host, number), int(regseconds), str(server) if server else None)


@dataclass(frozen=True)
class RowAccount:
    """The user and/or peer a row makes, and the problems its values had."""

    user: User | None
    peer: Peer | None
    row: Row
    problems: tuple[Diagnostic, ...]


def row_accounts(table: str, row: Row, general: General, *, want: str) -> RowAccount:
    """Build the *want* (``user`` or ``peer``) half of a row; None when its type excludes it."""
    name = str(row["name"])
    row_type = str(row.get("type") or want).lower()
    if row_type not in (want, "friend"):
        return RowAccount(None, None, row, ())
    origin = Origin(f"realtime {table}", int(row.get("id") or 0))
    variables = [Variable("type", want, origin)]
    dynamic = str(row.get("host") or "").strip().lower() == "dynamic"
    for column, value in row.items():
        if value is None or column in _STATE_COLUMNS:
            continue
        text = str(value)
        if not text:
            continue
        variables.extend(Variable(column, piece, origin) for piece in decode_value(text))
    if not dynamic and row.get("port"):
        variables.append(Variable("port", str(row["port"]), origin))
    section = Category(name, origin, variables)
    config, diagnostics = build_section(section, general)
    # Warnings (a column Asterisk also ignores) would repeat at every lookup; errors are
    # values that do not parse, which the admin must hear about.
    problems = tuple(d for d in diagnostics if d.severity is Severity.ERROR)
    return RowAccount(config.users.get(name), config.peers.get(name), row, problems)


async def load_friend(db: Database, table: str, name: str) -> Row | None:
    rows = await db.fetch(f'SELECT * FROM "{table}" WHERE name = %s LIMIT 1', (name,))
    return rows[0] if rows else None


async def host_matches(row: Row, ip: str | None) -> bool:
    """Whether a row may serve a request from *ip* (the rules of §4.2, one row)."""
    host = str(row.get("host") or "").strip()
    if ip is None or host.lower() == "dynamic" or host == ip:
        return True
    if not host:
        return False
    try:
        found = await trio.socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError:
        return False
    return any(str(entry[4][0]) == ip for entry in found)
