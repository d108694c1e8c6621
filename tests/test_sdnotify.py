"""The sd_notify messages, to a path and to an abstract socket, and without a manager."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from pbxedge import sdnotify
from pbxedge.pidfile import PidFile, PidFileError


def test_without_a_manager_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.ready() is False


def test_ready_goes_to_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"pbxedge-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind("\0" + name)
        manager.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.ready() is True
        assert manager.recv(1024).decode().splitlines() == [
            "READY=1", "STATUS=Ready", f"MAINPID={os.getpid()}"]
        assert sdnotify.stopping() is True
        assert manager.recv(1024).startswith(b"STOPPING=1\n")


def test_a_manager_that_is_gone_is_only_a_warning(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert sdnotify.reloading() is False


def test_the_pid_file_is_ours_to_remove_only(tmp_path: Path) -> None:
    path = tmp_path / "run" / "pbxedge.pid"
    with PidFile.create(path):
        assert path.read_text() == f"{os.getpid()}\n"
    assert not path.exists()
    with PidFile.create(path):
        path.write_text("12345\n")  # another instance took the file over
    assert path.read_text() == "12345\n"
    (tmp_path / "file").write_text("")
    with pytest.raises(PidFileError, match="cannot write the pid file"):
        PidFile.create(tmp_path / "file" / "x.pid")
