"""A real ``pbxedge`` process on a free loopback port with its own state dir."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from pbxedge.control.client import ControlClient, NotRunningError
from pbxedge.load.agent import CallAgent

FIXTURE_DIR = Path(__file__).parent.parent / "control" / "data"
# Generous: only reached when something is broken, never a performance check.
STARTUP_LIMIT_S = 30.0
EXIT_LIMIT_S = 30.0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_pbxedge(
    config: Path, state: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pbxedge -c CONFIG --state STATE ARGS…`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "pbxedge", "-c", str(config), "--state", str(state), *args],
        input=stdin, capture_output=True, text=True, timeout=EXIT_LIMIT_S, check=False,
    )


@dataclass
class RunningNode:
    process: subprocess.Popen[bytes]
    config: Path
    state: Path
    stderr_path: Path
    port: int

    @property
    def socket_path(self) -> Path:
        return self.state / "pbxedge.ctl"

    def pbxedge(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run another ``pbxedge`` against this node's config and state."""
        return run_pbxedge(self.config, self.state, *args, stdin=stdin)

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_exit(self) -> int:
        return self.process.wait(timeout=EXIT_LIMIT_S)


def write_config(folder: Path, port: int) -> Path:
    """The fixture iax.conf on *port*, with the fixture extensions.conf beside it."""
    text = (FIXTURE_DIR / "iax.conf").read_text().replace("bindport = 4570", f"bindport = {port}")
    assert f"bindport = {port}" in text
    config = folder / "iax.conf"
    config.write_text(text)
    shutil.copy(FIXTURE_DIR / "extensions.conf", folder / "extensions.conf")
    return config


def _wait_until_ready(node: RunningNode) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            pytest.fail(f"pbxedge exited with {node.process.returncode}:\n{node.stderr()}")
        try:
            # A reply (not just a connection) proves every service has started: the
            # console is the last one, and the banner is printed before it serves.
            with ControlClient(node.socket_path, timeout=5.0) as client:
                client.execute("core show uptime")
                return
        except NotRunningError:
            time.sleep(0.05)
    pytest.fail(f"pbxedge did not open its control socket:\n{node.stderr()}")


def start_node(folder: Path, config: Path, port: int, *extra_args: str,
               preexec_fn: Callable[[], None] | None = None,
               env: dict[str, str] | None = None) -> RunningNode:
    """*preexec_fn* runs in the child before pbxedge starts (to lower a resource limit);
    *env* adds to the child's environment."""
    state = folder / "var"
    stderr_path = folder / "pbxedge.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "pbxedge", "-c", str(config), "--state", str(state), "-v",
             *extra_args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            preexec_fn=preexec_fn, env={**os.environ, **(env or {})},
        )
    node = RunningNode(process, config, state, stderr_path, port)
    try:
        _wait_until_ready(node)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return node


@pytest.fixture
def node_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    # Short on purpose: the control socket path must fit in 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="pbx-"))
    yield folder
    if request.node.stash.get(CALL_FAILED, False):
        # A failure that does not come back on a rerun is only diagnosable from what the
        # nodes wrote: keep the folder and put their logs in the report.
        print(kept_folder_report(folder))
    else:
        shutil.rmtree(folder, ignore_errors=True)


CALL_FAILED = pytest.StashKey[bool]()
_LOG_TAIL_LINES = 80


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None],
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.when == "call" and report.failed:
        item.stash[CALL_FAILED] = True
    return report


def kept_folder_report(folder: Path) -> str:
    """Where a failed test's folder was kept, and the end of every node's stderr in it."""
    lines = [f"kept {folder}"]
    for log in sorted(folder.rglob("*.stderr")):
        tail = log.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
        lines += [f"--- {log.relative_to(folder)} (last {len(tail)} lines)", *tail]
    return "\n".join(lines)


@pytest.fixture
def running_node(node_dir: Path) -> Iterator[RunningNode]:
    port = free_udp_port()
    node = start_node(node_dir, write_config(node_dir, port), port)
    try:
        yield node
    finally:
        if node.process.poll() is None:
            node.process.send_signal(signal.SIGTERM)
            try:
                node.process.wait(timeout=EXIT_LIMIT_S)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()


@pytest.fixture
async def agent() -> AsyncIterator[CallAgent]:
    """An IAX2 calling agent on a free loopback port, for the test's trio run."""
    async with trio.open_nursery() as nursery:
        caller = CallAgent()
        await nursery.start(caller.run)
        # Voice relayed from a whole trunk datagram comes back as one burst of mini frames.
        caller.transport.sockets[0].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        yield caller
        nursery.cancel_scope.cancel()
