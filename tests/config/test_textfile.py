from __future__ import annotations

import os
from pathlib import Path

import pytest

from pbxedge.config.textfile import (
    DEFAULT_MAX_CONFIG_BYTES,
    MAX_CONFIG_BYTES_ENV,
    NotReadable,
    TooLarge,
    max_config_bytes,
    read_config_text,
)
from tests.hang_guard import fails_instead_of_hanging


def test_a_regular_file_gives_its_text_and_size(tmp_path: Path) -> None:
    path = tmp_path / "a.conf"
    path.write_bytes("[a]\ncallerid=Zoë\n".encode())
    assert read_config_text(str(path), 100) == ("[a]\ncallerid=Zoë\n", 18)


def test_undecodable_bytes_are_kept_as_replacement_characters(tmp_path: Path) -> None:
    # Latin-1 names in old Asterisk configs must keep loading.
    path = tmp_path / "latin1.conf"
    path.write_bytes(b"[a]\ncallerid=Zo\xeb\n")
    assert read_config_text(str(path), 100)[0] == "[a]\ncallerid=Zo\ufffd\n"


def test_dev_zero_is_refused_without_reading(tmp_path: Path) -> None:
    with fails_instead_of_hanging(10), pytest.raises(NotReadable) as info:
        read_config_text("/dev/zero", 100)
    assert str(info.value) == "is not a regular file (it is a character device)"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.conf"
    os.mkfifo(fifo)
    with fails_instead_of_hanging(10), pytest.raises(NotReadable) as info:
        read_config_text(str(fifo), 100)
    assert str(info.value) == "is not a regular file (it is a named pipe)"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotReadable, match="it is a directory"):
        read_config_text(str(tmp_path), 100)


def test_a_file_over_the_budget_is_refused_with_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.conf"
    path.write_text("x" * 101)
    with pytest.raises(TooLarge) as info:
        read_config_text(str(path), 100)
    assert info.value.size == 101
    assert read_config_text(str(path), 101)[1] == 101


def test_nul_bytes_make_it_not_a_text_file_and_the_content_is_not_quoted(tmp_path: Path) -> None:
    path = tmp_path / "blob.conf"
    path.write_bytes(b"MARKER-7f3a\0\x01\x02")
    with pytest.raises(NotReadable) as info:
        read_config_text(str(path), 100)
    assert str(info.value) == "is not a text file (it contains NUL bytes)"


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_config_text(str(tmp_path / "missing.conf"), 100)


def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_CONFIG_BYTES_ENV, raising=False)
    assert max_config_bytes() == DEFAULT_MAX_CONFIG_BYTES == 16 * 1024 * 1024
    monkeypatch.setenv(MAX_CONFIG_BYTES_ENV, "4096")
    assert max_config_bytes() == 4096
    for bad in ("lots", "0", "-1"):
        monkeypatch.setenv(MAX_CONFIG_BYTES_ENV, bad)
        with pytest.raises(ValueError, match=MAX_CONFIG_BYTES_ENV):
            max_config_bytes()
