"""``iax.conf`` mapped onto the protocol core's parameter types.

The core (:mod:`pbxedge.iax2`) never reads the configuration. The views here build its
account types one section at a time, when a request looks one up, so a config with a
million accounts is not held twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from pbxedge.config.iax_models import General, IaxConfig, Peer, User
from pbxedge.iax2.accounts import PeerAccount, UserAccount
from pbxedge.iax2.dialstring import DialDefaults
from pbxedge.iax2.tokenpolicy import CallTokenRule, TokenPolicyDecider

__all__ = [
    "dial_defaults",
    "peer_account",
    "peer_accounts",
    "token_policy",
    "user_account",
    "user_accounts",
]

_Section = TypeVar("_Section")
_Param = TypeVar("_Param")


class _MappedView(Mapping[str, _Param], Generic[_Section, _Param]):
    """A read-only view of a section table that maps each section when it is read."""

    __slots__ = ("_convert", "_sections")

    def __init__(self, sections: Mapping[str, _Section],
                 convert: Callable[[_Section], _Param]) -> None:
        self._sections = sections
        self._convert = convert

    def __getitem__(self, name: str) -> _Param:
        return self._convert(self._sections[name])

    def __contains__(self, name: object) -> bool:
        return name in self._sections

    def __iter__(self) -> Iterator[str]:
        return iter(self._sections)

    def __len__(self) -> int:
        return len(self._sections)


def user_account(user: User) -> UserAccount:
    return UserAccount(
        name=user.name,
        auth=user.auth,
        secrets=tuple(user.secrets),
        dbsecret=user.dbsecret,
        inkeys=tuple(user.inkeys),
        acl=user.acl,
        contexts=tuple(user.contexts),
    )


def peer_account(peer: Peer) -> PeerAccount:
    return PeerAccount(
        name=peer.name,
        auth=peer.auth,
        secrets=(peer.secret,) if peer.secret else (),
        dbsecret=peer.dbsecret,
        inkeys=tuple(peer.inkeys),
        acl=peer.acl,
        dynamic=peer.dynamic,
        host=peer.host,
        port=peer.port,
        defaultip=peer.defaultip,
        mask=peer.mask,
        username=peer.username,
        outkey=peer.outkey,
        peercontext=peer.peercontext,
        encryption=peer.encryption,
        force_encryption=peer.forceencryption,
        trunk=peer.trunk,
        sendani=peer.sendani,
        capability=peer.capability,
        prefs=tuple(peer.prefs),
        qualify_ms=peer.qualify_ms,
    )


def user_accounts(config: IaxConfig) -> Mapping[str, UserAccount]:
    return _MappedView(config.users, user_account)


def peer_accounts(config: IaxConfig) -> Mapping[str, PeerAccount]:
    return _MappedView(config.peers, peer_account)


def dial_defaults(general: General) -> DialDefaults:
    return DialDefaults(
        encryption=general.encryption,
        force_encryption=general.forceencryption,
        capability=general.capability,
        prefs=tuple(general.prefs),
    )


def _rule(section: User | Peer) -> CallTokenRule:
    return CallTokenRule(section.requirecalltoken)


def token_policy(config: IaxConfig) -> TokenPolicyDecider:
    return TokenPolicyDecider(
        users=_MappedView(config.users, _rule),
        peers=_MappedView(config.peers, _rule),
        optional=config.general.calltokenoptional,
    )
