"""configs/pbxedge.service passes ``systemd-analyze verify`` with nothing to say, in a
private root that holds systemd's own units and the installed command."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "configs" / "pbxedge.service"
SYSTEM_UNITS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))


def _root(tmp_path: Path, unit_text: str) -> Path:
    """An alternate root: systemd's units, /opt/pbxedge/bin/pbxedge, and the unit."""
    units = next((p for p in SYSTEM_UNITS if (p / "sysinit.target").exists()), None)
    assert units is not None, "systemd's units are missing: make apt installs systemd"
    shutil.copytree(units, tmp_path / "usr/lib/systemd/system", symlinks=True)
    command = tmp_path / "opt/pbxedge/bin/pbxedge"
    command.parent.mkdir(parents=True)
    command.write_text("#!/bin/sh\n")
    command.chmod(0o755)
    installed = tmp_path / "etc/systemd/system/pbxedge.service"
    installed.parent.mkdir(parents=True)
    installed.write_text(unit_text)
    return installed


def _verify(tmp_path: Path, unit_text: str) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is missing: make apt installs systemd"
    installed = _root(tmp_path, unit_text)
    return subprocess.run([analyze, "verify", f"--root={tmp_path}", "--man=no",
                           "--generators=no", str(installed)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_unit_verifies_cleanly(tmp_path: Path) -> None:
    done = _verify(tmp_path, UNIT.read_text())
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize(("change", "complaint"), [
    (("Type=notify", "Type=notifyish"), "Failed to parse service type"),
    (("ExecStart=/opt/pbxedge", "ExecStart=/opt/elsewhere"), "is not executable"),
])
def test_the_check_would_see_a_broken_unit(tmp_path: Path, change: tuple[str, str],
                                           complaint: str) -> None:
    done = _verify(tmp_path, UNIT.read_text().replace(*change))
    assert complaint in done.stderr


def test_the_unit_says_what_the_node_needs() -> None:
    lines = set(UNIT.read_text().splitlines())
    assert {"Type=notify", "Restart=on-failure", "User=pbxedge", "StateDirectory=pbxedge",
            "StateDirectoryMode=0700"} <= lines
    assert any(line.startswith("ExecReload=") and '-rx "core reload"' in line for line in lines)
