"""Console text in Asterisk's layouts: ``dialplan show``, ``core show applications``,
``core show functions``.  Pure functions: the control layer prints what they return."""

from __future__ import annotations

import os
from dataclasses import dataclass

from dialplan.call import Call
from dialplan.context import Context, Extension, Priority
from dialplan.patterns import ExtensionPattern
from dialplan.plan import Dialplan
from dialplan.registry import Registry

__all__ = ["show_applications", "show_dialplan", "show_functions"]


@dataclass
class _Counters:
    extensions: int = 0
    priorities: int = 0
    contexts: int = 0


def _source(priority: Priority, extension: Extension) -> str:
    if priority.origin is not None:
        return f"{os.path.basename(priority.origin.file)}:{priority.origin.line}"
    return priority.registrar or extension.registrar


def _describe(priority: Priority) -> str:
    if priority.number < 0:
        return f"hint: {priority.app}"
    return f"{priority.number}. {priority.app}({priority.data})"


def _extension_lines(extension: Extension) -> list[str]:
    if extension.cidmatch:
        head = f"'{extension.name}' (CID match '{extension.cidmatch}') => "
    else:
        head = f"'{extension.name}' =>"
    peers = ([extension.hint] if extension.hint else []) + extension.ordered_priorities()
    lines = []
    for index, priority in enumerate(peers):
        label = head if index == 0 else (f"   [{priority.label}]" if priority.label else "")
        lines.append(f"  {label:<17} {_describe(priority):<45} [{_source(priority, extension)}]")
    return lines


def _show_context(plan: Dialplan, context: Context, exten: str | None, counters: _Counters,
                  out: list[str], seen: list[str], included: bool) -> None:
    printed = False

    def header() -> None:
        nonlocal printed
        if not printed:
            kind = "Included context" if included else "Context"
            out.append(f"[ {kind} '{context.name}' created by '{context.registrar}' ]")
            counters.contexts += 1
            printed = True

    if exten is None:
        header()
    for extension in context.extensions():
        if exten is not None and not ExtensionPattern(extension.name).matches(exten):
            continue
        header()
        counters.extensions += 1
        lines = _extension_lines(extension)
        counters.priorities += len(lines)
        out.extend(lines)
    seen.append(context.name)
    for include in context.includes:
        if exten is None:
            out.append(f"  Include =>        {_quoted(include.display):<45} [{include.registrar}]")
            continue
        target = plan.context(include.name)
        if target is not None and include.name not in seen:
            _show_context(plan, target, exten, counters, out, seen, included=True)
    for pattern in context.ignorepats:
        if exten is None or ExtensionPattern(f"_{pattern}.").matches(exten):
            header()
            out.append(f"  Ignore pattern => {_quoted(pattern):<45} [{context.registrar}]")
    if not included:
        for switch in context.switches:
            header()
            out.append(f"  Alt. Switch =>    {_quoted(switch.data):<45} [{context.registrar}]")
    if printed:
        out.append("")


def _quoted(name: str) -> str:
    return f"'{name}'"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def show_dialplan(plan: Dialplan, arg: str | None = None) -> str:
    """``dialplan show [EXT@][CONTEXT]``."""
    exten: str | None = None
    context_name: str | None = arg.strip() if arg and arg.strip() else None
    if context_name and "@" in context_name:
        exten_text, _, context_text = context_name.partition("@")
        exten, context_name = exten_text or None, context_text or None
    names = plan.context_names() if context_name is None else [context_name]
    counters = _Counters()
    out: list[str] = []
    for name in names:
        context = plan.context(name)
        if context is not None:
            _show_context(plan, context, exten, counters, out, [], included=False)
    if context_name is not None and plan.context(context_name) is None:
        return f"There is no existence of '{context_name}' context\n"
    if exten is not None and counters.extensions == 0:
        where = f" in '{context_name}' context" if context_name else ""
        return f"There is no existence of '{exten}' extension{where}\n"
    footer = (f"-= {_plural(counters.extensions, 'extension', 'extensions')} "
              f"({_plural(counters.priorities, 'priority', 'priorities')}) in "
              f"{_plural(counters.contexts, 'context', 'contexts')}. =-")
    return "\n".join([*out, footer]) + "\n"


def show_applications(registry: Registry[Call]) -> str:
    """``core show applications``."""
    lines = ["    -= Registered Asterisk Applications =-"]
    apps = registry.apps()
    lines += [f"  {app.name:>20}: {app.synopsis or '<Synopsis not available>'}" for app in apps]
    lines.append(f"    -= {len(apps)} Applications Registered =-")
    return "\n".join(lines) + "\n"


def show_functions(registry: Registry[Call]) -> str:
    """``core show functions``."""
    lines = ["Installed Custom Functions:", "-" * 80]
    functions = registry.functions()
    lines += [f"{f.name[:20]:<20}  {f.syntax[:35]:<35}  {f.synopsis}" for f in functions]
    lines.append(f"{len(functions)} custom functions installed.")
    return "\n".join(lines) + "\n"
