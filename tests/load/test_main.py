"""The command line of ``pbxedge load``: names, targets, scenario files, shares, usage."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbxedge.load.main import _parser, _worker_argv, build_scenarios, main, parse_target, share
from pbxedge.load.scenarios import CallsScenario, PokeScenario, RegisterScenario, expand_names


def test_name_patterns() -> None:
    assert expand_names("p{1..3}") == ["p1", "p2", "p3"]
    assert expand_names("x{08..10}y") == ["x08y", "x09y", "x10y"]
    assert expand_names("alice") == ["alice"]
    with pytest.raises(ValueError):
        expand_names("p{5..1}")


def test_targets() -> None:
    assert parse_target("127.0.0.1") == ("127.0.0.1", 4569)
    assert parse_target("localhost:4570") == ("127.0.0.1", 4570)
    assert parse_target("[::1]:4571") == ("::1", 4571)
    assert parse_target("::1") == ("::1", 4569)


def test_a_scenario_file_mixes_kinds(tmp_path: Path) -> None:
    path = tmp_path / "mix.toml"
    path.write_text('target = "127.0.0.1:4600"\nduration = 9\n'
                    '[[scenario]]\ntype = "calls"\nexten = "600"\ncount = 7\nmedia = "chirp"\n'
                    'late-ms = 80\n'
                    '[[scenario]]\ntype = "register"\nuser = "p{1..4}"\nsecret = "s"\n'
                    '[[scenario]]\ntype = "poke"\ncount = 3\ntarget = "127.0.0.2"\n')
    scenarios, duration = build_scenarios(_parser().parse_args(["--scenario", str(path)]))
    calls, register, poke = scenarios
    assert duration == 9
    assert isinstance(calls, CallsScenario) and calls.count == 7 and calls.late_ms == 80
    assert calls.target == ("127.0.0.1", 4600) and calls.media is not None
    assert isinstance(register, RegisterScenario) and register.users[-1] == "p4"
    assert isinstance(poke, PokeScenario) and poke.target == ("127.0.0.2", 4569)


def test_shares_split_counts_rates_and_peers() -> None:
    calls = CallsScenario(("127.0.0.1", 1), "600", 7, concurrent=3, rate=10.0)
    parts = [share(calls, i, 3) for i in range(3)]
    assert [p.count for p in parts if p] == [3, 2, 2]
    assert all(p is not None and p.rate == pytest.approx(10 / 3) and p.concurrent == 1
               for p in parts)
    register = RegisterScenario(("127.0.0.1", 1), ["a", "b", "c"])
    assert [p.users for p in (share(register, i, 2) for i in range(2)) if p] == [
        ["a", "c"], ["b"]]
    assert share(PokeScenario(("127.0.0.1", 1), 1), 1, 2) is None


def test_workers_do_not_repeat_what_only_the_parent_does() -> None:
    argv = ["calls", "h", "--procs", "2", "--json=x.json", "--plot", "p.png", "-n", "4",
            "--target-pid", "12", "--max-failed", "1"]
    assert _worker_argv(argv) == ["calls", "h", "-n", "4"]


@pytest.mark.parametrize("argv", [
    [], ["calls"], ["dance", "127.0.0.1"], ["register", "127.0.0.1"],
    ["calls", "127.0.0.1", "--codec", "nope"], ["calls", "127.0.0.1", "--media", "tone:x"],
    ["calls", "127.0.0.1", "-n", "0"], ["calls", "127.0.0.1", "--procs", "0"],
    ["calls", "127.0.0.1", "--expect", "echo"],
    ["--scenario", "/nonexistent.toml", "127.0.0.1"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "pbxedge load: error:" in capsys.readouterr().err
