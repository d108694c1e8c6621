"""Registries of dialplan applications and functions (built-in and added by admins).

Names are case-insensitive, as in Asterisk (``pbx_findapp`` and ``ast_custom_function_find``
compare with ``strcasecmp``).  An application is ``async def app(call, data) -> AppResult |
None`` where *data* is already substituted; a function is ``def read(call, args) -> str``
with an optional ``write(call, args, value)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dialplan.call import Call

__all__ = ["AppHandler", "AppResult", "Application", "DialplanFunction", "Registry"]


class AppResult(Enum):
    CONTINUE = "continue"
    HANGUP = "hangup"  # the application ended the call (Asterisk's -1)


AppHandler = Callable[["Call", str], Awaitable["AppResult | None"]]
FunctionReader = Callable[["Call", str], str]
FunctionWriter = Callable[["Call", str, str], None]


@dataclass(frozen=True)
class Application:
    name: str
    handler: AppHandler
    synopsis: str = ""
    # True for applications that wait on the caller (resets the runaway-loop counter).
    waits: bool = False


@dataclass(frozen=True)
class DialplanFunction:
    name: str
    read: FunctionReader
    write: FunctionWriter | None = None
    synopsis: str = ""
    syntax: str = ""  # e.g. "LEN(string)", shown by ``core show functions``


class Registry:
    """Applications and functions known to an engine."""

    def __init__(self) -> None:
        self._apps: dict[str, Application] = {}
        self._functions: dict[str, DialplanFunction] = {}

    def add_app(self, app: Application) -> None:
        self._apps[app.name.lower()] = app

    def add_function(self, function: DialplanFunction) -> None:
        self._functions[function.name.upper()] = function

    def app(self, name: str) -> Application | None:
        return self._apps.get(name.lower())

    def function(self, name: str) -> DialplanFunction | None:
        return self._functions.get(name.upper())

    def apps(self) -> list[Application]:
        return sorted(self._apps.values(), key=lambda a: a.name.lower())

    def functions(self) -> list[DialplanFunction]:
        return sorted(self._functions.values(), key=lambda f: f.name.upper())
