"""Nodes with local phones on file or PulseAudio devices, and the nodes they call."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import RunningNode, free_udp_port, start_node
from tests.integration.managernode import manager_conf
from tests.integration.nodes import WAIT_LIMIT_S, write_node
from tests.phones.soundcards import FilePhone, alsa_env, write_alsa_config

__all__ = ["far_node", "phone_node", "rx", "stat", "wait_until"]


def rx(node: RunningNode, command: str) -> str:
    """``pbxedge -rx COMMAND`` against *node*; its output."""
    done = node.pbxedge("-rx", command)
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_until(check: Callable[[], bool], what: str, limit: float = WAIT_LIMIT_S) -> float:
    """Poll *check* until true; the seconds it took (fails the test after *limit*)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def stat(text: str, pattern: str) -> int:
    """A number out of ``console show stats`` (the group of *pattern*)."""
    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not in:\n{text}"
    return int(found.group(1))


def far_node(folder: Path, extensions: str, *, port: int | None = None) -> RunningNode:
    """A node that takes calls from anyone (user guest) into context ``from-phone``."""
    port = port or free_udp_port()
    conf = write_node(folder, f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw

[guest]
type = user
context = from-phone
requirecalltoken = no
""", extensions)
    return start_node(folder, conf, port, "-vvv")


def phone_node(folder: Path, console_conf: str, extensions: str, *, phones: list[FilePhone],
               far_port: int | None = None, port: int | None = None,
               env: dict[str, str] | None = None, extra_iax: str = "", general: str = "",
               manager_port: int | None = None) -> RunningNode:
    """A node with local phones (console.conf) and a peer ``far`` toward *far_port*;
    *general* goes into iax.conf's [general], *manager_port* turns the manager on (user ``admin``, secret ``amipass``)."""
    port = port or free_udp_port()
    peer = (f"\n[far]\ntype = peer\nhost = 127.0.0.1\nport = {far_port}\n"
            "requirecalltoken = no\n") if far_port else ""
    conf = write_node(folder, f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
{general}{peer}
[guest]
type = user
context = from-far
requirecalltoken = no
{extra_iax}
""", extensions)
    (folder / "console.conf").write_text(console_conf)
    if manager_port is not None:
        (folder / "manager.conf").write_text(manager_conf(manager_port))
    environment = dict(env or {})
    if phones:
        environment.update(alsa_env(write_alsa_config(folder / "asound.conf", phones)))
    return start_node(folder, conf, port, "-vvv", env=environment)
