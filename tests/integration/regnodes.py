"""Real ``pbxedge`` processes for the registration tests: config writing, start/stop,
console commands and polling for a console state."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.conftest import EXIT_LIMIT_S, RunningNode, run_pbxedge, start_node

# Real seconds. Only reached when something is broken; nothing asserts on durations.
POLL_LIMIT_S = 60.0
POLL_INTERVAL_S = 0.1


def general(port: int, extra: str = "") -> str:
    return (
        f"[general]\nbindport = {port}\nbindaddr = 127.0.0.1\nminregexpire = 60\n"
        f"maxregexpire = 3600\nregcontext = iaxregistrations\n{extra}\n"
    )


def friend(name: str, credential: str, auth: str = "md5", extra: str = "") -> str:
    """A peer that registers to us, as in the both-ways setup of the tests."""
    return (
        f"[{name}]\ntype = friend\nhost = dynamic\ntrunk = yes\nqualify = yes\n"
        f"context = from-iax\nauth = {auth}\n{credential}\n{extra}\n"
    )


def keygen(keys_dir: Path, name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pbxedge", "keygen", "--dir", str(keys_dir), name],
        capture_output=True, text=True, timeout=EXIT_LIMIT_S, check=False,
    )
    assert result.returncode == 0, result.stderr


@dataclass
class RegNode:
    """One node's folder (config, keys, state) and its process while it runs."""

    folder: Path
    port: int
    body: str
    running: RunningNode | None = field(default=None)

    @property
    def config(self) -> Path:
        return self.folder / "iax.conf"

    @property
    def state(self) -> Path:
        return self.folder / "var"

    def write(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text(self.body)
        extensions = self.folder / "extensions.conf"
        if not extensions.exists():
            extensions.write_text("[from-iax]\nexten => 600,1,Answer()\n")

    def start(self) -> RegNode:
        self.write()
        self.running = start_node(self.folder, self.config, self.port, "-vvv")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        node, self.running = self.running, None
        if node is None or node.process.poll() is not None:
            return
        node.process.send_signal(sig)
        try:
            node.process.wait(timeout=EXIT_LIMIT_S)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()

    def rx(self, command: str) -> str:
        result = run_pbxedge(self.config, self.state, "-rx", command)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def stderr(self) -> str:
        path = self.folder / "pbxedge.stderr"
        return path.read_text() if path.exists() else ""

    def wait_for(self, command: str, pattern: str, limit: float = POLL_LIMIT_S) -> str:
        """Run *command* until its output matches *pattern*; return that output."""
        found = poll(lambda: self._match(command, pattern), limit)
        if found is None:
            raise AssertionError(
                f"'{command}' never matched {pattern!r}; last output:\n{self.rx(command)}\n"
                f"log:\n{self.stderr()[-4000:]}"
            )
        return found

    def _match(self, command: str, pattern: str) -> str | None:
        output = self.rx(command)
        return output if re.search(pattern, output, re.MULTILINE) else None


def poll(probe: Callable[[], str | None], limit: float = POLL_LIMIT_S) -> str | None:
    deadline = time.monotonic() + limit
    while True:
        found = probe()
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(POLL_INTERVAL_S)


def registered_row(server_port: int, username: str) -> str:
    """A ``iax2 show registry`` row of a Registered line to 127.0.0.1:*server_port*."""
    return rf"^127\.0\.0\.1:{server_port}\s+N\s+{re.escape(username)}\s.*\s60\s+Registered$"


def peer_row(name: str, port: int, status: str = r"OK \(\d+ ms\)") -> str:
    """A ``iax2 show peers`` row of *name* registered from 127.0.0.1:*port*."""
    return rf"^{re.escape(name)}\s+127\.0\.0\.1\s+\(D\)\s+\(null\)\s+{port}\s.*{status}"
