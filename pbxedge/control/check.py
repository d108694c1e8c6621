"""Reading a node's files once, for ``--check`` and for startup alike.

Both paths must agree on what counts as an error, so both go through
:func:`load_node_files`.  Each problem is one printable line, ``file:line: …``
where the source layer knows the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dialplan.loader import load_dialplan
from dialplan.plan import Dialplan
from pbxedge.cdr.config import CdrConfig, load_cdr_config
from pbxedge.channels.moh import MohClasses, load_moh
from pbxedge.config.diagnostics import ConfigError, Diagnostic, Severity
from pbxedge.config.iax import IaxConfig, load_iax_config
from pbxedge.keys import KeyStore
from pbxedge.media.indications import Indications
from pbxedge.paths import PACKAGE_SOUNDS, NodePaths
from pbxedge.phones.config import ConsoleConfig, load_console_config

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
    keys: KeyStore = field(default_factory=lambda: KeyStore([]))
    dialplan: Dialplan | None = None
    moh: MohClasses = field(default_factory=MohClasses)
    indications: Indications = field(default_factory=Indications.builtin)
    cdr: CdrConfig = field(default_factory=CdrConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    problems: list[Problem] = field(default_factory=list)

    @property
    def extension_count(self) -> int | None:
        """Extensions over all contexts, or None when no dialplan was loaded."""
        if self.dialplan is None:
            return None
        return sum(len(c.extensions()) for c in self.dialplan.static_contexts.values())

    @property
    def has_errors(self) -> bool:
        return self.config is None or any(p.is_error for p in self.problems)


def _load_keys(paths: NodePaths, loaded: LoadedFiles) -> None:
    if not paths.keys.is_dir():
        # No key directory is normal without RSA; a config that needs keys is
        # reported per reference by _check_key_references.
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


def _load_dialplan(paths: NodePaths, loaded: LoadedFiles) -> None:
    if not paths.extensions.exists():
        # Asterisk also runs without a dialplan; every incoming call is then refused.
        loaded.problems.append(Problem(
            f"{paths.extensions}: warning: no such file; incoming calls will find no extension",
            is_error=False))
        return
    try:
        plan = load_dialplan(paths.extensions)
    except ConfigError as exc:
        loaded.problems.extend(Problem.from_diagnostic(d) for d in exc.diagnostics)
        return
    loaded.dialplan = plan
    loaded.problems.extend(Problem.from_diagnostic(d) for d in plan.diagnostics)


def _load_media(paths: NodePaths, loaded: LoadedFiles) -> None:
    """musiconhold.conf, cdr.conf, indications.conf and console.conf (local phones)
    beside iax.conf; all may be absent."""
    loaded.moh, problems = load_moh(paths.config_dir / "musiconhold.conf", PACKAGE_SOUNDS)
    loaded.problems.extend(Problem.from_diagnostic(d) for d in problems)
    loaded.cdr, problems = load_cdr_config(paths.config_dir / "cdr.conf")
    loaded.problems.extend(Problem.from_diagnostic(d) for d in problems)
    loaded.console, problems = load_console_config(paths.config_dir / "console.conf")
    loaded.problems.extend(Problem.from_diagnostic(d) for d in problems)
    indications = paths.config_dir / "indications.conf"
    if indications.is_file():
        try:
            loaded.indications = Indications.load(indications)
        except ConfigError as exc:
            loaded.problems.extend(Problem.from_diagnostic(d) for d in exc.diagnostics)
            return
        loaded.problems.extend(Problem.from_diagnostic(d)
                               for d in loaded.indications.diagnostics)


def load_node_files(paths: NodePaths) -> LoadedFiles:
    try:
        config, diagnostics = load_iax_config(paths.config)
    except ConfigError as exc:
        return LoadedFiles(None, problems=[Problem.from_diagnostic(d) for d in exc.diagnostics])
    loaded = LoadedFiles(config, problems=[Problem.from_diagnostic(d) for d in diagnostics])
    _load_keys(paths, loaded)
    _check_key_references(config, loaded.keys, paths.keys, loaded)
    _load_dialplan(paths, loaded)
    _load_media(paths, loaded)
    return loaded
