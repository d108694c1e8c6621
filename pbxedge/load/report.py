"""The figures of a load run: the summary (per kind of operation), its table, the JSON file
and the plot; and the CPU and memory of a process, read from ``/proc``."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from pbxedge.load.scenarios import Record
from pbxedge.load.stats import percentile

__all__ = ["LABELS", "ProcessSample", "Summary", "plot", "sample_process", "summarise", "summary_table"]

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
_NOT_FAILED = {"stopped"}  # cut short by the run's end or Ctrl-C: not the server's fault
LABELS = {"call": "calls", "register": "registrations", "poke": "pokes", "flood": "flood NEWs"}


@dataclass(frozen=True, slots=True)
class ProcessSample:
    cpu_s: float  # user + system since the process started
    rss_kib: int


def sample_process(pid: int) -> ProcessSample | None:
    """CPU time and resident memory of *pid*, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return ProcessSample((int(fields[11]) + int(fields[12])) / _TICKS,
                         int(fields[21]) * _PAGE_KIB)


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"p50": percentile(values, 50) or 0.0, "p95": percentile(values, 95) or 0.0,
            "p99": percentile(values, 99) or 0.0, "max": max(values)}


def _kind_summary(records: list[Record], duration: float) -> dict[str, object]:
    outcomes = Counter(r.outcome for r in records)
    ok = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok and r.outcome not in _NOT_FAILED]
    out: dict[str, object] = {
        "attempted": len(records), "ok": len(ok), "failed": len(failed),
        "outcomes": dict(outcomes), "ok_per_s": len(ok) / duration if duration > 0 else 0.0,
        "setup_ms": _spread([r.setup_ms for r in records if r.setup_ms is not None]),
    }
    causes = Counter(f"{r.cause} {r.cause_text}".strip() for r in failed
                     if r.cause is not None or r.cause_text)
    if causes:
        out["causes"] = dict(causes)
    if records[0].kind != "call":
        return out
    talked = [r for r in records if r.loss_pct is not None]
    lost = sum(r.lost for r in talked)
    expected = lost + sum(r.received for r in talked)
    tx = [r for r in talked if r.tx_loss_pct is not None and r.sent]
    jitter = [r.jitter_ms for r in talked if r.jitter_ms is not None]
    echo = [r.echo_ms for r in talked if r.echo_ms is not None]
    mos = [r.mos for r in talked if r.mos is not None]
    out.update({
        "answer_ms": _spread([r.answer_ms for r in records if r.answer_ms is not None]),
        "frames_sent": sum(r.sent for r in records),
        "frames_received": sum(r.received + r.duplicates for r in records),
        "loss_pct": 100.0 * lost / expected if expected else None,
        "tx_loss_pct": (sum((r.tx_loss_pct or 0.0) * r.sent for r in tx)
                        / sum(r.sent for r in tx)) if tx else None,
        "late": sum(r.late for r in talked),
        "reordered": sum(r.reordered for r in talked),
        "duplicates": sum(r.duplicates for r in talked),
        "late_reordered_dup": " / ".join(str(sum(getattr(r, name) for r in talked))
                                         for name in ("late", "reordered", "duplicates")),
        "jitter_ms": {"mean": sum(jitter) / len(jitter), "max": max(jitter)} if jitter else None,
        "echo_ms": _spread(echo),
        "echo_p99_ms": _spread([r.echo_p99_ms for r in talked if r.echo_p99_ms is not None]),
        "mos": {"mean": sum(mos) / len(mos), "min": min(mos)} if mos else None,
    })
    return out


@dataclass
class Summary:
    duration_s: float
    kinds: dict[str, dict[str, object]]
    failed: int
    tool_cpu_s: float
    procs: int
    target: dict[str, object] | None

    def to_json(self) -> dict[str, object]:
        return {"duration_s": self.duration_s, "failed": self.failed, "kinds": self.kinds,
                "tool": {"cpu_s": self.tool_cpu_s, "procs": self.procs},
                "target": self.target}


def summarise(records: Iterable[Record], duration: float, *, tool_cpu_s: float, procs: int,
              target_pid: int | None, target_before: ProcessSample | None,
              target_after: ProcessSample | None, target_peak_kib: int) -> Summary:
    by_kind: dict[str, list[Record]] = {}
    for record in records:
        by_kind.setdefault(record.kind, []).append(record)
    kinds = {kind: _kind_summary(rs, duration) for kind, rs in by_kind.items()}
    failed = sum(int(k["failed"]) for k in kinds.values())  # type: ignore[call-overload]
    target: dict[str, object] | None = None
    if target_pid is not None and target_before is not None and target_after is not None:
        cpu = target_after.cpu_s - target_before.cpu_s
        per_op = {kind: cpu / int(k["ok"]) * 1e6  # type: ignore[call-overload]
                  for kind, k in kinds.items() if k["ok"]}
        target = {"pid": target_pid, "cpu_s": cpu,
                  "cpu_pct": 100.0 * cpu / duration if duration > 0 else 0.0,
                  "rss_kib_before": target_before.rss_kib, "rss_kib_after": target_after.rss_kib,
                  "rss_kib_peak": target_peak_kib}
        if len(per_op) == 1:
            target["cpu_us_per_op"] = per_op
    return Summary(duration, kinds, failed, tool_cpu_s, procs, target)


def _fmt(value: object, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value}{unit}"


def _spread_text(spread: object) -> str:
    if not isinstance(spread, dict):
        return "-"
    return f"{spread['p50']:.1f} / {spread['p95']:.1f} / {spread['max']:.1f}"


def summary_table(summary: Summary) -> tuple[Table, list[str]]:
    """The table of figures per kind of operation, and the lines about the processes."""
    table = Table(title=f"pbxedge load: {summary.duration_s:.1f} s", show_header=True)
    table.add_column("")
    for kind in summary.kinds:
        table.add_column(LABELS.get(kind, kind), justify="right")
    kinds = list(summary.kinds.values())

    def row(label: str, key: str, render: object = _fmt) -> None:
        if any(key in k and k[key] is not None for k in kinds):
            table.add_row(label, *(render(k.get(key)) if key in k else ""  # type: ignore[operator]
                                   for k in kinds))

    row("attempted", "attempted")
    row("succeeded", "ok")
    row("failed", "failed")
    row("per second", "ok_per_s")
    row("outcomes", "outcomes",
        lambda v: ", ".join(f"{name} {n}" for name, n in v.items()) if v else "-")
    row("causes", "causes",
        lambda v: ", ".join(f"{name}: {n}" for name, n in v.items()) if v else "-")
    row("setup ms p50/p95/max", "setup_ms", _spread_text)
    row("answer ms p50/p95/max", "answer_ms", _spread_text)
    row("frames sent", "frames_sent")
    row("frames received", "frames_received")
    row("loss in %", "loss_pct", lambda v: _fmt(v, " %", 2))
    row("loss out %", "tx_loss_pct", lambda v: _fmt(v, " %", 2))
    row("late / reordered / dup", "late_reordered_dup")
    row("jitter ms mean/max", "jitter_ms",
        lambda v: f"{v['mean']:.2f} / {v['max']:.2f}" if v else "-")
    row("echo ms p50/p95/max", "echo_ms", _spread_text)
    row("echo p99 ms p50/p95/max", "echo_p99_ms", _spread_text)
    row("MOS mean/min", "mos", lambda v: f"{v['mean']:.2f} / {v['min']:.2f}" if v else "-")
    lines = [f"load tool: {summary.tool_cpu_s:.2f} s CPU"
             + (f" in {summary.procs} processes" if summary.procs > 1 else "")]
    target = summary.target
    if target is not None:
        lines.append(f"target pid {target['pid']}: {target['cpu_s']:.2f} s CPU "
                     f"({target['cpu_pct']:.1f} % of a core), RSS {target['rss_kib_before']} "
                     f"-> {target['rss_kib_after']} KiB (peak {target['rss_kib_peak']})")
        per_op = target.get("cpu_us_per_op")
        if isinstance(per_op, dict):
            for kind, us in per_op.items():
                lines.append(f"target CPU per {LABELS.get(kind, kind + 's')[:-1]}: "
                             f"{us:,.0f} µs ({1e6 / us:,.0f} a second per core)")
    return table, lines


def plot(records: list[Record], timeline: list[dict[str, float]], path: Path) -> None:
    """Calls up, setup time and loss over the run, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (up, setup, loss) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    seconds = [point["t"] for point in timeline]
    for kind, label in LABELS.items():
        values = [point.get(kind, 0.0) for point in timeline]
        if any(values):
            up.plot(seconds, values, label=f"{label} in progress")
    up.set_ylabel("in progress")
    up.legend(loc="upper right")
    for kind, label in LABELS.items():
        timed = [(r.start, r.setup_ms) for r in records if r.kind == kind and r.setup_ms]
        if timed:
            setup.scatter(*zip(*timed, strict=True), s=4, label=label)
    setup.set_ylabel("setup ms")
    lossy = [(r.end, r.loss_pct) for r in records if r.loss_pct is not None]
    if lossy:
        loss.scatter(*zip(*lossy, strict=True), s=4, label="received")
    tx = [(r.end, r.tx_loss_pct) for r in records if r.tx_loss_pct is not None]
    if tx:
        loss.scatter(*zip(*tx, strict=True), s=4, label="sent")
    loss.set_ylabel("loss %")
    loss.set_xlabel("seconds")
    if lossy or tx:
        loss.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
