"""Reading a node's files once, for ``--check`` and for startup alike.

Both paths, and reload, must agree on what counts as an error, so all go through
:func:`load_node_files`; a reload of one module reads only that module's :class:`Part`.
Each problem is one printable line, ``file:line: …`` where the source layer knows the line.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from dialplan.loader import load_dialplan
from dialplan.plan import Dialplan
from pbxedge.cdr.config import CdrConfig, load_cdr_config
from pbxedge.channels.moh import MohClasses, load_moh
from pbxedge.config.diagnostics import ConfigError, Diagnostic, Severity
from pbxedge.config.iax import IaxConfig, load_iax_config
from pbxedge.config.trunk_check import check_trunk_pair, check_trunk_setup
from pbxedge.keys import KeyStore
from pbxedge.logconf import LoggerConfig, load_logger_config
from pbxedge.manager.config import ManagerConfig, load_manager_config
from pbxedge.media.indications import Indications
from pbxedge.paths import PACKAGE_SOUNDS, NodePaths
from pbxedge.phones.config import ConsoleConfig, load_console_config
from pbxedge.realtime.settings import RealtimeSettings, load_realtime_settings

__all__ = ["ALL_PARTS", "LoadedFiles", "Part", "Problem", "load_node_files"]


class Part(StrEnum):
    """The files one module reads (what ``module reload NAME`` reloads)."""

    # In the order a reload applies them: the two that can still fail come first.
    IAX = "iax"  # iax.conf and the RSA keys
    LOGGER = "logger"  # logger.conf
    DIALPLAN = "dialplan"  # extensions.conf
    MOH = "moh"  # musiconhold.conf
    INDICATIONS = "indications"  # indications.conf
    CDR = "cdr"  # cdr.conf
    MANAGER = "manager"  # manager.conf
    CONSOLE = "console"  # console.conf (local phones and phone boxes)


ALL_PARTS = frozenset(Part)


@dataclass(frozen=True)
class Problem:
    text: str
    is_error: bool

    @classmethod
    def from_diagnostic(cls, diagnostic: Diagnostic) -> Problem:
        return cls(str(diagnostic), diagnostic.severity is Severity.ERROR)


@dataclass
class LoadedFiles:
    """What was read of *parts*; ``config`` is None when iax.conf was not read, or could not
    be read at all."""

    config: IaxConfig | None
    parts: frozenset[Part] = ALL_PARTS
    keys: KeyStore = field(default_factory=lambda: KeyStore([]))
    dialplan: Dialplan | None = None
    moh: MohClasses = field(default_factory=MohClasses)
    indications: Indications = field(default_factory=Indications.builtin)
    cdr: CdrConfig = field(default_factory=CdrConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    realtime: RealtimeSettings = field(default_factory=RealtimeSettings)
    manager: ManagerConfig = field(default_factory=ManagerConfig)
    problems: list[Problem] = field(default_factory=list)

    @property
    def extension_count(self) -> int | None:
        """Extensions over all contexts, or None when no dialplan was loaded."""
        if self.dialplan is None:
            return None
        return sum(len(c.extensions()) for c in self.dialplan.static_contexts.values())

    @property
    def has_errors(self) -> bool:
        return ((Part.IAX in self.parts and self.config is None)
                or any(p.is_error for p in self.problems))


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


def _add(loaded: LoadedFiles, diagnostics: Collection[Diagnostic]) -> None:
    loaded.problems.extend(Problem.from_diagnostic(d) for d in diagnostics)


def _load_indications(paths: NodePaths, loaded: LoadedFiles) -> None:
    indications = paths.config_dir / "indications.conf"
    if not indications.is_file():
        return
    try:
        loaded.indications = Indications.load(indications)
    except ConfigError as exc:
        _add(loaded, exc.diagnostics)
        return
    _add(loaded, loaded.indications.diagnostics)


def _check_trunk_peer(config: IaxConfig, far_path: Path, loaded: LoadedFiles) -> None:
    """The far node's iax.conf against ours (its own problems are its own business)."""
    try:
        far, _ = load_iax_config(far_path)
    except ConfigError as exc:
        loaded.problems.append(Problem(
            f"{far_path}: warning: the far node's iax.conf cannot be read, so the trunk "
            f"between the two is not checked ({exc})", is_error=False))
        return
    _add(loaded, check_trunk_pair(config, far, str(far_path)))


def _load_iax(paths: NodePaths, loaded: LoadedFiles, trunk_peer: Path | None) -> bool:
    """iax.conf, then the keys it refers to; False when iax.conf could not be read. With
    *trunk_peer* (the iax.conf of the node at the far end of a trunk), also check that the
    two agree."""
    try:
        config, diagnostics = load_iax_config(paths.config)
    except ConfigError as exc:
        _add(loaded, exc.diagnostics)
        return False
    loaded.config = config
    _add(loaded, [*diagnostics, *check_trunk_setup(config)])
    if trunk_peer is not None:
        _check_trunk_peer(config, trunk_peer, loaded)
    _load_keys(paths, loaded)
    _check_key_references(config, loaded.keys, paths.keys, loaded)
    return True


def load_node_files(paths: NodePaths, parts: Collection[Part] = ALL_PARTS,
                    trunk_peer: Path | None = None) -> LoadedFiles:
    """Read the files of *parts* (all by default); when iax.conf is among them and cannot
    be read at all, nothing else is read."""
    loaded = LoadedFiles(None, parts=frozenset(parts))
    if Part.IAX in parts:
        if not _load_iax(paths, loaded, trunk_peer):
            return loaded
        # extconfig.conf, res_pgsql.conf and cdr_pgsql.conf, beside iax.conf as in Asterisk
        # (read with iax.conf; a reload checks them but the connection is made at start).
        loaded.realtime = load_realtime_settings(paths.config_dir)
        _add(loaded, loaded.realtime.problems)
    if Part.DIALPLAN in parts:
        _load_dialplan(paths, loaded)
    if Part.MOH in parts:
        loaded.moh, problems = load_moh(paths.config_dir / "musiconhold.conf", PACKAGE_SOUNDS)
        _add(loaded, problems)
    if Part.CDR in parts:
        loaded.cdr, problems = load_cdr_config(paths.config_dir / "cdr.conf")
        _add(loaded, problems)
    if Part.INDICATIONS in parts:
        _load_indications(paths, loaded)
    if Part.LOGGER in parts:
        loaded.logger, problems = load_logger_config(paths.config_dir / "logger.conf",
                                                     paths.logs)
        _add(loaded, problems)
    if Part.MANAGER in parts:
        loaded.manager, problems = load_manager_config(paths.config_dir / "manager.conf")
        _add(loaded, problems)
    if Part.CONSOLE in parts:
        loaded.console, problems = load_console_config(paths.config_dir / "console.conf")
        _add(loaded, problems)
    return loaded
