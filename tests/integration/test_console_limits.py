"""A real node whose console is flooded with idle connections stays up and keeps serving."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pbxedge.control.client import ControlClient
from tests.integration.conftest import RunningNode, free_udp_port, start_node, write_config
from tests.integration.nodes import stop, wait_for_log

# Low enough that a test reaches it in a moment: the node itself needs a few dozen.
FD_LIMIT = 128


def _limit_files() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, hard))


@contextmanager
def _node(folder: Path, *args: str, limit_files: bool = False) -> Iterator[RunningNode]:
    port = free_udp_port()
    node = start_node(folder, write_config(folder, port), port, *args,
                      preexec_fn=_limit_files if limit_files else None)
    try:
        yield node
    finally:
        stop(node)


def _connect(path: Path, patience: float) -> socket.socket | None:
    """A connection, or None when the listen backlog stays full for *patience* seconds."""
    give_up = time.monotonic() + patience
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(0.0)
        try:
            sock.connect(str(path))
        except BlockingIOError:
            sock.close()
            if time.monotonic() > give_up:
                return None
            time.sleep(0.01)
            continue
        return sock


@contextmanager
def _idle_connections(node: RunningNode, count: int) -> Iterator[list[socket.socket]]:
    """Up to *count* connections that never send a thing; fewer when the node stops taking
    them (its listen backlog is full)."""
    held: list[socket.socket] = []
    try:
        while len(held) < count and (sock := _connect(node.socket_path, 1.0)) is not None:
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()


def _answers_again(node: RunningNode) -> str:
    """The output of ``-rx "core show version"`` once the node serves the console again:
    closed clients leave when the node reads the end of their streams."""
    deadline = time.monotonic() + 10.0
    while (result := node.pbxedge("-rx", "core show version")).returncode != 0:
        assert time.monotonic() < deadline, result.stderr
        time.sleep(0.1)
    return result.stdout


def test_running_out_of_file_descriptors_is_survived(node_dir: Path) -> None:
    # No cap below the descriptor limit: accept() itself must fail, and be survived.
    with _node(node_dir, "--console-max-clients", "1000", limit_files=True) as node:
        with _idle_connections(node, 2 * FD_LIMIT) as held:
            assert len(held) > FD_LIMIT  # some wait in the listen backlog
            warning = wait_for_log(node, "cannot accept a console connection")
            assert "EMFILE" in warning
            time.sleep(1.0)  # several failed accepts
            assert node.process.poll() is None
        assert _answers_again(node).startswith("pbxedge ")
        # Rate-limited: the pauses (0.1, 0.2, 0.4… s) make at least four failures in that
        # second, and one line per 10 s reports them.
        assert node.stderr().count("cannot accept a console connection") <= 2


def test_clients_over_the_cap_are_told_the_console_is_busy(node_dir: Path) -> None:
    with _node(node_dir) as node:
        with _idle_connections(node, 64) as held:  # the default cap
            assert len(held) == 64
            refused = node.pbxedge("-rx", "core show version")
            assert refused.returncode == 1
            assert refused.stdout == ""
            assert refused.stderr.startswith("pbxedge console busy: 64 clients connected")
            assert "refused a console client: 64 clients connected" in node.stderr()
        assert _answers_again(node).startswith("pbxedge ")


def test_idle_connections_are_closed_and_clients_reconnect(node_dir: Path) -> None:
    with _node(node_dir, "--console-idle-timeout", "0.5") as node:
        with _idle_connections(node, 2) as (silent, slow):
            slow.sendall(b"core show")  # a request that never ends
            for sock in (silent, slow):
                sock.settimeout(10.0)
                assert sock.recv(100) == b""  # closed by the node
        with ControlClient(node.socket_path) as client:
            assert client.execute("core show version").startswith("pbxedge ")
            time.sleep(1.0)  # the node closes this one too meanwhile
            assert client.execute("core show version").startswith("pbxedge ")


def test_interactive_console_outlives_the_idle_timeout(node_dir: Path) -> None:
    with _node(node_dir, "--console-idle-timeout", "0.5") as node:
        console = subprocess.Popen(
            [sys.executable, "-m", "pbxedge", "-c", str(node.config), "--state",
             str(node.state), "-r"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert console.stdin is not None
        console.stdin.write("core show uptime\n")
        console.stdin.flush()
        time.sleep(1.0)
        out, err = console.communicate("core show version\nquit\n", timeout=30)
        assert console.returncode == 0, err
        assert "System uptime: " in out
        assert "pbxedge*CLI> pbxedge 0.1.0 running on " in out
