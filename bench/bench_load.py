"""Capacity of a real node, measured with ``pbxedge load``: node CPU per operation (from
``/proc``), the per-core capacity that follows, and memory per registered peer and per call.

Node B (the one measured) has 2000 MD5 peers and an MD5 user; node A answers with ``Echo``.
Three runs against B, each a ``pbxedge load`` process:

- registrations: every peer registers with MD5 and call tokens, and keeps refreshing;
- bridged calls: 200 µ-law calls that B dials on to A's Echo (B relays the audio), held
  while B's CPU and memory are sampled; the load tool checks the echo, its loss and delay;
- call setups: MD5 calls answered and hung up at once by the dialplan.

Each figure is followed by the transport floor at the same packet rate: what a node that
does nothing but echo datagrams (``bench.echo_floor``) spends for as many datagrams as the
operation moved (for the bridged calls, in bursts once per frame time, as the load tool
sends them). At these rates a node wakes up for a few datagrams at a time, and each
wake-up (epoll, trio's scheduler, caches gone cold) costs several times what the datagram
costs in a busy loop: that share is the machine's and trio's, not the node's work.

The figures vary with the machine and with what else runs on it: they are what this run
measured, not limits checked here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.echo_floor import floor
from pbxedge.control.client import ControlClient, NotRunningError

PEERS = 2000
REG_RATE = 1500
REG_SECONDS = 6
SETUPS = 3000
SETUP_RATE = 500
BRIDGED = 200
BRIDGE_RATE = 50
HOLD = 24.0
SAMPLE_AFTER = 8.0  # seconds into the bridged run: every call is up by then
SAMPLE_FOR = 10.0
_TICKS = 100
_STARTUP_LIMIT = 60.0
_RUN_LIMIT = 180.0


def _b_conf(port: int, a_port: int) -> str:
    peers = "".join(f"[p{n}](peer)\n" for n in range(1, PEERS + 1))
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
minregexpire = 60
maxregexpire = 3600
maxcallnumbers = 16000
[callnumberlimits]
127.0.0.0/255.0.0.0 = 16000
[load]
type = user
secret = s3cret
auth = md5
context = load
maxauthreq = 0
[a]
type = peer
host = 127.0.0.1
port = {a_port}
username = bnode
disallow = all
allow = ulaw
[peer](!)
type = friend
host = dynamic
secret = s3cret
auth = md5
context = load
{peers}"""


B_EXTENSIONS = """[load]
exten => 600,1,Dial(IAX2/a/800)
 same => n,Hangup()
exten => 601,1,Answer()
 same => n,Hangup()
"""


def _a_conf(port: int) -> str:
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
maxcallnumbers = 16000
[callnumberlimits]
127.0.0.0/255.0.0.0 = 16000
[bnode]
type = user
context = echo
requirecalltoken = no
"""


A_EXTENSIONS = "[echo]\nexten => 800,1,Answer()\n same => n,Echo()\n"


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Node:
    def __init__(self, folder: Path, conf: str, extensions: str) -> None:
        folder.mkdir(parents=True)
        (folder / "iax.conf").write_text(conf)
        (folder / "extensions.conf").write_text(extensions)
        (folder / "cdr.conf").write_text("[general]\nenable = yes\n")
        self.folder = folder
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pbxedge", "-c", str(folder / "iax.conf"),
             "--state", str(folder / "var")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=(folder / "stderr").open("wb"))
        deadline = time.monotonic() + _STARTUP_LIMIT
        while True:
            try:
                with ControlClient(folder / "var" / "pbxedge.ctl", timeout=5.0) as client:
                    client.execute("core show uptime")
                    return
            except NotRunningError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    log = (folder / "stderr").read_text()
                    raise RuntimeError(f"node did not start: {log}") from None
                time.sleep(0.1)

    @property
    def pid(self) -> int:
        return self.process.pid

    def sample(self) -> tuple[float, int]:
        """CPU seconds and RSS (KiB) of the node."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        rss = int(fields[21]) * 4
        return (int(fields[11]) + int(fields[12])) / _TICKS, rss

    def datagrams(self) -> int:
        """Datagrams the node has received and sent (``iax2 show stats``)."""
        with ControlClient(self.folder / "var" / "pbxedge.ctl", timeout=5.0) as client:
            stats = client.execute("iax2 show stats")
        found = re.search(r"Datagrams: (\d+) received, (\d+) sent", stats)
        assert found is not None, stats
        return int(found[1]) + int(found[2])

    def __enter__(self) -> _Node:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _load(args: list[str], json_file: Path) -> dict[str, Any]:
    subprocess.run([sys.executable, "-m", "pbxedge", "load", *args, "-q", "--json",
                    str(json_file)], capture_output=True, timeout=_RUN_LIMIT, check=False)
    document: dict[str, Any] = json.loads(json_file.read_text())
    return document


def _kind(document: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = document["summary"]["kinds"][kind]
    return found


def _per_op(document: dict[str, Any], kind: str) -> float:
    us: float = document["summary"]["target"]["cpu_us_per_op"][kind]
    return us


def _floor(datagrams: int, seconds: float, burst: float | None = None) -> tuple[str, float]:
    """The transport floor for *datagrams* moved in *seconds*, evenly or in bursts *burst*
    seconds apart: a description, and the CPU µs the do-nothing node spends on as many."""
    echoes = datagrams / 2  # an echo is one datagram in and one out
    if burst is None:
        per_echo, how = floor(echoes / seconds), ""
    else:
        per_echo = floor(echoes / seconds, burst=burst)
        how = f" in bursts {burst * 1e3:.0f} ms apart"
    return (f"  transport floor at this packet rate ({datagrams / seconds:,.0f} datagrams/s"
            f"{how}): a do-nothing node spends {per_echo:.1f} µs per datagram echoed"
            ), per_echo * echoes


def _floor_per_op(datagrams: int, seconds: float, ops: int) -> str:
    text, cpu_us = _floor(datagrams, seconds)
    return f"{text}; {datagrams / ops:.1f} datagrams per operation -> {cpu_us / ops:,.0f} µs"


def _registrations(b: _Node, target: str, work: Path) -> list[str]:
    _, rss_before = b.sample()
    datagrams = b.datagrams()
    started = time.monotonic()
    document = _load(["register", target, "--user", f"p{{1..{PEERS}}}", "--secret", "s3cret",
                      "-r", str(REG_RATE), "--reregister", str(PEERS / REG_RATE),
                      "--duration", str(REG_SECONDS), "--target-pid", str(b.pid)],
                     work / "register.json")
    seconds = time.monotonic() - started
    datagrams = b.datagrams() - datagrams
    time.sleep(1.0)
    _, rss_after = b.sample()
    reg = _kind(document, "register")
    us = _per_op(document, "register")
    return [f"registrations (MD5, call token, stored): {us:,.0f} µs of node CPU each -> "
            f"{1e6 / us:,.0f} per second of one core at this cost (goal 5,000; the saturation "
            f"section keeps a node busy); {reg['ok']:,} done at "
            f"{reg['ok_per_s']:,.0f}/s, {reg['failed']} failed",
            _floor_per_op(datagrams, seconds, reg["ok"]),
            f"memory per registered peer: {(rss_after - rss_before) * 1024 / PEERS / 1024:.1f} "
            f"KiB (RSS growth over {PEERS} peers registering; goal ≤ 20 KiB)"]


def _setups(b: _Node, target: str, work: Path) -> list[str]:
    datagrams = b.datagrams()
    started = time.monotonic()
    document = _load(["calls", target, "--exten", "601", "-n", str(SETUPS), "-c", "300",
                      "-r", str(SETUP_RATE), "--user", "load", "--secret", "s3cret",
                      "--target-pid", str(b.pid)], work / "setups.json")
    seconds = time.monotonic() - started
    datagrams = b.datagrams() - datagrams
    calls = _kind(document, "call")
    us = _per_op(document, "call")
    setup = calls["setup_ms"]
    return [f"call setups (MD5, call token, answer, hangup, CDR): {us:,.0f} µs of node CPU "
            f"each -> {1e6 / us:,.0f} per second of one core at this cost (goal 3,000); "
            f"{calls['ok']:,} at {calls['ok_per_s']:,.0f}/s, {calls['failed']} failed, "
            f"NEW->ACCEPT p50 "
            f"{setup['p50']:.1f} ms p99 {setup['p99']:.1f} ms",
            _floor_per_op(datagrams, seconds, calls["ok"])]


def _bridged(b: _Node, target: str, work: Path) -> list[str]:
    json_file = work / "bridged.json"
    _, rss_idle = b.sample()
    load = subprocess.Popen(
        [sys.executable, "-m", "pbxedge", "load", "calls", target, "--exten", "600",
         "-n", str(BRIDGED), "-r", str(BRIDGE_RATE), "--hold", str(HOLD), "--user", "load",
         "--secret", "s3cret", "--media", "chirp", "--expect", "echo", "--procs", "2", "-q",
         "--json", str(json_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(SAMPLE_AFTER)
        cpu_start, _ = b.sample()
        datagrams = b.datagrams()
        time.sleep(SAMPLE_FOR)
        cpu_end, rss_up = b.sample()
        datagrams = b.datagrams() - datagrams
        load.wait(_RUN_LIMIT)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    calls = _kind(json.loads(json_file.read_text()), "call")
    per_call = 100.0 * (cpu_end - cpu_start) / SAMPLE_FOR / BRIDGED
    # Each load process sends its calls' frames together, once per 20 ms frame time.
    floor_text, floor_us = _floor(datagrams, SAMPLE_FOR, burst=0.020)
    echo, p99 = calls["echo_ms"], calls["echo_p99_ms"]
    return [f"bridged µ-law calls (B relays to A's Echo and back): {per_call:.3f} % of a core "
            f"per call -> {100 / per_call:,.0f} calls per core (goal 1,000, ≤ 0.1 %); "
            f"{calls['ok']} of {BRIDGED} answered and echoed",
            f"  loss in {calls['loss_pct']:.2f} %, out {calls['tx_loss_pct'] or 0:.2f} %; echo "
            f"round trip via B and A: median {echo['p50']:.1f} ms, worst call's p99 "
            f"{p99['max']:.1f} ms; MOS {calls['mos']['mean']:.2f}",
            f"{floor_text} -> {floor_us / 1e4 / SAMPLE_FOR / BRIDGED:.3f} % of a core per call",
            f"memory per bridged call: {(rss_up - rss_idle) / BRIDGED:.1f} KiB (RSS growth "
            f"with {BRIDGED} calls up, two legs each; goal ≤ 50 KiB)"]


def run() -> list[str]:
    a_port, b_port = _free_port(), _free_port()
    with (tempfile.TemporaryDirectory(prefix="pbx-bench-", ignore_cleanup_errors=True) as tmp,
          _Node(Path(tmp) / "a", _a_conf(a_port), A_EXTENSIONS),
          _Node(Path(tmp) / "b", _b_conf(b_port, a_port), B_EXTENSIONS) as b):
        work = Path(tmp)
        target = f"127.0.0.1:{b_port}"
        # Bridged calls before the setups: the memory the setups leave in the heap would
        # hide what the calls take.
        return (_registrations(b, target, work) + _bridged(b, target, work)
                + _setups(b, target, work))


if __name__ == "__main__":
    for line in run():
        print(line)
