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

from pbxedge.config.iax_models import IaxConfig, RequireCallToken
from pbxedge.iax2.enums import IaxSubclass
from pbxedge.iax2.showframe import format_addr
from pbxedge.log import printable

__all__ = ["TokenPolicyDecider"]

Address = tuple[str, int]
_GUEST = "guest"  # the user looked up when a NEW has no USERNAME


class TokenPolicyDecider:
    """Call-token policy over one loaded config, plus the ``auto`` → ``yes`` learning.

    The learning lives here, not in the config models, so a reload starts from the
    configured values again, as it does in Asterisk.
    """

    __slots__ = ("_config", "_learned")

    def __init__(self, config: IaxConfig) -> None:
        self._config = config
        self._learned: set[tuple[bool, str]] = set()

    def required(self, subclass: IaxSubclass, username: str | None, addr: Address) -> bool:
        setting = self._setting(subclass, username)
        if setting in ("no", "auto"):
            return False
        return not (setting == "default" and self._optional_address(addr[0]))

    def mark_validated(self, subclass: IaxSubclass, username: str | None) -> None:
        """A request from *username* carried a valid token: ``auto`` now means ``yes``
        (``requirecalltoken_mark_auto`` 5003-5025; a request with no USERNAME teaches
        nothing, as there)."""
        if username and self._configured(subclass, username) == "auto":
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

    def _setting(self, subclass: IaxSubclass, username: str | None) -> RequireCallToken:
        name = username or _GUEST
        if (subclass == IaxSubclass.NEW, name) in self._learned:
            return "yes"
        return self._configured(subclass, name)

    def _configured(self, subclass: IaxSubclass, name: str) -> RequireCallToken:
        section = (
            self._config.users.get(name)
            if subclass == IaxSubclass.NEW
            else self._config.peers.get(name)
        )
        # An unknown name behaves like a section left at the default.
        return section.requirecalltoken if section is not None else "default"

    def _optional_address(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in network for network in self._config.general.calltokenoptional)
