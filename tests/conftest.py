"""Checks before any test runs."""

from __future__ import annotations

from pathlib import Path

import pytest

CORE = Path(__file__).parent.parent / "pbxedge" / "iax2"


def stale_modules(folder: Path) -> list[str]:
    """Sources in *folder* changed after they were compiled: Python would go on importing the
    compiled copy, and the tests would not test what the source says."""
    stale = []
    for native in folder.glob("*.so"):
        source = native.with_name(native.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > native.stat().st_mtime:
            stale.append(source.name)
    return sorted(stale)


def pytest_configure(config: pytest.Config) -> None:
    if stale := stale_modules(CORE):
        raise pytest.UsageError(
            f"pbxedge/iax2: {', '.join(stale)} changed after it was compiled; "
            "`make test` compiles it again (or `make deps`)")
