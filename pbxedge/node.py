"""The running node: one trio nursery holding every service until shutdown.

Each layer that needs a task (control console now; UDP transport, registrations,
qualify later) is a :class:`Service` in the list :func:`run_node` starts.  The node
starts them in order, prints the banner, waits for SIGTERM/SIGINT or
``core stop now``, then stops them in reverse order: first each one's :meth:`Service.stop`
(the calls are hung up and their ACKs awaited), within :data:`STOP_GRACE_SECONDS` for all
of them together, then the cancellation of its task.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import trio

from dialplan.call import EngineOptions
from dialplan.engine import Engine
from dialplan.hooks import load_entry_points, load_python_modules
from dialplan.plan import Dialplan
from pbxedge import __version__, log
from pbxedge.cdr.csvlog import CsvCdrLog
from pbxedge.cdr.recorder import CdrRecorder
from pbxedge.channels.media import MediaEnv
from pbxedge.config.iax_models import IaxConfig
from pbxedge.control.check import LoadedFiles, load_node_files
from pbxedge.control.core_commands import CoreInfo, register_core_commands
from pbxedge.control.database_commands import register_database_commands
from pbxedge.control.dialplan_commands import register_dialplan_commands
from pbxedge.control.iax2_commands import register_iax2_commands
from pbxedge.control.keys_commands import register_keys_commands
from pbxedge.control.limits import ConsoleLimits
from pbxedge.control.registry import CommandRegistry
from pbxedge.control.server import ControlServer, ControlSocketError
from pbxedge.iaxservice.calls import CallService
from pbxedge.iaxservice.registrations import RegistrationService
from pbxedge.iaxservice.service import IaxService
from pbxedge.paths import NodePaths
from pbxedge.phones.service import PhoneService
from pbxedge.private_state import make_state_private
from pbxedge.store import Store

__all__ = ["NodeOptions", "Service", "run_node"]

# What a peer gets to acknowledge its HANGUP at shutdown: on a working network the ACK is
# back in milliseconds, and a node that is told to stop must not linger for a silent one.
STOP_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class NodeOptions:
    paths: NodePaths
    verbosity: int = 0
    debug: int = 0
    log_file: Path | None = None
    console: ConsoleLimits = field(default_factory=ConsoleLimits)


class Service(Protocol):
    """One long-running part of the node, run as a task in the node's nursery."""

    name: str

    def register_commands(self, registry: CommandRegistry) -> None:
        """Add this service's console commands (called before anything runs)."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; call ``task_status.started()`` once ready to serve."""

    async def stop(self) -> None:
        """Finish what must not be cut off before the task is cancelled; the node cancels
        this too once the shutdown grace is over."""


def _report_problems(files: LoadedFiles) -> None:
    for problem in files.problems:
        if problem.is_error:
            log.error(problem.text)
        else:
            log.warning(problem.text)


def _banner(options: NodeOptions, config: IaxConfig, files: LoadedFiles) -> list[str]:
    binds = ", ".join(f"{b.host}:{b.port}" for b in config.general.bindaddrs) or "(none)"
    extensions = "not loaded" if files.extension_count is None else str(files.extension_count)
    return [
        f"pbxedge {__version__} starting",
        f"  Config file:      {options.paths.config}",
        f"  Bind address(es): {binds}",
        f"  Users: {len(config.users)}, peers: {len(config.peers)}, extensions: {extensions}",
        f"  Control socket:   {options.paths.control_socket}",
    ]


async def _stop_on_signal(signals: AsyncIterator[int], stop: trio.Event) -> None:
    async for signum in signals:
        log.notice(f"received {signal.Signals(signum).name}, shutting down")
        stop.set()
        return


async def run_node(options: NodeOptions) -> int:
    """Run the node in the foreground; returns the process exit status."""
    try:
        log.configure(options.verbosity, options.debug, options.log_file)
    except OSError as exc:
        log.configure(options.verbosity, options.debug)
        log.error(f"cannot open log file {options.log_file}: {exc.strerror or exc}")
        return 1
    files = load_node_files(options.paths)
    _report_problems(files)
    if files.has_errors or files.config is None:
        log.error(f"{options.paths.config}: not starting because of the errors above")
        return 1
    if not _make_state_private(options.paths):
        return 1
    config = files.config
    stop = trio.Event()

    registry = CommandRegistry()
    register_core_commands(registry, CoreInfo(options.paths))
    register_iax2_commands(registry, lambda: config)
    control = ControlServer(options.paths.control_socket, registry, stop.set, options.console)

    # Signals are caught from before the control socket exists: a supervisor that
    # sees the socket may send SIGTERM at once and must get a clean exit.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        try:
            # Bound here, before any task runs, so "another instance is running" is
            # a clean exit 1 rather than an error from inside the nursery, and
            # before the store is opened, so a second instance never touches it.
            control.bind()
        except ControlSocketError as exc:
            log.error(str(exc))
            return 1
        with _open_store(options.paths) as store:
            register_database_commands(registry, store)
            register_keys_commands(registry, files.keys)
            # Start order: each service may rely on the ones before it; the console comes
            # last so that it answers only once the node is complete.
            services: list[Service] = [
                *_iax_services(config, options.paths, files, store, registry), control]
            for service in services:
                service.register_commands(registry)
            await _serve(services, _banner(options, config, files), signals, stop)
    return 0


def _dialplan_engine(paths: NodePaths, files: LoadedFiles, store: Store) -> Engine:
    plan = files.dialplan or Dialplan()
    engine = Engine(plan, store=store.astdb(), options=EngineOptions(
        allow_system=plan.options.allowsystem, agi_dir=str(paths.agi_bin)))
    engine.services.indications = files.indications
    # An admin's own applications and functions; problems are logged, never fatal.
    load_python_modules(engine.registry, plan.options.pythonmodules, [str(paths.config_dir)])
    load_entry_points(engine.registry)
    return engine


def _iax_services(config: IaxConfig, paths: NodePaths, files: LoadedFiles, store: Store,
                  registry: CommandRegistry) -> list[Service]:
    """The dialplan and the IAX2 side (endpoint and transport, registrations, calls), and
    the local phones of console.conf."""
    engine = _dialplan_engine(paths, files, store)
    register_dialplan_commands(registry, engine, paths.extensions)
    keys = files.keys
    iax = IaxService(config)
    registrations = RegistrationService(iax, config=config, keys=keys, store=store, engine=engine)
    media = MediaEnv(sound_dirs=paths.sound_dirs, moh=files.moh)
    csv = CsvCdrLog(paths.state / "cdr-csv", files.cdr) if files.cdr.csv else None
    calls = CallService(iax, config=config, keys=keys, store=store, engine=engine,
                        peers=registrations, media_env=media,
                        cdr=CdrRecorder(files.cdr, csv, (store,)))
    if not files.console.phones:
        return [iax, registrations, calls]
    phones = PhoneService(files.console, engine=engine, dialer=calls.dialer, store=store,
                          state_dir=paths.state, media_env=media,
                          indications=files.indications, cdr=calls.cdr)
    return [iax, registrations, calls, phones]


def _make_state_private(paths: NodePaths) -> bool:
    """Create or tighten the state folder and database (see pbxedge.private_state)."""
    try:
        changes = make_state_private(paths.state, paths.database)
    except OSError as exc:
        log.error(f"cannot create the state folder {paths.state}: {exc.strerror or exc}")
        return False
    for change in changes:
        (log.notice if change.changed else log.warning)(str(change))
    return True


def _open_store(paths: NodePaths) -> Store:
    """The state database; a bad or unwritable file never stops the node (see Store.open)."""
    store, problems = Store.open(paths.database)
    for problem in problems:
        log.warning(problem)
    return store


async def _serve(
    services: list[Service], banner: list[str], signals: AsyncIterator[int], stop: trio.Event
) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signal, signals, stop)
        running = [await nursery.start(_run_service, service) for service in services]
        for line in banner:
            log.notice(line)
        log.notice("pbxedge Ready.")
        await stop.wait()
        log.notice("pbxedge shutting down")
        # Last started, first stopped: the call service sends its HANGUPs while the transport
        # runs, the IAX2 service then waits for their ACKs, and the console answers until
        # the end.
        with trio.move_on_after(STOP_GRACE_SECONDS):
            for service in reversed(services):
                await service.stop()
        for scope, finished in reversed(running):
            scope.cancel()
            await finished.wait()
        nursery.cancel_scope.cancel()


async def _run_service(
    service: Service, *, task_status: trio.TaskStatus[tuple[trio.CancelScope, trio.Event]]
) -> None:
    """Run *service* in a cancel scope of its own, so the node can stop services in order."""
    finished = trio.Event()
    try:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as inner:
                await inner.start(service.run)
                task_status.started((scope, finished))
    finally:
        finished.set()
