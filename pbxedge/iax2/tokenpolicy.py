"""Whether a request without a CALLTOKEN IE must be refused (``calltoken_required``,
chan_iax2.c 2580-2631; iax2.md §3.3).

A token is required unless:

* the matched section has ``requirecalltoken=no`` or ``auto``; or
* the source IP is in a ``calltokenoptional`` range and the section left
  ``requirecalltoken`` at its default (an explicit ``yes`` overrides the range).

NEW looks up ``[user]`` sections; every other request (REGREQ, REGREL, ...) looks up
``[peer]`` sections. That asymmetry surprises people (a ``type=user`` with
``requirecalltoken=no`` does nothing for registrations), so :meth:`explain` names the kind of
section it consulted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from enum import StrEnum

from pbxedge.acl import IPNetwork
from pbxedge.iax2.enums import IaxSubclass
from pbxedge.iax2.showframe import format_addr
from pbxedge.log import printable

__all__ = ["CallTokenRule", "TokenPolicyDecider"]

Address = tuple[str, int]
_GUEST = "guest"  # the user looked up when a NEW has no USERNAME


class CallTokenRule(StrEnum):
    """A section's ``requirecalltoken=``."""

    DEFAULT = "default"  # required, unless the address is in a calltokenoptional range
    YES = "yes"
    NO = "no"
    AUTO = "auto"  # not required until a request from the account carried a valid token


class TokenPolicyDecider:
    """Call-token policy over the rules of one loaded config, plus the ``auto`` → ``yes``
    learning.

    *users* and *peers* map section names to their rule; *optional* are the
    ``calltokenoptional`` ranges. The learning lives here, not in the configuration, so a
    reload starts from the configured values again, as it does in Asterisk.
    """

    __slots__ = ("_learned", "_optional", "_peers", "_users")

    def __init__(
        self,
        *,
        users: Mapping[str, CallTokenRule],
        peers: Mapping[str, CallTokenRule],
        optional: Sequence[IPNetwork] = (),
    ) -> None:
        self._users = users
        self._peers = peers
        self._optional = optional
        self._learned: set[tuple[bool, str]] = set()

    def required(self, subclass: IaxSubclass, username: str | None, addr: Address) -> bool:
        setting = self._setting(subclass, username)
        if setting in (CallTokenRule.NO, CallTokenRule.AUTO):
            return False
        return not (setting is CallTokenRule.DEFAULT and self._optional_address(addr[0]))

    def mark_validated(self, subclass: IaxSubclass, username: str | None) -> None:
        """A request from *username* carried a valid token: ``auto`` now means ``yes``
        (``requirecalltoken_mark_auto`` 5003-5025; a request with no USERNAME teaches
        nothing, as there)."""
        if username and self._configured(subclass, username) is CallTokenRule.AUTO:
            self._learned.add((subclass == IaxSubclass.NEW, username))

    def explain(self, subclass: IaxSubclass, username: str | None, addr: Address) -> str:
        """Asterisk's log line for the refusal, naming the section kind actually consulted
        (Asterisk says "user" even for registrations, which sends admins to the wrong
        section)."""
        kind = "user" if subclass == IaxSubclass.NEW else "peer"
        return (
            "Call rejected, CallToken Support required. If unexpected, resolve by placing "
            f"address {format_addr(*addr)} in the calltokenoptional list or setting "
            f"{kind} {printable(username or _GUEST)} requirecalltoken=no"
        )

    def _setting(self, subclass: IaxSubclass, username: str | None) -> CallTokenRule:
        name = username or _GUEST
        if (subclass == IaxSubclass.NEW, name) in self._learned:
            return CallTokenRule.YES
        return self._configured(subclass, name)

    def _configured(self, subclass: IaxSubclass, name: str) -> CallTokenRule:
        rules = self._users if subclass == IaxSubclass.NEW else self._peers
        # An unknown name behaves like a section left at the default.
        return rules.get(name, CallTokenRule.DEFAULT)

    def _optional_address(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in network for network in self._optional)
