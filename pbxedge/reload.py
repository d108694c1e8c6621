"""Reloading the configuration of a running node: ``reload``, ``module reload NAME``,
``iax2 reload``, ``dialplan reload``, SIGHUP, and the manager's ``Reload`` action all
come here.

A reload reads and checks every file of the modules it covers first, in a worker thread
(a big iax.conf must not hold up the audio). With any error nothing changes: the running
configuration stays and each error is logged, ``file:line``, and returned. Without
errors each module's appliers take the new configuration in the order of
:class:`~pbxedge.control.check.Part`; what they change applies to new calls and
registrations, and live calls and registrations are never dropped. An applier that
still cannot apply (a new bind address in use, a log file that cannot be opened) raises
:class:`ReloadError`; the modules after it are then left as they were.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from pbxedge import log
from pbxedge.control.check import ALL_PARTS, LoadedFiles, Part, load_node_files
from pbxedge.paths import NodePaths

__all__ = ["MODULES", "Applier", "ReloadError", "ReloadResult", "Reloader", "module_named"]

logger = logging.getLogger("pbxedge.reload")

# Asterisk's module names for what each part configures.
MODULES: dict[Part, str] = {
    Part.IAX: "chan_iax2.so",
    Part.LOGGER: "logger",
    Part.DIALPLAN: "pbx_config.so",
    Part.MOH: "res_musiconhold.so",
    Part.INDICATIONS: "indications",
    Part.CDR: "cdr",
    Part.MANAGER: "manager",
    Part.CONSOLE: "chan_console.so",
}
# Other names an admin may type for them (with or without ".so").
_ALIASES: dict[str, Part] = {
    "chan_iax2": Part.IAX, "iax2": Part.IAX, "res_crypto": Part.IAX,
    "pbx_config": Part.DIALPLAN, "dialplan": Part.DIALPLAN, "extensions": Part.DIALPLAN,
    "res_musiconhold": Part.MOH, "moh": Part.MOH, "musiconhold": Part.MOH,
    "cdr_csv": Part.CDR, "res_indications": Part.INDICATIONS, "console": Part.CONSOLE,
}

# What a part's applier does with the files read: returns lines saying what changed.
Applier = Callable[[LoadedFiles], list[str]]


def module_named(name: str) -> Part | None:
    """The part an Asterisk module name stands for (``chan_iax2.so``, ``pbx_config``…)."""
    key = name.strip().lower()
    key = key.removesuffix(".so")
    for part, module in MODULES.items():
        if key == module.removesuffix(".so"):
            return part
    return _ALIASES.get(key)


class ReloadError(Exception):
    """An applier could not take the new configuration; *problems* say why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ReloadResult:
    """What one reload did: ``modules`` are Asterisk's names of the parts it covered."""

    modules: tuple[str, ...]
    ok: bool
    problems: tuple[str, ...] = ()  # errors and warnings, file:line first
    changes: tuple[str, ...] = ()  # what the appliers changed
    found: bool = True  # False: no such module

    @property
    def status(self) -> int:
        """Asterisk's ``ast_module_reload_result``: 0 success, 2 not found, 4 error
        (the AMI ``Reload`` event's ``Status``)."""
        return 0 if self.ok else 2 if not self.found else 4

    def text(self) -> str:
        """The console's answer."""
        lines = list(self.problems)
        names = ", ".join(self.modules)
        if not self.found:
            lines.append(f"No such module '{names}'")
        elif self.ok:
            lines.extend(f"Module '{module}' reloaded successfully." for module in self.modules)
        else:
            lines.append(f"Not reloaded ({names}): the running configuration stays.")
        return "".join(f"{line}\n" for line in lines)


@dataclass
class _Listeners:
    started: list[Callable[[], object]] = field(default_factory=list)
    finished: list[Callable[[ReloadResult], object]] = field(default_factory=list)


class Reloader:
    """The node's one way to take new configuration files while running.

    Each layer registers an :data:`Applier` for its part with :meth:`add`; listeners hear
    each reload start and finish (the service manager's RELOADING/READY, the manager's
    ``Reload`` event, ``core show uptime``'s last reload).
    """

    def __init__(self, paths: NodePaths, *, clock: Callable[[], float] = time.time) -> None:
        self.paths = paths
        self._clock = clock
        self._appliers: dict[Part, list[Applier]] = {}
        self._lock = trio.Lock()
        self.listeners = _Listeners()
        self.last_reload = clock()

    def add(self, part: Part, applier: Applier) -> None:
        self._appliers.setdefault(part, []).append(applier)

    async def reload(self, module: str | None = None) -> ReloadResult:
        """Reload *module* (an Asterisk module name), or everything when None.

        Reloads are taken one at a time; one that arrives during another waits for it.
        """
        if module is None:
            parts = ALL_PARTS
        else:
            part = module_named(module)
            if part is None:
                return ReloadResult((module,), ok=False, found=False)
            parts = frozenset((part,))
        async with self._lock:
            for started in self.listeners.started:
                started()
            result = await self._reload(sorted(parts, key=list(Part).index))
            if result.ok:
                self.last_reload = self._clock()
            for finished in self.listeners.finished:
                finished(result)
        return result

    async def _reload(self, parts: list[Part]) -> ReloadResult:
        modules = tuple(MODULES[part] for part in parts)
        files = await trio.to_thread.run_sync(load_node_files, self.paths, parts)
        problems = tuple(problem.text for problem in files.problems)
        if files.has_errors:
            for problem in files.problems:
                (log.error if problem.is_error else log.warning)(problem.text)
            log.error(f"Reload of {', '.join(modules)} refused because of the errors above; "
                      "the running configuration stays")
            return ReloadResult(modules, ok=False, problems=problems)
        for problem in files.problems:
            log.warning(problem.text)
        changes: list[str] = []
        for part in parts:
            try:
                for applier in self._appliers.get(part, []):
                    changes.extend(applier(files))
            except Exception as exc:
                # Never fatal: SIGHUP runs this in the node's own nursery.
                if isinstance(exc, ReloadError):
                    failures = exc.problems
                else:
                    logger.exception("reload of %s raised", MODULES[part])
                    failures = [f"error: reload of {MODULES[part]} failed: {exc!r}"]
                for text in failures:
                    log.error(text)
                applied = modules[: parts.index(part)]
                log.error(f"Reload of {MODULES[part]} failed; "
                          f"{', '.join(applied) or 'nothing'} reloaded before it")
                return ReloadResult(modules, ok=False, problems=problems + tuple(failures),
                                    changes=tuple(changes))
        for change in changes:
            log.verbose(2, f"  == {change}")
        log.notice(f"Reloaded {', '.join(modules)}")
        return ReloadResult(modules, ok=True, problems=problems, changes=tuple(changes))
