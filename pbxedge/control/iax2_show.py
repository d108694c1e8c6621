"""Text of ``iax2 show users``, column for column as chan_iax2 prints it.

Formats come from chan_iax2.c (reference iax2.md §9, §15.10) and were checked
against the real outputs in ``tests/data/asterisk/asterisk-cli-outputs.txt``.
One deliberate difference: secrets are never printed (``<Set>`` instead).
"""

from __future__ import annotations

import re

from pbxedge.config.iax_models import IaxConfig, User

__all__ = ["show_users"]

_CODEC_PREF = {"host": "Host", "caller": "Caller", "disabled": "Disabled", "reqonly": "REQ Only"}

# chan_iax2's FORMAT for ``iax2 show users``, header and rows alike (Authen is pre-padded).
_USERS_FORMAT = "%-15.15s  %-20.20s  %-15.15s  %-15.15s  %-5.5s  %-5.10s\n"


def _user_secret(user: User) -> str:
    if user.secrets or user.dbsecret:
        return "<Set>"
    if user.inkeys:
        return "Key: " + ":".join(user.inkeys)
    return "-no secret-"


def show_users(config: IaxConfig, pattern: re.Pattern[str] | None = None) -> str:
    lines = [_USERS_FORMAT % ("Username", "Secret", "Authen", "Def.Context", "A/C", "Codec Pref")]
    for name, user in config.users.items():
        if pattern is not None and not pattern.search(name):
            continue
        lines.append(_USERS_FORMAT % (
            user.name,
            _user_secret(user),
            f"{int(user.auth):015d}",
            user.contexts[0] if user.contexts else config.general.context,
            "Yes" if user.acl.is_set else "No",
            _CODEC_PREF[user.codecpriority],
        ))
    return "".join(lines)
