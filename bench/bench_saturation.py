"""Registrations and call setups per second of one core, with the node's core kept busy.

The ``load`` section drives a node at set rates, where it wakes up for a few datagrams at a
time and each wake-up costs more than the datagrams (its floor lines). "Per second of one
core" is the other end: the node pinned to one core and ``bench.saturation_driver`` on the
other, keeping exchanges in flight so the node always has datagrams waiting. A registration
round finishes more registrations than the node has call numbers (16 382): it only goes on
because a settled dialog's number comes back after 2 s rather than Asterisk's 60. That makes
8 000 dialogs a second the most any node can finish (16 000 for the driver's address here),
and the compiled core comes close: registrations start at most 7 000 a second, and the node's
CPU per registration is its CPU time over the registrations done, busy or not. The call
setups run twice: with cdr.conf's default (the records of the calls that ended in one
scheduler pass in one database transaction) and with ``batch=yes`` (Asterisk's batch mode: up
to ``size`` records per transaction).

On a shared virtual machine rounds differ by up to ±15 %, with or without steal time (each
round prints the share of the machine's CPU time the hypervisor gave to other guests), so
the section prints each round and the median.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_load import B_EXTENSIONS, PEERS, _b_conf, _free_port, _Node
from pbxedge.control.client import ControlClient

ROUNDS = 3
SECONDS = 8.0
WINDOW = 200  # exchanges in flight
_RUN_LIMIT = 60.0
# What each driver does, the most it starts a second (0: no limit), and the goal: per
# second of one core, µs each.
_KINDS = {
    "register": ("MD5 registrations with call tokens, stored", 7000, 5000, 200),
    "calls": ("MD5 call setups with call tokens (Answer, Hangup, CDR)", 0, 3000, 300),
}


def _rounds(kind: str, port: int, node: _Node, driver_prefix: list[str],
            setting: str = "") -> list[str]:
    what, rate, goal, goal_us = _KINDS[kind]
    limit = f", at most {rate:,} started a second" if rate else ""
    lines = [f"{what}{setting}, {WINDOW} in flight{limit}:"]
    per_op: list[float] = []
    for round_no in range(1, ROUNDS + 1):
        result = subprocess.run(
            [*driver_prefix, sys.executable, "-m", "bench.saturation_driver", kind,
             "127.0.0.1", str(port), str(WINDOW), str(SECONDS), str(node.pid), str(rate)],
            capture_output=True, text=True, timeout=_RUN_LIMIT, check=True)
        figures = json.loads(result.stdout)
        per_op.append(figures["node_us_each"])
        lines.append(
            f"  round {round_no}: {figures['per_second']:,.0f}/s, node "
            f"{figures['node_cpu_share'] * 100:.0f} % of its core, "
            f"{figures['node_us_each']:.0f} µs each; {figures['done']:,} in "
            f"{SECONDS:.0f} s, {figures['refused']} refused, {figures['restarted']} restarted; "
            f"the driver used {figures['driver_cpu_share'] * 100:.0f} % of its core; steal "
            f"{figures['machine_steal_share'] * 100:.0f} %")
    median = statistics.median(per_op)
    lines.append(f"  median {median:.0f} µs of node CPU each -> {1e6 / median:,.0f} per second "
                 f"of one core (goal {goal:,}, ≤ {goal_us} µs)")
    return lines


def run() -> list[str]:
    port = _free_port()
    with (tempfile.TemporaryDirectory(prefix="pbx-bench-sat-", ignore_cleanup_errors=True) as tmp,
          _Node(Path(tmp) / "b", _b_conf(port, _free_port()), B_EXTENSIONS) as node):
        cores = sorted(os.sched_getaffinity(0))
        lines = [f"node B of the load section ({PEERS} MD5 peers, an MD5 user)"]
        driver_prefix: list[str] = []
        if len(cores) >= 2 and shutil.which("taskset"):
            os.sched_setaffinity(node.pid, {cores[0]})
            driver_prefix = ["taskset", "-c", str(cores[1])]
            lines[0] += f", pinned to core {cores[0]}; the driver on core {cores[1]}"
        lines += _rounds("register", port, node, driver_prefix)
        lines += _rounds("calls", port, node, driver_prefix)
        # Asterisk's CDR batch mode: the database rows of many calls in one transaction
        # (Master.csv, when written, still gets each line at the hangup).
        (node.folder / "cdr.conf").write_text("[general]\nenable = yes\nbatch = yes\n")
        with ControlClient(node.folder / "var" / "pbxedge.ctl", timeout=5.0) as client:
            client.execute("module reload cdr")
        return lines + _rounds("calls", port, node, driver_prefix, " (cdr.conf batch=yes)")

if __name__ == "__main__":
    for line in run():
        print(line)
