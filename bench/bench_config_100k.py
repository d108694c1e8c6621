"""Loading a 100 000-friend iax.conf: time and memory per account.

Goals: loaded in 10 s at most, 1 KiB per account at most. The file is shaped like a big
deployment: one ``[phone](!)`` template (type=friend, host=dynamic, context, ACL, codecs)
and 100 000 ``[pNNNNNN](phone)`` sections with their own secret and caller ID. Each
friend is two accounts, a user and a peer, as in chan_iax2 (and ``iax2 show users`` /
``iax2 show peers``), so figures are given per friend (per section) and per account.

Every figure comes from a fresh interpreter, so nothing loaded before it skews it:

* RSS growth: the resident set before and after ``load_iax_config`` (``/proc/self/statm``);
  what the OS sees, including memory freed while loading that the allocator keeps;
* kept: bytes still allocated after loading (tracemalloc, in a second run because tracing
  slows loading down).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench.bench_config import HEAD

FRIENDS = 100_000
GOAL_S = 10.0
GOAL_PER_ACCOUNT = 1024
MIB = 1024 * 1024


def _write_config(path: Path, friends: int) -> None:
    lines = [*HEAD, "requirecalltoken=auto", "disallow=all", "allow=ulaw,alaw,gsm"]
    for n in range(friends):
        lines += [f"[p{n:06d}](phone)", f"secret={n * 2654435761 % 2**32:08x}", f'callerid="Phone {n}" <{100000 + n}>']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _child(path: str, trace: bool) -> dict[str, float]:
    # Imported before the first reading, so the modules are not counted.
    from pbxedge.config.diagnostics import Severity
    from pbxedge.config.iax import load_iax_config

    if trace:
        tracemalloc.start()
    rss_before = _rss()
    wall, cpu = time.perf_counter(), time.process_time()
    config, diagnostics = load_iax_config(path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    figures = {
        "wall": wall,
        "cpu": cpu,
        "rss": _rss() - rss_before,
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before,
        "users": len(config.users),
        "peers": len(config.peers),
        "errors": sum(d.severity is Severity.ERROR for d in diagnostics),
    }
    if trace:
        figures["kept"] = tracemalloc.get_traced_memory()[0]
    return figures


def _measure(path: Path, *, trace: bool) -> dict[str, float]:
    argv = [sys.executable, "-m", "bench.bench_config_100k", str(path), *(["--trace"] if trace else [])]
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(argv, cwd=repo, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def _per(total: float, accounts: float) -> str:
    return f"{total / FRIENDS:,.0f} B per friend, {total / accounts:,.0f} B per account"


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "iax.conf"
        _write_config(path, FRIENDS)
        size_mib = path.stat().st_size / MIB
        plain = _measure(path, trace=False)
        traced = _measure(path, trace=True)
    accounts = plain["users"] + plain["peers"]
    return [
        f"iax.conf with {FRIENDS:,} friends ({size_mib:.1f} MiB, one template): loaded in {plain['wall']:.1f} s "
        f"(CPU {plain['cpu']:.1f} s; goal {GOAL_S:.0f} s) -> {plain['users']:,} users, {plain['peers']:,} peers, "
        f"{plain['errors']:.0f} errors",
        f"RSS growth {plain['rss'] / MIB:.0f} MiB (peak {plain['peak'] / MIB:.0f} MiB): "
        f"{_per(plain['rss'], accounts)} (goal {GOAL_PER_ACCOUNT} B per account)",
        f"kept after loading (tracemalloc): {traced['kept'] / MIB:.0f} MiB: {_per(traced['kept'], accounts)}",
    ]


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(json.dumps(_child(sys.argv[1], trace="--trace" in sys.argv[2:])))
    else:
        print("\n".join(run()))
