"""The blocking console client against listeners that are not a healthy node."""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pbxedge.control import client as client_module
from pbxedge.control.client import ConsoleBusy, ControlClient, NotRunningError


@contextmanager
def stuck_listener() -> Iterator[tuple[socket.socket, Path, list[socket.socket]]]:
    """A Unix socket that listens but never accepts, its backlog already full."""
    with tempfile.TemporaryDirectory(prefix="pbx-") as folder:
        path = Path(folder) / "pbxedge.ctl"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(1)
        waiting: list[socket.socket] = []
        try:
            while True:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.setblocking(False)
                try:
                    sock.connect(str(path))
                except BlockingIOError:
                    sock.close()
                    break
                waiting.append(sock)
            yield listener, path, waiting
        finally:
            for sock in waiting:
                sock.close()
            listener.close()


def test_a_full_backlog_is_retried_then_reported_as_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "BUSY_RETRY_SECONDS", 0.3)
    with stuck_listener() as (_, path, _), pytest.raises(ConsoleBusy) as busy:
        ControlClient(path)
    assert str(busy.value) == (
        f"pbxedge console busy: {path} accepts no new connection now; try again later")


def test_a_backlog_that_drains_meanwhile_lets_the_client_in() -> None:
    with stuck_listener() as (listener, path, _):
        def accept_one_later() -> None:
            time.sleep(0.2)
            listener.accept()[0].close()

        taker = threading.Thread(target=accept_one_later)
        taker.start()
        try:
            ControlClient(path).close()
        finally:
            taker.join()


def test_a_socket_nobody_listens_on_is_not_running() -> None:
    with tempfile.TemporaryDirectory(prefix="pbx-") as folder:
        path = Path(folder) / "pbxedge.ctl"
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(path))
        stale.close()
        started = time.monotonic()
        with pytest.raises(NotRunningError):
            ControlClient(path)
        # Refused is final: only a full backlog is worth retrying.
        assert time.monotonic() - started < client_module.BUSY_RETRY_SECONDS
