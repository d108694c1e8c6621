"""The README's lift phone is a complete, valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pbxedge.cli import main
from pbxedge.control.check import load_node_files
from pbxedge.paths import resolve_paths

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lift_phone_passes_check(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    section = README.read_text().split("## Phone box", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\n; (\S+)\n(.*?)```", section, re.S)
    assert [name for name, _ in blocks] == ["iax.conf", "extensions.conf", "console.conf"]
    for name, text in blocks:
        (tmp_path / name).write_text(text)
    assert main(["-c", str(tmp_path / "iax.conf"), "--check"]) == 0, capsys.readouterr().out
    files = load_node_files(resolve_paths(tmp_path / "iax.conf"))
    lift = files.console.phones["lift2"]
    assert lift.autoanswer and lift.box is not None
    assert lift.box.alarm_targets == ("IAX2/lobby/100", "IAX2/trunk/0612345678")
    assert lift.box.test_target == "IAX2/trunk/0612345679" and lift.box.box_id == "42"
