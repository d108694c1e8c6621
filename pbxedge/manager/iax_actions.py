"""chan_iax2's manager actions (reference ami.md §6), with their quirks kept because
clients parse them: IAXpeers items carry no ActionID and say ``Channeltype: IAX2`` and
``IPport``, IAXpeerlist items carry it and say ``IAX``, ``Mask`` and ``Port``; IAXnetstats
sends bare data lines, with no Response and no ActionID."""

from __future__ import annotations

from pbxedge.events import Category
from pbxedge.iax2.showframe import format_addr
from pbxedge.manager.permissions import bit
from pbxedge.manager.session import Action, Session
from pbxedge.manager.state import IaxView
from pbxedge.manager.wire import Message, encode, list_complete, response
from pbxedge.registry_views import PeerRow

__all__ = ["IAX_ACTIONS"]

_NULL = "(null)"
_NETSTATS = "%s %u %d %d %d %d %d %d %d %d %d %d %d %d %d %d %s%-7s %s%-7s\n"


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _view(session: Session, m: Message) -> IaxView | None:
    view = session.state.context.iax
    if view is None:
        session.send(response(m, "Error", "IAX2 is not running"))
    return view


def _peer_entry(row: PeerRow, m: Message, *, peerlist: bool) -> bytes:
    ip = row.addr[0] if row.addr else _NULL
    port = str(row.addr[1]) if row.addr else _NULL
    if peerlist:
        pairs = [("Event", "PeerEntry"), *m.id_lines,
                 ("Channeltype", "IAX"), ("ObjectName", row.name), ("ChanObjectType", "peer"),
                 ("IPaddress", ip), ("Mask", row.mask or _NULL), ("Port", port)]
    else:
        pairs = [("Event", "PeerEntry"), ("Channeltype", "IAX2"), ("ObjectName", row.name),
                 ("ChanObjectType", "peer"), ("IPaddress", ip), ("IPport", port)]
    pairs += [("Dynamic", _yes_no(row.dynamic)), ("Trunk", _yes_no(row.trunk)),
              ("Encryption", _yes_no(row.encryption)), ("Status", row.status.text)]
    if not peerlist:
        pairs.append(("Description", row.description))
    return encode(pairs)


async def _peers(session: Session, m: Message, *, peerlist: bool) -> bool:
    view = _view(session, m)
    if view is None:
        return True
    rows = view.peers()
    follows = "IAX Peer status list will follow" if peerlist else "Peer status list will follow"
    session.send(response(m, message=follows, list_start=True)
                 + b"".join(_peer_entry(row, m, peerlist=peerlist) for row in rows)
                 + list_complete(m, "PeerlistComplete", len(rows)))
    return True


async def _iax_peers(session: Session, m: Message) -> bool:
    return await _peers(session, m, peerlist=False)


async def _iax_peerlist(session: Session, m: Message) -> bool:
    return await _peers(session, m, peerlist=True)


async def _iax_registry(session: Session, m: Message) -> bool:
    view = _view(session, m)
    if view is None:
        return True
    rows = view.registrations()
    entries = [encode([
        ("Event", "RegistryEntry"), *m.id_lines,
        ("Host", format_addr(*row.addr) if row.addr else _NULL),
        ("DNSmanager", "Y" if row.dnsmgr else "N"), ("Username", row.username),
        ("Perceived", format_addr(*row.perceived) if row.perceived else "<Unregistered>"),
        ("Refresh", str(row.refresh)), ("State", row.state.value),
    ]) for row in rows]
    session.send(response(m, message="Registrations will follow", list_start=True)
                 + b"".join(entries) + list_complete(m, "RegistrationsComplete", len(rows)))
    return True


async def _iax_netstats(session: Session, m: Message) -> bool:
    view = _view(session, m)
    if view is None:
        return True
    # ast_cli_netstats without its column widths, frame names padded as Asterisk's table.
    lines = "".join(_NETSTATS % row for row in view.netstats())
    session.send(lines.encode() + b"\r\n")
    return True


_READ = bit(Category.SYSTEM) | bit(Category.REPORTING)

IAX_ACTIONS = (
    Action("IAXpeers", _iax_peers, "List IAX peers.", _READ),
    Action("IAXpeerlist", _iax_peerlist, "List IAX Peers.", _READ),
    Action("IAXregistry", _iax_registry, "Show IAX registrations.", _READ),
    Action("IAXnetstats", _iax_netstats, "Show IAX Netstats.", _READ),
)
