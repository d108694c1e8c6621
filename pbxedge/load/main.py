"""``pbxedge load``: the command line, the run (one process, or K worker processes), the live
display, and the exit status.

A run always ends: when its scenarios are done, when ``--duration`` is over, or at Ctrl-C;
calls still up are then hung up, and the summary is printed all the same. The exit status is
0 when at most ``--max-failed`` operations failed, 1 otherwise, 2 for a usage error.

With ``--procs K`` the parent starts K copies of itself (``--worker I/K``), each with its
share of every scenario (a K-th of the count, the rate and the concurrency; every K-th peer
name); they report progress and their records as JSON lines on stdout, and the parent
merges them, samples ``--target-pid`` and draws the display.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import trio
from rich.console import Console
from rich.live import Live
from rich.table import Table

from pbxedge.iax2.codecs import UnknownCodecError, codec_by_name
from pbxedge.load.agent import Account, CallAgent
from pbxedge.load.audio import AudioSource, Expectation
from pbxedge.load.report import (
    LABELS,
    ProcessSample,
    plot,
    sample_process,
    summarise,
    summary_table,
)
from pbxedge.load.scenarios import (
    CallsScenario,
    FloodScenario,
    PokeScenario,
    Record,
    RegisterScenario,
    Scenario,
    Tally,
    expand_names,
    run_scenario,
)

__all__ = ["main"]

DEFAULT_PORT = 4569
DEFAULT_DURATION = 60.0
_SAMPLE_EVERY = 1.0
_DISPLAY_EVERY = 0.5
_STOP_GRACE = 2.0  # after a stop, for HANGUPs to be acknowledged
_KINDS = ("calls", "register", "poke", "flood")


class UsageError(ValueError):
    pass


# -- arguments ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pbxedge load",
        description="Load an IAX2 server (pbxedge, Asterisk…) with calls, registrations, "
                    "POKEs or token-less NEWs, and measure what it does.",
        epilog="examples:\n"
               "  pbxedge load calls 127.0.0.1 --exten 600 -n 100 -c 20 -r 10 --hold 5 "
               "--user load --secret s --media tone:440 --expect echo\n"
               "  pbxedge load register 127.0.0.1:4569 --user 'p{1..500}' --secret s -r 50 "
               "--duration 30\n"
               "  pbxedge load --scenario mix.toml 127.0.0.1 --target-pid $(pidof pbxedge)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", nargs="?", metavar="{calls,register,poke,flood}",
                        help="what to do (or --scenario FILE)")
    parser.add_argument("target", nargs="?", help="HOST[:PORT] of the server (port 4569)")
    parser.add_argument("--scenario", type=Path, metavar="FILE",
                        help="a TOML file of [[scenario]] tables run together (a mix)")
    parser.add_argument("-n", "--count", type=int, default=1, help="calls, pokes or NEWs in all")
    parser.add_argument("-c", "--concurrent", type=int, help="calls up at most at once (-n)")
    parser.add_argument("-r", "--rate", type=float, default=10.0, help="started a second")
    parser.add_argument("--hold", type=float, default=0.0, help="seconds each call stays up")
    parser.add_argument("--exten", default="s", help="number to call")
    parser.add_argument("--context", help="CONTEXT IE of the NEW")
    parser.add_argument("--user", help="USERNAME; for register a pattern such as 'p{1..N}'")
    parser.add_argument("--secret", help="secret for MD5 (or plaintext) authentication")
    parser.add_argument("--key", type=Path, help="RSA private key (PEM) for RSA authentication")
    parser.add_argument("--codec", default="ulaw", help="codec offered and sent (ulaw)")
    parser.add_argument("--encrypt", action="store_true", help="ask for AES encryption")
    parser.add_argument("--media", default="none",
                        help="audio sent on answered calls: tone:HZ, chirp, silence, "
                             "wav:FILE or none")
    parser.add_argument("--expect", help="check what comes back: echo, tone:HZ or silence")
    parser.add_argument("--late-ms", type=float, default=60.0,
                        help="a frame this much behind its time counts as late (60)")
    parser.add_argument("--refresh", type=int, default=60, help="REFRESH asked for (60)")
    parser.add_argument("--reregister", type=float,
                        help="seconds between registrations of a peer (5/6 of the grant)")
    parser.add_argument("--timeout", type=float, help="seconds to wait for an answer")
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION,
                        help=f"stop after this many seconds ({DEFAULT_DURATION:g})")
    parser.add_argument("--procs", type=int, default=1, help="spread the load over K processes")
    parser.add_argument("--target-pid", type=int, help="sample this process's CPU and memory")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    parser.add_argument("--plot", type=Path, metavar="FILE.png",
                        help="plot calls, setup time and loss over time")
    parser.add_argument("--max-failed", type=int, default=0,
                        help="exit 0 only if at most this many operations failed (0)")
    parser.add_argument("--bind", default="127.0.0.1", help="local address (127.0.0.1)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no live display")
    parser.add_argument("--seed", type=int, help="seed of call numbers and challenges")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser


def parse_target(text: str) -> tuple[str, int]:
    host, port = text, DEFAULT_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    if host == "localhost":
        host = "127.0.0.1"
    return host, port


def _codec(name: str) -> int:
    try:
        return int(codec_by_name(name))
    except UnknownCodecError:
        raise UsageError(f"unknown codec {name!r}") from None


def _scenario(kind: str, target: tuple[str, int], opts: dict[str, Any]) -> Scenario:
    """One scenario from option values (command line or a TOML table)."""
    def get(name: str, default: Any = None) -> Any:
        value = opts.get(name)
        return default if value is None else value

    count = int(get("count", 1))
    rate = float(get("rate", 10.0))
    if count < 1 or rate <= 0:
        raise UsageError("count must be at least 1 and rate more than 0")
    key = Path(opts["key"]) if opts.get("key") else None
    if kind == "calls":
        media = get("media", "none")
        expect = opts.get("expect")
        try:
            source = None if media == "none" else AudioSource.parse(media)
            expectation = Expectation.parse(expect) if expect else None
        except (ValueError, OSError) as exc:
            raise UsageError(str(exc)) from None
        if expectation is not None and expectation.kind == "echo" and source is None:
            raise UsageError("--expect echo needs --media: nothing is sent to echo")
        account = Account(username=opts.get("user"), secret=opts.get("secret"), key_file=key,
                          encryption=bool(get("encrypt", False)))
        return CallsScenario(target, str(get("exten", "s")), count,
                             opts.get("concurrent"), rate, float(get("hold", 0.0)), account,
                             _codec(get("codec", "ulaw")), source, expectation,
                             opts.get("context"), float(get("timeout", 10.0)),
                             float(get("late_ms", 60.0)))
    if kind == "register":
        user = opts.get("user")
        if not user:
            raise UsageError("register needs --user NAME or a pattern such as 'p{1..100}'")
        try:
            users = expand_names(str(user))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return RegisterScenario(target, users, opts.get("secret"), key, rate,
                                int(get("refresh", 60)), opts.get("reregister"),
                                float(get("timeout", 10.0)))
    if kind == "poke":
        return PokeScenario(target, count, rate, float(get("timeout", 5.0)))
    if kind == "flood":
        return FloodScenario(target, count, rate, str(get("exten", "s")), opts.get("user"),
                             float(get("timeout", 2.0)))
    raise UsageError(f"unknown scenario type {kind!r} ({', '.join(_KINDS)})")


def build_scenarios(args: argparse.Namespace) -> tuple[list[Scenario], float]:
    """The scenarios of the command line or of ``--scenario``, and the duration bound."""
    duration = args.duration
    cli = {k.replace("-", "_"): v for k, v in vars(args).items()}
    if args.scenario is None:
        if args.kind not in _KINDS or args.target is None:
            raise UsageError("give a scenario (calls, register, poke, flood) and a target, "
                             "or --scenario FILE")
        return [_scenario(args.kind, parse_target(args.target), cli)], duration
    try:
        document = tomllib.loads(args.scenario.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{args.scenario}: {exc}") from None
    target_text = args.target or args.kind or document.get("target")
    if not target_text:
        raise UsageError(f"{args.scenario}: no target (give one on the command line or "
                         "target = \"HOST:PORT\")")
    duration = float(document.get("duration", duration))
    tables = document.get("scenario", [])
    if not tables:
        raise UsageError(f"{args.scenario}: no [[scenario]] table")
    scenarios = []
    for number, table in enumerate(tables, 1):
        kind = table.get("type")
        opts = {k.replace("-", "_"): v for k, v in table.items() if k != "type"}
        try:
            target = parse_target(str(opts.pop("target", target_text)))
            scenarios.append(_scenario(str(kind), target, opts))
        except UsageError as exc:
            raise UsageError(f"{args.scenario}: scenario {number}: {exc}") from None
    return scenarios, duration


def share(scenario: Scenario, index: int, workers: int) -> Scenario | None:
    """Worker *index*'s part of *scenario* (None when it has nothing to do)."""
    def part(total: int) -> int:
        return total // workers + (1 if index < total % workers else 0)

    rate = scenario.rate / workers
    if isinstance(scenario, RegisterScenario):
        users = scenario.users[index::workers]
        return replace(scenario, users=users, rate=rate) if users else None
    count = part(scenario.count)
    if not count:
        return None
    if isinstance(scenario, CallsScenario):
        concurrent = None if scenario.concurrent is None else max(
            1, math.ceil(scenario.concurrent / workers))
        return replace(scenario, count=count, rate=rate, concurrent=concurrent)
    return replace(scenario, count=count, rate=rate)


# -- one process ----------------------------------------------------------------------------


@dataclass
class Progress:
    """Counters for the live display (one process's, or the sum of the workers')."""

    attempted: Counter[str] = field(default_factory=Counter)
    in_progress: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    frames_sent: int = 0
    frames_received: int = 0

    @classmethod
    def of(cls, tally: Tally) -> Progress:
        ok: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        for record in tally.records:
            if record.ok:
                ok[record.kind] += 1
            elif record.outcome != "stopped":
                failed[record.kind] += 1
        return cls(Counter(tally.attempted), Counter(tally.in_progress), ok, failed,
                   tally.frames_sent, tally.frames_received)

    def to_json(self) -> dict[str, object]:
        return {"attempted": dict(self.attempted), "in_progress": dict(self.in_progress),
                "ok": dict(self.ok), "failed": dict(self.failed),
                "frames_sent": self.frames_sent, "frames_received": self.frames_received}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        return cls(Counter(data["attempted"]), Counter(data["in_progress"]),
                   Counter(data["ok"]), Counter(data["failed"]), int(data["frames_sent"]),
                   int(data["frames_received"]))

    def __add__(self, other: Progress) -> Progress:
        return Progress(self.attempted + other.attempted, self.in_progress + other.in_progress,
                        self.ok + other.ok, self.failed + other.failed,
                        self.frames_sent + other.frames_sent,
                        self.frames_received + other.frames_received)


@dataclass
class RunResult:
    records: list[Record]
    timeline: list[dict[str, float]]
    cpu_s: float
    interrupted: bool


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


async def run_scenarios(scenarios: Sequence[Scenario], duration: float, *, bind: str = "127.0.0.1",
                        seed: int | None = None,
                        on_progress: Callable[[Progress, float], None] | None = None,
                        stop: trio.Event | None = None) -> RunResult:
    """Run *scenarios* together in this process until done, *duration*, or *stop*."""
    cpu_before = _own_cpu()
    stop = trio.Event() if stop is None else stop
    tally = Tally(trio.current_time())
    timeline: list[dict[str, float]] = []
    interrupted = False
    async with trio.open_nursery() as outer:
        agent = CallAgent((bind, 0), seed=seed)
        await outer.start(agent.run)

        async def sample() -> None:
            while True:
                await trio.sleep(_SAMPLE_EVERY)
                point = {"t": round(tally.since_start(trio.current_time()), 3)}
                point.update({k: float(v) for k, v in tally.in_progress.items()})
                timeline.append(point)

        async def report() -> None:
            while on_progress is not None:
                await trio.sleep(_DISPLAY_EVERY)
                on_progress(Progress.of(tally), tally.since_start(trio.current_time()))

        async def watch_stop(scope: trio.CancelScope) -> None:
            nonlocal interrupted
            await stop.wait()
            interrupted = True
            scope.cancel()

        outer.start_soon(sample)
        outer.start_soon(report)
        with trio.move_on_after(duration) as scope:
            async with trio.open_nursery() as work:
                work.start_soon(watch_stop, scope)
                async with trio.open_nursery() as scenarios_nursery:
                    for scenario in scenarios:
                        scenarios_nursery.start_soon(run_scenario, scenario, agent, tally)
                work.cancel_scope.cancel()
        # What was cut short has sent its HANGUP; give the far end a moment to ACK it.
        with trio.move_on_after(_STOP_GRACE):
            while agent.endpoint.ending_calls():
                await trio.sleep(0.05)
        if on_progress is not None:
            on_progress(Progress.of(tally), tally.since_start(trio.current_time()))
        outer.cancel_scope.cancel()
    return RunResult(tally.records, timeline, _own_cpu() - cpu_before, interrupted)


async def _stop_on_signals(stop: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            stop.set()


# -- the display ----------------------------------------------------------------------------


class Display:
    """The live view: per kind of operation, attempted / in progress / succeeded / failed."""

    def __init__(self, target_pid: int | None) -> None:
        self.target_pid = target_pid
        self.progress = Progress()
        self.elapsed = 0.0
        self.target: ProcessSample | None = None
        self.target_start: ProcessSample | None = None

    def update(self, progress: Progress, elapsed: float) -> None:
        self.progress, self.elapsed = progress, elapsed

    def __rich__(self) -> Table:
        p = self.progress
        table = Table(title=f"pbxedge load  {self.elapsed:6.1f} s", title_justify="left")
        for column in ("", "attempted", "in progress", "succeeded", "failed", "per second"):
            table.add_column(column, justify="right")
        for kind, label in LABELS.items():
            if not p.attempted[kind]:
                continue
            rate = p.ok[kind] / self.elapsed if self.elapsed > 0 else 0.0
            table.add_row(label, str(p.attempted[kind]), str(p.in_progress[kind]),
                          str(p.ok[kind]), str(p.failed[kind]), f"{rate:,.1f}")
        caption = f"frames sent {p.frames_sent:,}  received {p.frames_received:,}"
        if self.target is not None and self.target_start is not None and self.elapsed > 0:
            cpu = self.target.cpu_s - self.target_start.cpu_s
            caption += (f"\ntarget {self.target_pid}: {100 * cpu / self.elapsed:.1f} % CPU, "
                        f"RSS {self.target.rss_kib:,} KiB")
        table.caption = caption
        return table


# -- orchestration --------------------------------------------------------------------------


@dataclass
class _TargetWatch:
    pid: int | None
    before: ProcessSample | None = None
    after: ProcessSample | None = None
    peak_kib: int = 0

    def take(self) -> ProcessSample | None:
        if self.pid is None:
            return None
        sample = sample_process(self.pid)
        if sample is not None:
            self.peak_kib = max(self.peak_kib, sample.rss_kib)
            if self.before is None:
                self.before = sample
            self.after = sample
        return sample

    async def run(self, display: Display | None) -> None:
        while True:
            sample = self.take()
            if display is not None:
                display.target, display.target_start = sample, self.before
            await trio.sleep(_SAMPLE_EVERY / 4)


async def _run_workers(argv: list[str], workers: int,
                       on_progress: Callable[[Progress, float], None],
                       stop: trio.Event) -> RunResult:
    """K copies of this command as workers; their JSON lines merged. *stop* (Ctrl-C or a
    SIGTERM to this process alone) is passed on to them as SIGINT."""
    progress = [Progress() for _ in range(workers)]
    processes: list[trio.Process] = []
    results: list[dict[str, Any]] = [{} for _ in range(workers)]
    started = trio.current_time()

    async def worker(index: int) -> None:
        command = [sys.executable, "-m", "pbxedge", "load", *argv,
                   "--worker", f"{index}/{workers}"]
        process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
        processes.append(process)
        assert process.stdout is not None
        buffer = b""
        try:
            async for chunk in process.stdout:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    message = json.loads(line)
                    if "progress" in message:
                        progress[index] = Progress.from_json(message["progress"])
                        total = sum(progress[1:], progress[0])
                        on_progress(total, trio.current_time() - started)
                    else:
                        results[index] = message
        finally:
            await process.wait()

    async def pass_stop() -> None:
        await stop.wait()
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGINT)

    with trio.CancelScope(shield=True):
        # Each worker stops on SIGINT and still reports what it did.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pass_stop)
            async with trio.open_nursery() as running:
                for index in range(workers):
                    running.start_soon(worker, index)
            nursery.cancel_scope.cancel()
    records = [Record(**r) for result in results for r in result.get("records", [])]
    timeline: dict[float, dict[str, float]] = {}
    for result in results:
        for point in result.get("timeline", []):
            merged = timeline.setdefault(round(point["t"]), {"t": float(round(point["t"]))})
            for key, value in point.items():
                if key != "t":
                    merged[key] = merged.get(key, 0.0) + value
    return RunResult(records, [timeline[t] for t in sorted(timeline)],
                     sum(float(r.get("cpu_s", 0.0)) for r in results),
                     any(r.get("interrupted") for r in results))


async def _worker_main(scenarios: list[Scenario], duration: float, args: argparse.Namespace,
                       index: int, workers: int) -> int:
    mine = [s for s in (share(s, index, workers) for s in scenarios) if s is not None]

    def emit(message: dict[str, object]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signals, stop)
        result = await run_scenarios(
            mine, duration, bind=args.bind,
            seed=None if args.seed is None else args.seed + index,
            on_progress=lambda p, _t: emit({"progress": p.to_json()}), stop=stop)
        nursery.cancel_scope.cancel()
    emit({"records": [asdict(r) for r in result.records], "timeline": result.timeline,
          "cpu_s": result.cpu_s, "interrupted": result.interrupted})
    return 0


async def _main(args: argparse.Namespace, argv: list[str], scenarios: list[Scenario],
                duration: float) -> int:
    console = Console(stderr=True)
    display = Display(args.target_pid)
    watch = _TargetWatch(args.target_pid)
    if args.target_pid is not None and watch.take() is None:
        raise UsageError(f"no process {args.target_pid} to sample")
    live = not args.quiet and console.is_terminal
    stop = trio.Event()
    started = trio.current_time()
    with Live(display, console=console, refresh_per_second=4, transient=False) if live \
            else contextlib.nullcontext():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_signals, stop)
            nursery.start_soon(watch.run, display if live else None)
            if args.procs > 1:
                result = await _run_workers(_worker_argv(argv), args.procs, display.update,
                                            stop)
            else:
                result = await run_scenarios(scenarios, duration, bind=args.bind,
                                             seed=args.seed, on_progress=display.update,
                                             stop=stop)
            watch.take()
            nursery.cancel_scope.cancel()
    elapsed = trio.current_time() - started
    summary = summarise(result.records, elapsed, tool_cpu_s=result.cpu_s, procs=args.procs,
                        target_pid=args.target_pid, target_before=watch.before,
                        target_after=watch.after, target_peak_kib=watch.peak_kib)
    out = Console()
    table, lines = summary_table(summary)
    out.print(table)
    for line in lines:
        out.print(line, highlight=False)
    if result.interrupted:
        out.print("stopped before the end (Ctrl-C)")
    if args.json is not None:
        document = {"summary": summary.to_json(), "timeline": result.timeline,
                    "records": [r.to_json() for r in result.records],
                    "interrupted": result.interrupted}
        args.json.write_text(json.dumps(document, indent=1) + "\n")
    if args.plot is not None:
        plot(result.records, result.timeline, args.plot)
    return 0 if summary.failed <= args.max_failed else 1


def _worker_argv(argv: list[str]) -> list[str]:
    """The command line minus what only the parent does (display, files, sampling)."""
    dropped_with_value = {"--procs", "--json", "--plot", "--target-pid", "--max-failed"}
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in dropped_with_value:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.procs < 1:
            raise UsageError("--procs must be at least 1")
        scenarios, duration = build_scenarios(args)
        if not duration > 0:
            raise UsageError("--duration must be more than 0")
        if args.worker is not None:
            index, _, workers = args.worker.partition("/")
            return trio.run(_worker_main, scenarios, duration, args, int(index), int(workers))
        return trio.run(_main, args, argv, scenarios, duration)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"pbxedge load: error: {exc}", file=sys.stderr)
        return 2

