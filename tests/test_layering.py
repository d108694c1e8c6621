"""The layers import only downwards: the sans-IO core knows no configuration, node or clock,
the dialplan knows no IAX2, and no two modules import each other.

Every import counts, also those only for type checking and those inside functions.
"""

from __future__ import annotations

import ast
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pbxedge", "dialplan")

# What pbxedge/iax2 may use besides itself: pure helpers of the project, the media layer (as
# sans-IO as the core: the jitter buffer runs inside a call), the standard library without
# I/O or clocks, cryptography for the AES and RSA of the wire, and mypy_extensions for the
# compiler's class decorator (setup.py).
CORE_MAY_IMPORT = ("pbxedge.iax2", "pbxedge.acl", "pbxedge.log", "pbxedge.media", "cryptography",
                   "mypy_extensions")
CORE_STDLIB_FORBIDDEN = ("asyncio", "selectors", "socket", "subprocess", "threading", "time")
# The dialplan talks to calls through its Channel interface, never to the protocol or the node
# (it may use the media layer, e.g. for tone generators).
DIALPLAN_MUST_NOT_IMPORT = (
    "pbxedge.iax2",
    "pbxedge.iaxservice",
    "pbxedge.channels",
    "pbxedge.control",
    "pbxedge.node",
    "pbxedge.transport",
)

# The load tool is a client of any IAX2 server: it stands on the protocol core, the media layer
# and the transport, never on the node it may be pointed at.
LOAD_MAY_IMPORT = ("pbxedge.load", "pbxedge.iax2", "pbxedge.media", "pbxedge.transport")


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module *name* imports; ``from a import b`` counts as ``a.b`` when that is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                qualified = f"{base}.{alias.name}"
                found.add(qualified if qualified in known else base)
    return found


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the modules of *packages* it imports (and, for the layer tests, all others)."""
    modules = module_files(root, packages)
    known = set(modules)
    return {name: imports_of(name, path, known) - {name} for name, path in modules.items()}


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    inside = {name: deps & graph.keys() for name, deps in graph.items()}
    try:
        TopologicalSorter(inside).prepare()
    except CycleError as error:
        cycle: list[str] = error.args[1]
        return cycle
    return None


GRAPH = import_graph(ROOT, PACKAGES)


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n"
    )
    (package / "b.py").write_text("def f():\n    from . import a\n")
    (package / "c.py").write_text("import socket\nfrom .sub import d\n")
    (package / "sub").mkdir()
    (package / "sub" / "__init__.py").write_text("from .. import c\n")
    (package / "sub" / "d.py").write_text("from ..a import B\n")
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.a"] >= {"pkg.b"} and graph["pkg.b"] == {"pkg.a"}
    assert graph["pkg.c"] == {"socket", "pkg.sub.d"}
    assert graph["pkg.sub"] == {"pkg.c"} and graph["pkg.sub.d"] == {"pkg.a"}
    cycle = cycle_in(graph)
    assert cycle is not None and set(cycle) == {"pkg.a", "pkg.b"}


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if within(m, ("pbxedge.iax2",))))
def test_the_protocol_core_imports_nothing_above_it(module: str) -> None:
    above = sorted(
        name
        for name in GRAPH[module]
        if not within(name, CORE_MAY_IMPORT)
        and (name.partition(".")[0] not in sys.stdlib_module_names
             or within(name, CORE_STDLIB_FORBIDDEN))
    )
    assert above == [], f"{module} imports {above}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if within(m, ("dialplan",))))
def test_the_dialplan_imports_neither_protocol_nor_node(module: str) -> None:
    assert sorted(n for n in GRAPH[module] if within(n, DIALPLAN_MUST_NOT_IMPORT)) == []


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if "sounddevice" in GRAPH[m]))
def test_only_the_audio_package_touches_portaudio(module: str) -> None:
    assert within(module, ("pbxedge.audio",)), f"{module} imports sounddevice"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if within(m, ("pbxedge.load",))))
def test_the_load_tool_imports_only_core_media_and_transport(module: str) -> None:
    node_parts = sorted(n for n in GRAPH[module]
                        if within(n, ("pbxedge", "dialplan")) and not within(n, LOAD_MAY_IMPORT))
    assert node_parts == [], f"{module} imports {node_parts}"


def test_no_import_cycles() -> None:
    assert cycle_in(GRAPH) is None
