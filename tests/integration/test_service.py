"""pbxedge under a service manager: readiness, reload and stop told to a fake systemd
(a Unix datagram socket as NOTIFY_SOCKET), and the pid file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import free_udp_port, start_node, write_config
from tests.integration.nodes import WAIT_LIMIT_S, stop, wait_for_log


@pytest.fixture
def manager() -> Iterator[tuple[socket.socket, str]]:
    """A fake systemd: the socket it reads and the path it gives as NOTIFY_SOCKET."""
    folder = Path(tempfile.mkdtemp(prefix="sd-"))
    path = str(folder / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(WAIT_LIMIT_S)
    yield sock, path
    sock.close()
    Path(path).unlink()
    folder.rmdir()


def _message(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines())


def test_readiness_reload_and_stop_are_told_to_the_manager(
        node_dir: Path, manager: tuple[socket.socket, str]) -> None:
    sock, path = manager
    port = free_udp_port()
    pidfile = node_dir / "run" / "pbxedge.pid"
    node = start_node(node_dir, write_config(node_dir, port), port, "--pidfile", str(pidfile),
                      env={"NOTIFY_SOCKET": path})
    try:
        ready = _message(sock)
        assert ready["READY"] == "1" and ready["MAINPID"] == str(node.process.pid)
        # Ready means ready: the banner is out and the console answers.
        assert "pbxedge Ready." in node.stderr()
        assert pidfile.read_text() == f"{node.process.pid}\n"

        node.process.send_signal(signal.SIGHUP)
        reloading = _message(sock)
        assert reloading["RELOADING"] == "1" and int(reloading["MONOTONIC_USEC"]) > 0
        assert _message(sock)["READY"] == "1"
        wait_for_log(node, "Reloaded chan_iax2.so")

        # A reload from the console (systemd's ExecReload) is told the same way.
        assert node.pbxedge("-rx", "core reload").returncode == 0
        assert _message(sock)["RELOADING"] == "1"
        assert _message(sock)["READY"] == "1"

        node.process.send_signal(signal.SIGTERM)
        assert _message(sock)["STOPPING"] == "1"
        assert node.wait_exit() == 0
        assert not pidfile.exists()
    finally:
        stop(node)


def test_a_node_that_cannot_start_never_says_ready(
        node_dir: Path, manager: tuple[socket.socket, str]) -> None:
    sock, path = manager
    port = free_udp_port()
    config = write_config(node_dir, port)
    config.write_text(config.read_text() + "\n[broken]\ntype = user\nmaxauthreq = lots\n")
    done = subprocess.run(
        [sys.executable, "-m", "pbxedge", "-c", str(config), "--state", str(node_dir / "var"),
         "--pidfile", str(node_dir / "x.pid")],
        env={**os.environ, "NOTIFY_SOCKET": path}, capture_output=True, text=True,
        timeout=WAIT_LIMIT_S, check=False)
    assert done.returncode == 1 and "error: maxauthreq" in done.stderr
    told = _message(sock)
    assert "READY" not in told and told["STATUS"].startswith("not started: errors in ")
    assert not (node_dir / "x.pid").exists()
