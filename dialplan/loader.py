"""Reading extensions.conf into a :class:`Dialplan` (``pbx_config``'s ``pbx_load_config``).

The generic ``.conf`` syntax (comments, ``#include``, templates) is pbxedge.config's job;
this module gives meaning to the entries: ``exten``/``same`` lines with priorities, labels
and caller-ID matches, ``include`` (optionally time-conditional), ``ignorepat``,
``switch`` (``Realtime/...`` switches; others are reported as unsupported), ``[general]`` and ``[globals]``.
Categories with the same name are merged, as Asterisk does.  Every problem becomes a
:class:`Diagnostic` naming ``file:line``; nothing raises on bad content.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from dialplan.args import split_app_call
from dialplan.context import (
    HINT_PRIORITY,
    Context,
    Include,
    Priority,
    PriorityInUseError,
    Switch,
    shrink_phone_number,
)
from dialplan.plan import Dialplan, DialplanOptions, RuntimeState
from dialplan.substitution import substitute
from dialplan.switches import parse_realtime_switch
from dialplan.timing import TimeSpec
from pbxedge.config.diagnostics import ConfigError, Diagnostic, Origin, Severity, excerpt
from pbxedge.config.loader import Category, ConfigFile, Variable, load_config, parse_config_text
from pbxedge.config.values import ValueFormError, parse_bool

__all__ = ["check", "load_dialplan", "parse_dialplan_text"]

_PRIORITY = re.compile(r"^\s*([^+(]*?)\s*(?:\+\s*(\d+))?\s*(?:\(([^)]*)\)?)?\s*$")


class _GlobalsScope:
    """Load-time substitution sees only global variables (there is no channel yet)."""

    def __init__(self, globals_: dict[str, str]) -> None:
        self.globals = globals_

    def lookup_variable(self, name: str) -> str | None:
        return self.globals.get(name)

    def read_function(self, name: str, args: str) -> str | None:
        if name.upper() == "GLOBAL":
            return self.globals.get(args.strip())
        if name.upper() == "ENV":
            return os.environ.get(args)
        return None


@dataclass
class _Position:
    """``lastextension``/``lastpri`` of pbx_config, reset for each category."""

    extension: str | None = None
    priority: int = -2


class _DialplanBuilder:
    def __init__(self, config: ConfigFile) -> None:
        self.config = config
        self.diagnostics: list[Diagnostic] = list(config.diagnostics)
        self.contexts: dict[str, Context] = {}
        self.options = DialplanOptions()
        self.file_globals: dict[str, str] = {}

    def error(self, message: str, origin: Origin) -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, message, origin))

    def warning(self, message: str, origin: Origin) -> None:
        self.diagnostics.append(Diagnostic(Severity.WARNING, message, origin))

    def build(self) -> None:
        categories = self.config.sections()
        for category in categories:  # globals first: extension names may use them
            if category.name.lower() == "globals":
                self.read_globals(category)
        for category in categories:
            lowered = category.name.lower()
            if lowered == "general":
                self.read_general(category)
            elif lowered != "globals":
                self.read_context(category)

    # -- [general] and [globals] -------------------------------------------------------
    def flag(self, variable: Variable) -> bool:
        try:
            return parse_bool(variable.value)
        except ValueFormError:
            self.warning(f"'{variable.name}' expects yes or no, got '{excerpt(variable.value)}'", variable.origin)
            return False

    def read_general(self, category: Category) -> None:
        options = self.options
        for variable in category.variables:
            name = variable.name.lower()
            if name in ("autofallthrough", "clearglobalvars", "static", "writeprotect",
                        "allowsystem"):
                setattr(options, name, self.flag(variable))
            elif name == "extenpatternmatchnew":
                if self.flag(variable):
                    self.warning("extenpatternmatchnew=yes is not supported; the classic matcher "
                                 "(same results, Asterisk's default) is used", variable.origin)
            elif name == "userscontext":
                options.userscontext = variable.value.strip() or None
            elif name == "pythonmodules":
                options.pythonmodules.extend(m for m in re.split(r"[\s,]+", variable.value) if m)
            elif name == "priorityjumping":
                self.warning("priorityjumping is obsolete and ignored", variable.origin)
            else:
                self.warning(f"unknown option '{excerpt(variable.name)}' in [general]", variable.origin)

    def read_globals(self, category: Category) -> None:
        scope = _GlobalsScope(self.file_globals)
        for variable in category.variables:
            self.file_globals[variable.name] = substitute(variable.value, scope)

    # -- contexts ----------------------------------------------------------------------
    def read_context(self, category: Category) -> None:
        context = self.contexts.get(category.name)
        if context is None:
            context = self.contexts[category.name] = Context(category.name, origin=category.origin)
        position = _Position()
        for variable in category.variables:
            kind = variable.name.lower()
            if kind in ("exten", "same"):
                self.read_exten(context, variable, position, same=kind == "same")
            elif kind == "include":
                self.read_include(context, variable)
            elif kind == "ignorepat":
                context.ignorepats.append(variable.value.strip())
            elif kind in ("switch", "lswitch", "eswitch"):
                context.switches.append(Switch(variable.name, variable.value.strip(), variable.origin))
                if parse_realtime_switch(variable.value.strip(), category.name) is None:
                    self.warning(f"'{variable.name} => {excerpt(variable.value.strip())}' is not "
                                 "supported on this node (no remote dialplan switches); ignored",
                                 variable.origin)
            else:
                self.warning(f"Unknown directive '{excerpt(variable.name)}' in context '{excerpt(category.name)}', ignored",
                             variable.origin)

    def read_include(self, context: Context, variable: Variable) -> None:
        value = variable.value.strip()
        fields = [f.strip() for f in (value.split(",") if "," in value else value.split("|"))]
        if not fields[0]:
            self.error("include => needs a context name", variable.origin)
            return
        timing = None
        if len(fields) > 1:
            timing = TimeSpec.parse(fields[1:])
            for warning in timing.warnings:
                self.warning(f"include => {excerpt(fields[0])}: {warning}", variable.origin)
        context.includes.append(Include(fields[0], timing, variable.origin))

    def read_exten(self, context: Context, variable: Variable, position: _Position, *, same: bool) -> None:
        origin = variable.origin
        value = variable.value
        if same:
            if position.extension is None:
                self.error(f"No previous pattern in the first entry of context '{context.name}' "
                           f"to match 'same' ({excerpt(value.strip())})", origin)
                return
            full_name = position.extension
        else:
            raw_name, value = _split_extension(value)
            full_name = substitute(raw_name.strip(), _GlobalsScope(self.file_globals))
            # Even an empty name replaces the last one, so a 'same' after it has nothing to join.
            position.extension = full_name or None
            if not full_name:
                self.error("exten => line has no extension", origin)
                return
        priority_text, comma, app_text = value.partition(",")
        if not priority_text.strip():
            self.error(f"exten => {excerpt(full_name)}: missing priority", origin)
            return
        name, _, cid = full_name.partition("/")
        cidmatch = shrink_phone_number(cid) if cid else None
        number, label = self.resolve_priority(context, name, cidmatch, priority_text, position, origin)
        if number is None:
            return
        position.priority = number
        if not comma or not app_text.strip():
            self.error(f"exten => {excerpt(full_name)},{excerpt(priority_text.strip())}: missing application", origin)
            return
        app, data = _split_application(app_text, origin, self)
        if name in ("_.", "_!"):
            self.warning(f"The use of '{name}' for an extension is strongly discouraged and can have "
                         f"unexpected behavior.  Please use '_X{name[1]}' instead", origin)
        extension = context.extension(name, cidmatch, origin=origin)
        try:
            extension.add(Priority(number, app, data, label, origin))
        except PriorityInUseError:
            shown = "hint" if number == HINT_PRIORITY else str(number)
            self.error(f"Unable to register extension '{excerpt(full_name)}' priority {shown} in "
                       f"'{context.name}', already in use", origin)

    def resolve_priority(self, context: Context, name: str, cidmatch: str | None, text: str,
                         position: _Position, origin: Origin) -> tuple[int | None, str | None]:
        found = _PRIORITY.match(text)
        if not found:
            self.error(f"Invalid priority/label '{excerpt(text.strip())}'", origin)
            return None, None
        base, plus, label = found.group(1), found.group(2), found.group(3)
        if label is not None and not text.rstrip().endswith(")"):
            self.warning("Label missing trailing ')'", origin)
        lowered = base.lower()
        if lowered == "hint":
            return HINT_PRIORITY, label or None
        if lowered in ("n", "next", "s", "same"):
            if position.priority == -2:
                self.error(f"Can't use '{base}' priority on the first entry", origin)
                return None, None
            number = position.priority + (1 if lowered in ("n", "next") else 0)
        elif base.isdigit():
            number = int(base)
        else:
            existing = context.find_existing(name, cidmatch)
            labelled = existing.labels.get(base) if existing is not None else None
            if labelled is None:
                self.error(f"Invalid priority/label '{excerpt(base)}'", origin)
                return None, None
            number = labelled
        number += int(plus) if plus else 0
        if number < 1:
            self.error(f"Invalid priority '{excerpt(text.strip())}' (priorities start at 1)", origin)
            return None, None
        return number, label or None

    def dialplan(self, runtime: RuntimeState | None) -> Dialplan:
        return Dialplan(self.contexts, options=self.options, file_globals=self.file_globals,
                        runtime=runtime, diagnostics=self.diagnostics)


def _split_extension(value: str) -> tuple[str, str]:
    """``pbx_strsep``: the extension ends at the first comma outside ``[...]``."""
    depth = 0
    index = 0
    while index < len(value):
        char = value[index]
        if char == "[" and "]" in value[index:]:
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        elif char == "\\":
            index += 1
        elif char == "," and not depth:
            return value[:index], value[index + 1 :]
        index += 1
    return value, ""


def _split_application(text: str, origin: Origin, builder: _DialplanBuilder) -> tuple[str, str]:
    text = text.strip()
    name, paren, _ = text.partition("(")
    if not paren:
        return text, ""
    if "${" in name or "$[" in name:  # a hint such as IAX2/${GLOBAL(x)}: no application
        return text, ""
    if ")" not in text[len(name):]:
        builder.warning(f"No closing parenthesis found? '{excerpt(text)}'", origin)
    return split_app_call(text)


def _build(config: ConfigFile, runtime: RuntimeState | None) -> Dialplan:
    builder = _DialplanBuilder(config)
    builder.build()
    return builder.dialplan(runtime)


def load_dialplan(path: str | os.PathLike[str], *, runtime: RuntimeState | None = None) -> Dialplan:
    """Load extensions.conf.  Pass the previous plan's ``runtime`` on reload so run-time
    extensions (registrations) and global variables survive.  Raises ConfigError only when
    the file itself cannot be read."""
    return _build(load_config(path), runtime)


def parse_dialplan_text(text: str, filename: str = "extensions.conf", *,
                        runtime: RuntimeState | None = None) -> Dialplan:
    return _build(parse_config_text(text, filename), runtime)


def check(path: str | os.PathLike[str]) -> list[Diagnostic]:
    """Every problem in *path* (for ``pbxedge --check``), errors and warnings alike."""
    try:
        return load_dialplan(path).diagnostics
    except ConfigError as exc:
        return exc.diagnostics
