"""Registries of dialplan applications and functions (built-in and added by admins).

Names are case-insensitive, as in Asterisk (``pbx_findapp`` and ``ast_custom_function_find``
compare with ``strcasecmp``).  An application is ``async def app(call, data) -> AppResult |
None`` where *data* is already substituted; a function is ``def read(call, args) -> str``
with an optional ``write(call, args, value)``.

The types are generic in the call they are given (:class:`dialplan.call.Call`), so this module
needs nothing of the call, which looks its functions up here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

__all__ = ["AppHandler", "AppResult", "Application", "DialplanFunction", "Registry"]


class AppResult(Enum):
    CONTINUE = "continue"
    HANGUP = "hangup"  # the application ended the call (Asterisk's -1)


CallT = TypeVar("CallT")

AppHandler = Callable[[CallT, str], Awaitable["AppResult | None"]]
FunctionReader = Callable[[CallT, str], str]
FunctionWriter = Callable[[CallT, str, str], None]


@dataclass(frozen=True)
class Application(Generic[CallT]):
    name: str
    handler: AppHandler[CallT]
    synopsis: str = ""
    # True for applications that wait on the caller (resets the runaway-loop counter).
    waits: bool = False


@dataclass(frozen=True)
class DialplanFunction(Generic[CallT]):
    name: str
    read: FunctionReader[CallT]
    write: FunctionWriter[CallT] | None = None
    synopsis: str = ""
    syntax: str = ""  # e.g. "LEN(string)", shown by ``core show functions``


class Registry(Generic[CallT]):
    """Applications and functions known to an engine."""

    def __init__(self) -> None:
        self._apps: dict[str, Application[CallT]] = {}
        self._functions: dict[str, DialplanFunction[CallT]] = {}

    def add_app(self, app: Application[CallT]) -> None:
        self._apps[app.name.lower()] = app

    def add_function(self, function: DialplanFunction[CallT]) -> None:
        self._functions[function.name.upper()] = function

    def app(self, name: str) -> Application[CallT] | None:
        return self._apps.get(name.lower())

    def function(self, name: str) -> DialplanFunction[CallT] | None:
        return self._functions.get(name.upper())

    def apps(self) -> list[Application[CallT]]:
        return sorted(self._apps.values(), key=lambda a: a.name.lower())

    def functions(self) -> list[DialplanFunction[CallT]]:
        return sorted(self._functions.values(), key=lambda f: f.name.upper())
