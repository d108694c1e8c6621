"""A failed integration test keeps what its nodes wrote and shows their logs."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

_INNER = '''
def test_that_fails(node_dir):
    (node_dir / "far").mkdir()
    (node_dir / "far" / "pbxedge.stderr").write_text("".join(f"line {n}\\n" for n in range(100)))
    (node_dir / "played.raw").write_bytes(b"audio")
    assert False


def test_that_passes(node_dir):
    (node_dir / "pbxedge.stderr").write_text("nothing to see\\n")
    print("passed in", node_dir)
'''


def test_a_failed_test_keeps_its_folder_and_reports_the_end_of_each_node_log(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_inner=_INNER)
    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    result = pytester.runpytest_subprocess("-p", "tests.integration.conftest", "-rP", "-p",
                                           "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    kept = re.findall(r"^kept (\S+)$", output, re.MULTILINE)
    passed = re.findall(r"^passed in (\S+)$", output, re.MULTILINE)
    try:
        assert len(kept) == 1 and len(passed) == 1
        folder = Path(kept[0])
        assert (folder / "played.raw").read_bytes() == b"audio"
        assert not Path(passed[0]).exists()
        assert "--- far/pbxedge.stderr (last 80 lines)" in output
        assert "line 99" in output and "line 20\n" in output
        assert "line 19\n" not in output
    finally:
        for path in kept:
            shutil.rmtree(path, ignore_errors=True)
