"""Text of ``iax2 show users``, column for column as chan_iax2 prints it.

Formats come from chan_iax2.c (reference iax2.md §9, §15.10) and were checked
against the real outputs in ``vectors/asterisk/asterisk-cli-outputs.txt``.
One deliberate difference: secrets are never printed (``<Set>`` instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pbxedge.config.iax_models import IaxConfig, User

__all__ = ["show_users"]

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
