"""Reading a node's files once, for ``--check`` and for startup alike.

Both paths must agree on what counts as an error, so both go through
:func:`load_node_files`.  Each problem is one printable line, ``file:line: …``
where the source layer knows the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pbxedge.config.diagnostics import ConfigError, Diagnostic, Severity
from pbxedge.config.iax import IaxConfig, load_iax_config
from pbxedge.paths import NodePaths

if TYPE_CHECKING:
    from pbxedge.keys import KeyStore

__all__ = ["LoadedFiles", "Problem", "load_node_files"]


@dataclass(frozen=True)
class Problem:
    text: str
    is_error: bool

    @classmethod
    def from_diagnostic(cls, diagnostic: Diagnostic) -> Problem:
        return cls(str(diagnostic), diagnostic.severity is Severity.ERROR)


@dataclass
class LoadedFiles:
    """What was read; ``config`` is None only when iax.conf could not be read at all."""

    config: IaxConfig | None
    keys: KeyStore | None = None
    extension_count: int | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return self.config is None or any(p.is_error for p in self.problems)


def _load_keys(paths: NodePaths, loaded: LoadedFiles) -> None:
    try:
        from pbxedge.keys import KeyStore
    except ImportError as exc:
        loaded.problems.append(Problem(f"RSA keys not loaded: {exc}", is_error=False))
        return
    if not paths.keys.is_dir():
        # No key directory is normal without RSA; a config that needs keys is
        # reported per reference by _check_key_references.
        loaded.keys = KeyStore([])
        return
    store, key_problems = KeyStore.load(paths.keys)
    loaded.keys = store
    loaded.problems.extend(
        Problem(f"{paths.keys}: warning: {p}", is_error=False) for p in key_problems
    )


def _check_key_references(
    config: IaxConfig, keys: KeyStore, keys_dir: Path, loaded: LoadedFiles
) -> None:
    """An inkeys/outkey missing from the key directory would only fail at call time."""
    for user in config.users.values():
        for name in user.inkeys:
            if keys.public(name) is None:
                loaded.problems.append(Problem(
                    f"{user.origin}: warning: user '{user.name}': inkeys '{name}' "
                    f"has no {name}.pub in {keys_dir}", is_error=False))
    for peer in config.peers.values():
        if peer.outkey and keys.private(peer.outkey) is None:
            loaded.problems.append(Problem(
                f"{peer.origin}: warning: peer '{peer.name}': outkey '{peer.outkey}' "
                f"has no {peer.outkey}.key in {keys_dir}", is_error=False))


def load_node_files(paths: NodePaths) -> LoadedFiles:
    try:
        config, diagnostics = load_iax_config(paths.config)
    except ConfigError as exc:
        return LoadedFiles(None, problems=[Problem.from_diagnostic(d) for d in exc.diagnostics])
    loaded = LoadedFiles(config, problems=[Problem.from_diagnostic(d) for d in diagnostics])
    _load_keys(paths, loaded)
    if loaded.keys is not None:
        _check_key_references(config, loaded.keys, paths.keys, loaded)
    return loaded
