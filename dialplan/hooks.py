"""Dialplan applications and functions written in Python by the admin.

Two ways in, both without touching pbxedge:

* modules named in extensions.conf ``[general] pythonmodules = mymodule`` (looked up on
  the extra search path, normally the config folder, then ``sys.path``);
* installed packages declaring entry points in the groups ``pbxedge.dialplan_apps`` and
  ``pbxedge.dialplan_functions``.

A module marks its callables with :func:`dialplan_app` / :func:`dialplan_function`.  A
hook that fails to import or register is reported, never fatal.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, TypeVar

from dialplan.call import Call
from dialplan.registry import (
    AppHandler,
    Application,
    DialplanFunction,
    FunctionReader,
    FunctionWriter,
    Registry,
)

__all__ = [
    "APP_ENTRY_POINTS",
    "FUNCTION_ENTRY_POINTS",
    "dialplan_app",
    "dialplan_function",
    "load_entry_points",
    "load_python_modules",
]

log = logging.getLogger("dialplan.hooks")

APP_ENTRY_POINTS = "pbxedge.dialplan_apps"
FUNCTION_ENTRY_POINTS = "pbxedge.dialplan_functions"
_MARK = "__pbxedge_dialplan__"
F = TypeVar("F", bound=Callable[..., Any])


def dialplan_app(name: str, synopsis: str = "", *, waits: bool = False) -> Callable[[F], F]:
    """Mark ``async def app(call, data)`` as the dialplan application *name*."""

    def mark(handler: F) -> F:
        setattr(handler, _MARK, Application(name, handler, synopsis, waits))
        return handler

    return mark


def dialplan_function(name: str, synopsis: str = "", syntax: str = "",
                      write: FunctionWriter[Call] | None = None) -> Callable[[F], F]:
    """Mark ``def read(call, args) -> str`` as the dialplan function *name*."""

    def mark(reader: F) -> F:
        setattr(reader, _MARK, DialplanFunction(name, reader, write, synopsis, syntax or f"{name}()"))
        return reader

    return mark


def _register(registry: Registry[Call], item: object) -> bool:
    if isinstance(item, Application):
        registry.add_app(item)
        return True
    if isinstance(item, DialplanFunction):
        registry.add_function(item)
        return True
    return False


def _register_module(registry: Registry[Call], module: ModuleType) -> int:
    count = 0
    for value in list(vars(module).values()):
        if _register(registry, getattr(value, _MARK, None)):
            count += 1
    register = getattr(module, "register", None)
    if callable(register):
        register(registry)
        count += 1
    return count


def load_python_modules(registry: Registry[Call], names: Iterable[str], search_path: Iterable[str] = ()) -> list[str]:
    """Import each module and register what it marks; returns one message per problem."""
    problems: list[str] = []
    extra = [p for p in search_path if p not in sys.path]
    sys.path[:0] = extra
    try:
        for name in names:
            try:
                module = importlib.import_module(name)
                found = _register_module(registry, module)
            except Exception as exc:  # an admin's module may fail in any way
                problems.append(f"pythonmodules: cannot load '{name}': {type(exc).__name__}: {exc}")
                continue
            if not found:
                problems.append(f"pythonmodules: '{name}' defines no dialplan application or function")
    finally:
        for path in extra:
            sys.path.remove(path)
    for problem in problems:
        log.warning("%s", problem)
    return problems


def _from_entry_point(name: str, value: object,
                      group: str) -> Application[Call] | DialplanFunction[Call] | None:
    marked = getattr(value, _MARK, None)
    if isinstance(marked, Application | DialplanFunction):
        return marked
    if isinstance(value, Application | DialplanFunction):
        return value
    if callable(value):
        if group == APP_ENTRY_POINTS:
            handler: AppHandler[Call] = value
            return Application(name, handler)
        reader: FunctionReader[Call] = value
        return DialplanFunction(name, reader, syntax=f"{name}()")
    return None


def load_entry_points(registry: Registry[Call]) -> list[str]:
    """Register everything installed under the two entry-point groups."""
    problems: list[str] = []
    for group in (APP_ENTRY_POINTS, FUNCTION_ENTRY_POINTS):
        for entry in importlib.metadata.entry_points(group=group):
            try:
                item = _from_entry_point(entry.name, entry.load(), group)
            except Exception as exc:  # a broken plug-in must not stop the node
                problems.append(f"{group}: cannot load '{entry.name}': {type(exc).__name__}: {exc}")
                continue
            if item is None or not _register(registry, item):
                problems.append(f"{group}: '{entry.name}' is not an application or function")
    for problem in problems:
        log.warning("%s", problem)
    return problems
