"""The compiled IAX2 core: what the install builds is what the tests run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pbxedge import iax2
from tests.conftest import stale_modules


@pytest.mark.skipif(bool(os.environ.get("PBXEDGE_PURE")), reason="installed without compiling")
def test_the_installed_core_is_compiled() -> None:
    assert iax2.compiled()


def test_a_source_newer_than_its_compiled_module_is_stale(tmp_path: Path) -> None:
    for name in ("frames", "ies"):
        (tmp_path / f"{name}.py").write_text("")
        (tmp_path / f"{name}.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (tmp_path / "only_source.py").write_text("")
    os.utime(tmp_path / "ies.cpython-311-x86_64-linux-gnu.so", (1_000, 1_000))
    assert stale_modules(tmp_path) == ["ies.py"]
    os.utime(tmp_path / "ies.py", (500, 500))
    assert stale_modules(tmp_path) == []
