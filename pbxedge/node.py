"""The running node: one trio nursery holding every service until shutdown.

Each layer that needs a task (UDP transport, registrations, calls, the control console)
is a :class:`Service` in the list :func:`run_node` starts.  The node starts them in order,
prints the banner, tells a service manager it is ready (:mod:`pbxedge.sdnotify`), waits
for SIGTERM/SIGINT or ``core stop now``, then stops them in reverse order: first each one's
:meth:`Service.stop` (the calls are hung up and their ACKs awaited), within
:data:`STOP_GRACE_SECONDS` for all of them together, then the cancellation of its task.
SIGHUP reloads the configuration (:class:`~pbxedge.reload.Reloader`), as ``reload`` does.
"""

from __future__ import annotations

import contextlib
import gc
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import trio

from dialplan.call import EngineOptions
from dialplan.engine import Engine
from dialplan.hooks import load_entry_points, load_python_modules
from dialplan.plan import Dialplan
from pbxedge import __version__, iax2, log, logchannels, sdnotify
from pbxedge.cdr.config import CdrConfig
from pbxedge.cdr.csvlog import CsvCdrLog
from pbxedge.cdr.recorder import CdrBatches, CdrEvents, CdrRecorder, CdrSink
from pbxedge.channels.iax import set_system_name
from pbxedge.channels.media import MediaEnv
from pbxedge.config.iax_models import IaxConfig
from pbxedge.control.check import LoadedFiles, Part, load_node_files
from pbxedge.control.core_commands import CoreInfo, register_core_commands
from pbxedge.control.database_commands import register_database_commands
from pbxedge.control.dialplan_commands import register_dialplan_commands
from pbxedge.control.iax2_commands import register_iax2_commands
from pbxedge.control.keys_commands import register_keys_commands
from pbxedge.control.limits import ConsoleLimits
from pbxedge.control.registry import CommandRegistry
from pbxedge.control.reload_commands import register_reload_commands
from pbxedge.control.server import ControlServer, ControlSocketError
from pbxedge.events import EventBus, FullyBooted, Reload
from pbxedge.iaxservice.calls import CallService
from pbxedge.iaxservice.channel_commands import netstats_rows
from pbxedge.iaxservice.registrations import RegistrationService
from pbxedge.iaxservice.service import IaxService
from pbxedge.manager.service import ManagerService
from pbxedge.manager.state import IaxView, ManagerContext
from pbxedge.metrics.collector import NodeMetrics
from pbxedge.metrics.phonebox import PhoneBoxCollector
from pbxedge.metrics.server import MetricsService
from pbxedge.paths import NodePaths
from pbxedge.phones.service import PhoneService
from pbxedge.pidfile import PidFile, PidFileError
from pbxedge.private_state import make_state_private
from pbxedge.realtime.service import RealtimeService
from pbxedge.reload import Reloader, ReloadError, ReloadResult
from pbxedge.store import Store
from pbxedge.transport import BindError, format_address

__all__ = ["GC_THRESHOLDS", "NodeOptions", "Service", "run_node", "tune_collector"]

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
    pidfile: Path | None = None


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
        f"  IAX2 core:        {iax2.build_name()}",
    ]


# CPython's first generation is collected once 700 more container objects were made than
# freed. A registration or a call setup makes a few dozen that live as long as its dialog;
# at 700 a busy node traversed them, promoted them and traversed them again: 5 % of its time
# (9 µs of a registration, 30 µs of a call setup at saturation). At 20 000 nearly all are
# freed before a collection sees them (under 0.5 %): one young collection every second or
# two at saturation, pausing the node 5-10 ms, no longer than the full collections it ran
# anyway. Only garbage in reference cycles waits longer; everything else is freed at once.
GC_THRESHOLDS = (20_000, 10, 10)


def tune_collector() -> None:
    """Set the garbage collector up for a node that has finished starting."""
    # Configuration, dialplan and modules live as long as the node: out of the collector's
    # sight they no longer make every collection walk them (with many peers, that walk was a
    # tenth of the time of a call setup).
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _on_signals(signals: AsyncIterator[int], stop: trio.Event, reloader: Reloader,
                     nursery: trio.Nursery) -> None:
    async for signum in signals:
        if signum == signal.SIGHUP:
            log.notice("received SIGHUP, reloading")
            nursery.start_soon(reloader.reload)
            continue
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
        sdnotify.notify(f"STATUS=not started: errors in {options.paths.config}")
        return 1
    for problem in logchannels.apply_channels(files.logger):
        log.error(problem)
    if not _make_state_private(options.paths):
        return 1
    config = files.config
    stop = trio.Event()

    registry = CommandRegistry()
    info = CoreInfo(options.paths)
    register_core_commands(registry, info)
    reloader = Reloader(options.paths)
    reloader.listeners.started.append(sdnotify.reloading)
    reloader.listeners.finished.append(lambda result: _reloaded(info, reloader))
    events = EventBus()  # what happens in the node, for the manager interface and others
    reloader.listeners.finished.append(lambda result: _publish_reload(events, result))
    register_reload_commands(registry, reloader)
    control = ControlServer(options.paths.control_socket, registry, stop.set, options.console)

    # Signals are caught from before the control socket exists: a supervisor that
    # sees the socket may send SIGTERM at once and must get a clean exit.
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        try:
            # Bound here, before any task runs, so "another instance is running" is
            # a clean exit 1 rather than an error from inside the nursery, and
            # before the store is opened, so a second instance never touches it.
            control.bind()
        except ControlSocketError as exc:
            log.error(str(exc))
            return 1
        try:
            pidfile = PidFile.create(options.pidfile) if options.pidfile else None
        except PidFileError as exc:
            log.error(str(exc))
            return 1
        with pidfile or contextlib.nullcontext(), _open_store(options.paths) as store:
            register_database_commands(registry, store)
            # Start order: each service may rely on the ones before it; the console comes
            # last so that it answers only once the node is complete.
            services: list[Service] = [
                *_iax_services(config, options.paths, files, store, registry, reloader, info,
                               events, stop.set),
                control]
            for service in services:
                service.register_commands(registry)
            tune_collector()
            await _serve(services, _banner(options, config, files), signals, stop, reloader,
                         events)
    return 0


def _reloaded(info: CoreInfo, reloader: Reloader) -> None:
    info.last_reload = reloader.last_reload
    sdnotify.ready()


def _publish_reload(events: EventBus, result: ReloadResult) -> None:
    """A Reload event per module, whatever asked for the reload (console, SIGHUP, AMI)."""
    if result.found:
        for module in result.modules:
            events.publish(Reload(module, result.status))


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
                  registry: CommandRegistry, reloader: Reloader, info: CoreInfo,
                  events: EventBus, request_stop: Callable[[], None]) -> list[Service]:
    """The dialplan and the IAX2 side: endpoint and transport, registrations, calls, and
    their metrics; the local phones of console.conf; then the manager interface (when
    manager.conf enables it); each registers what a reload changes."""
    engine = _dialplan_engine(paths, files, store)
    engine.services.events = events
    register_dialplan_commands(registry, engine)
    keys = files.keys
    set_system_name(config.general.systemname)
    realtime = RealtimeService(files.realtime, config.general, store,
                               initiated_seconds=files.cdr.initiatedseconds) \
        if files.realtime.enabled else None
    if realtime is not None:
        engine.plan.runtime.switches = realtime.switches
    iax = IaxService(config, events=events)
    registrations = RegistrationService(iax, config=config, keys=keys, store=store, engine=engine,
                                        realtime=realtime)
    media = MediaEnv(sound_dirs=paths.sound_dirs, moh=files.moh, events=events)
    cdr_events = CdrEvents(events, files.cdr.initiatedseconds)
    sinks: tuple[CdrSink, ...] = (store,) if realtime is None else (store, realtime.writer)
    cdr = CdrRecorder(files.cdr, _csv_log(paths, files.cdr), sinks, store.transaction,
                      notify=(cdr_events,))
    calls = CallService(iax, config=config, keys=keys, store=store, engine=engine,
                        peers=registrations, media_env=media, cdr=cdr,
                        realtime=realtime.accounts if realtime is not None else None)
    node_metrics = NodeMetrics(calls, registrations, started_at=lambda: info.started_at,
                               last_reload=lambda: info.last_reload)
    metrics = MetricsService(node_metrics, config.general.metrics)
    phones = None
    if files.console.phones:
        phones = PhoneService(files.console, engine=engine, dialer=calls.dialer, store=store,
                              state_dir=paths.state, media_env=media,
                              indications=files.indications, cdr=cdr)
        calls.channel_sources.append(phones)
        if phones.boxes:
            node_metrics.registry.register(PhoneBoxCollector(phones.boxes))
    # The console shows what is in force, which a reload changes.
    register_iax2_commands(registry, lambda: calls.config)
    register_keys_commands(registry, lambda: calls.keys)

    def apply_iax(loaded: LoadedFiles) -> list[str]:
        new = loaded.config
        assert new is not None  # read without errors
        try:
            added, removed = iax.reconfigure(new)
        except BindError as exc:
            raise ReloadError([f"{new.path}: error: bindaddr: {exc}"]) from exc
        calls.reconfigure(new, loaded.keys)
        return [*registrations.reconfigure(new, loaded.keys),
                *metrics.reconfigure(new.general.metrics),
                f"users: {len(new.users)}, RSA keys: {len(loaded.keys.names())}",
                *(f"listening on {format_address(a)}" for a in added),
                *(f"no longer listening on {format_address(a)}" for a in removed)]

    def apply_dialplan(loaded: LoadedFiles) -> list[str]:
        if loaded.dialplan is None:
            return [f"{paths.extensions} missing: the running dialplan stays"]
        engine.reload(loaded.dialplan)
        return [f"extensions: {loaded.extension_count}"]

    def apply_moh(loaded: LoadedFiles) -> list[str]:
        media.moh = loaded.moh
        return []

    def apply_indications(loaded: LoadedFiles) -> list[str]:
        engine.services.indications = loaded.indications
        if phones is not None:
            phones.indications = loaded.indications
        return []

    def apply_cdr(loaded: LoadedFiles) -> list[str]:
        cdr.post_waiting()  # a batch of the old configuration
        cdr.config, cdr.csv = loaded.cdr, _csv_log(paths, loaded.cdr)
        cdr_events.initiated_seconds = loaded.cdr.initiatedseconds
        return []

    def apply_logger(loaded: LoadedFiles) -> list[str]:
        problems = logchannels.apply_channels(loaded.logger)
        if problems:
            raise ReloadError(problems)
        return [f"log channels: {len(loaded.logger.channels)}"]

    manager = None
    if files.manager.enabled:
        async def manager_reload(module: str | None) -> str | None:
            result = await reloader.reload(module)
            if not result.found:
                return "No such module"
            return None if result.ok else "An unknown error occurred"

        manager = ManagerService(files.manager, events, ManagerContext(
            engine, registry, store, reload=manager_reload, request_stop=request_stop,
            iax=IaxView(registrations.peer_rows, registrations.registry_rows,
                        lambda: netstats_rows(calls)),
            cdr_enabled=lambda: cdr.config.enable, realtime_enabled=realtime is not None))

    def apply_manager(loaded: LoadedFiles) -> list[str]:
        if manager is not None:
            return manager.reconfigure(loaded.manager)
        return ["manager: enabled at the next start"] if loaded.manager.enabled else []

    def apply_console(loaded: LoadedFiles) -> list[str]:
        if phones is not None:
            return phones.reconfigure(loaded.console)
        return ["local phones: at the next start"] if loaded.console.phones else []

    for part, applier in ((Part.IAX, apply_iax), (Part.DIALPLAN, apply_dialplan),
                          (Part.MOH, apply_moh), (Part.INDICATIONS, apply_indications),
                          (Part.CDR, apply_cdr), (Part.LOGGER, apply_logger),
                          (Part.MANAGER, apply_manager), (Part.CONSOLE, apply_console)):
        reloader.add(part, applier)
    # Started before the services whose calls make records, stopped after them.
    services: list[Service] = [iax, registrations, CdrBatches(cdr), calls, metrics]
    if phones is not None:
        services.append(phones)
    if manager is not None:
        services.append(manager)
    # First to start: the others look accounts up and queue writes through it.
    return [realtime, *services] if realtime is not None else services


def _csv_log(paths: NodePaths, config: CdrConfig) -> CsvCdrLog | None:
    return CsvCdrLog(paths.state / "cdr-csv", config) if config.csv else None


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
    services: list[Service], banner: list[str], signals: AsyncIterator[int], stop: trio.Event,
    reloader: Reloader, events: EventBus,
) -> None:
    async with trio.open_nursery() as nursery:
        running = [await nursery.start(_run_service, service) for service in services]
        # Signals that came during start-up wait until here: a reload needs the services.
        nursery.start_soon(_on_signals, signals, stop, reloader, nursery)
        for line in banner:
            log.notice(line)
        log.notice("pbxedge Ready.")
        events.publish(FullyBooted())
        sdnotify.ready()
        await stop.wait()
        log.notice("pbxedge shutting down")
        sdnotify.stopping()
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
