"""pbxedge.media stands alone: channels of every kind use it without the IAX2 stack."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import importlib, pkgutil, sys
import pbxedge.media
for module in pkgutil.iter_modules(pbxedge.media.__path__):
    importlib.import_module("pbxedge.media." + module.name)
print(" ".join(sorted(m for m in sys.modules if m.startswith(("pbxedge.iax2", "trio")))))
"""


def test_media_modules_import_neither_iax2_nor_trio() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
