"""``pbxedge load`` against a real node: every scenario, its figures against what the node
counts (``iax2 show stats``, ``core show channels``, ``iax2 show peers``), and through a
relay that loses or delays voice: the loss and delay it injects come out of the figures."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import RunningNode, free_udp_port, start_node
from tests.integration.nodes import stop, write_node
from tests.integration.relay import Direction, LossyRelay, voice_loss

LIMIT = 120.0  # seconds a load run may take; only reached when something is broken
PEERS = 6


def _conf(port: int) -> str:
    peers = "".join(f"[p{n}](peer)\n" for n in range(1, PEERS + 1))
    return f"""[general]
bindport = {port}
bindaddr = 127.0.0.1
disallow = all
allow = ulaw
allow = alaw
minregexpire = 60
[load]
type = user
secret = s3cret
auth = md5
context = load
maxauthreq = 0
jitterbuffer = no
[peer](!)
type = friend
host = dynamic
secret = s3cret
auth = md5
context = load
{peers}"""


EXTENSIONS = """[load]
exten => 600,1,Answer()
 same => n,Echo()
exten => 601,1,Answer()
 same => n,Hangup()
exten => 602,1,Answer()
 same => n,Playtones(440)
 same => n,Wait(30)
"""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    root = tmp_path_factory.mktemp("load")
    port = free_udp_port()
    running = start_node(root, write_node(root, _conf(port), EXTENSIONS), port)
    try:
        yield running
    finally:
        stop(running)


def load(*args: str, json_file: Path | None = None,
         timeout: float = LIMIT) -> tuple[int, dict[str, object], str]:
    """Run ``pbxedge load ARGS`` to its end: exit status, its JSON document, its stdout."""
    command = [sys.executable, "-m", "pbxedge", "load", *args, "-q"]
    if json_file is not None:
        command += ["--json", str(json_file)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            check=False)
    assert result.returncode in (0, 1), result.stderr
    document = json.loads(json_file.read_text()) if json_file is not None else {}
    return result.returncode, document, result.stdout


def counters(node: RunningNode) -> dict[str, int]:
    """The node's own counters from ``iax2 show stats``."""
    text = node.pbxedge("-rx", "iax2 show stats").stdout
    found = {}
    for name, pattern in {
        "datagrams_in": r"Datagrams: (\d+) received", "voice_in": r"Voice frames: (\d+) received",
        "voice_out": r"Voice frames: \d+ received, (\d+) sent",
        "processed": r"Calls: (\d+) processed", "active": r"Calls: \d+ processed, (\d+) active",
        "stateless": r"Stateless replies: (\d+)",
    }.items():
        match = re.search(pattern, text)
        assert match is not None, text
        found[name] = int(match.group(1))
    return found


def _calls(document: dict[str, object]) -> dict[str, object]:
    return document["summary"]["kinds"]["call"]  # type: ignore[index, no-any-return]


def _target(node: RunningNode) -> str:
    return f"127.0.0.1:{node.port}"


def test_echo_calls_count_what_the_node_counts(node: RunningNode, tmp_path: Path) -> None:
    before = counters(node)
    status, document, out = load(
        "calls", _target(node), "--exten", "600", "-n", "3", "-r", "10", "--hold", "1.5",
        "--user", "load", "--secret", "s3cret", "--media", "chirp", "--expect", "echo",
        json_file=tmp_path / "run.json")
    after = counters(node)
    calls = _calls(document)
    assert status == 0 and "answered 3" in out
    assert calls["ok"] == 3 and after["processed"] - before["processed"] == 3
    # A clean link: what one side sent, the other received, frame for frame.
    assert after["voice_in"] - before["voice_in"] == calls["frames_sent"]
    assert after["voice_out"] - before["voice_out"] == calls["frames_received"]
    assert calls["loss_pct"] == 0 and calls["tx_loss_pct"] == 0
    assert calls["frames_sent"] >= 3 * 70  # 1.5 s of 20 ms frames each
    echo = calls["echo_ms"]
    assert isinstance(echo, dict) and 0 < echo["p50"] < 50
    assert 4.0 < calls["mos"]["min"] <= 4.5  # type: ignore[index]
    records = document["records"]
    assert isinstance(records, list) and len(records) == 3
    assert all(r["setup_ms"] <= r["answer_ms"] for r in records)


def _held_then_interrupted(node: RunningNode, tmp_path: Path, *extra: str) -> None:
    """Four calls held; once the node shows them, SIGINT to the load tool (only)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pbxedge", "load", "calls", _target(node), "--exten", "602",
         "-n", "4", "-r", "20", "--hold", "30", "--user", "load", "--secret", "s3cret",
         "--media", "silence", "--expect", "tone:440", "-q", "--json", str(tmp_path / "j"),
         *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + LIMIT
        while time.monotonic() < deadline:
            channels = node.pbxedge("-rx", "iax2 show channels").stdout
            if "4 active IAX channels" in channels:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the node never showed the calls:\n{channels}")
        assert channels.count("load ") == 4  # the Username column of each
        time.sleep(1.5)  # a second of the tone, which --expect checks
        # Ctrl-C: the calls are hung up, the summary printed, the JSON written.
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=LIMIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    document = json.loads((tmp_path / "j").read_text())
    assert process.returncode == 0, err
    assert "stopped before the end" in out and document["interrupted"] is True
    outcomes = _calls(document)["outcomes"]
    assert outcomes == {"stopped": 4}, outcomes
    deadline = time.monotonic() + LIMIT
    while counters(node)["active"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert counters(node)["active"] == 0


def test_held_calls_show_in_iax2_show_channels(node: RunningNode, tmp_path: Path) -> None:
    _held_then_interrupted(node, tmp_path)


def test_an_interrupt_reaches_the_worker_processes(node: RunningNode, tmp_path: Path) -> None:
    _held_then_interrupted(node, tmp_path, "--procs", "2")


def test_tone_expectation_passes_and_fails(node: RunningNode, tmp_path: Path) -> None:
    common = ("calls", "--exten", "602", "-n", "1", "--hold", "1.2", "--user", "load",
              "--secret", "s3cret", "--media", "silence")
    status, document, _ = load("calls", _target(node), *common[1:], "--expect", "tone:440",
                               json_file=tmp_path / "a.json")
    assert status == 0 and _calls(document)["ok"] == 1
    status, document, out = load("calls", _target(node), *common[1:], "--expect", "tone:1000",
                                 json_file=tmp_path / "b.json")
    assert status == 1 and "expect 1" in out
    [record] = document["records"]
    assert "heard 440 Hz" in record["detail"]


def test_setups_and_failures_against_max_failed(node: RunningNode, tmp_path: Path) -> None:
    before = counters(node)
    status, document, _ = load("calls", _target(node), "--exten", "601", "-n", "20",
                               "-c", "5", "-r", "50", "--user", "load", "--secret", "s3cret",
                               json_file=tmp_path / "ok.json")
    assert status == 0
    assert counters(node)["processed"] - before["processed"] == 20
    calls = _calls(document)
    assert calls["ok"] == 20 and calls["setup_ms"]["max"] < 10_000  # type: ignore[index]
    wrong = ("calls", "--exten", "601", "-n", "2", "--user", "load", "--secret", "wrong")
    status, document, _ = load("calls", _target(node), *wrong[1:],
                               json_file=tmp_path / "bad.json")
    assert status == 1 and _calls(document)["failed"] == 2
    assert _calls(document)["outcomes"] == {"rejected": 2}
    status, _, _ = load("calls", _target(node), *wrong[1:], "--max-failed", "2")
    assert status == 0


def test_registrations_reach_the_registrar(node: RunningNode, tmp_path: Path) -> None:
    status, document, _ = load("register", _target(node), "--user", f"p{{1..{PEERS}}}",
                               "--secret", "s3cret", "-r", "50", "--reregister", "0.5",
                               "--duration", "2", json_file=tmp_path / "r.json")
    kinds = document["summary"]["kinds"]  # type: ignore[index]
    assert status == 0 and kinds["register"]["failed"] == 0
    assert kinds["register"]["ok"] >= 2 * PEERS  # each refreshed at least once
    peers = node.pbxedge("-rx", "iax2 show peers").stdout
    assert len(re.findall(r"^p\d+\s+127\.0\.0\.1\s+\(D\)", peers, re.MULTILINE)) == PEERS
    status, document, _ = load("register", _target(node), "--user", "p1", "--secret", "nope",
                               "--duration", "3", "--timeout", "2",
                               json_file=tmp_path / "bad.json")
    assert status == 1
    assert document["summary"]["kinds"]["register"]["outcomes"] == {"refused": 1}


def test_pokes_and_a_flood_get_stateless_replies(node: RunningNode, tmp_path: Path) -> None:
    before = counters(node)
    status, document, _ = load("poke", _target(node), "-n", "15", "-r", "100",
                               json_file=tmp_path / "p.json")
    assert status == 0 and document["summary"]["kinds"]["poke"]["ok"] == 15
    status, document, _ = load("flood", _target(node), "-n", "40", "-r", "200",
                               "--exten", "601", json_file=tmp_path / "f.json")
    flood = document["summary"]["kinds"]["flood"]
    # Token-less NEWs: refused without a call being created, each answer stateless.
    assert status == 0 and flood["outcomes"] == {"reject": 40}
    after = counters(node)
    assert after["stateless"] - before["stateless"] == 15 + 40
    assert after["processed"] == before["processed"]


def test_scenario_file_and_worker_processes(node: RunningNode, tmp_path: Path) -> None:
    scenario = tmp_path / "mix.toml"
    scenario.write_text(f"""target = "{_target(node)}"
duration = 20
[[scenario]]
type = "calls"
exten = "601"
count = 6
rate = 20
user = "load"
secret = "s3cret"
[[scenario]]
type = "poke"
count = 4
rate = 20
""")
    before = counters(node)
    status, document, out = load("--scenario", str(scenario), "--procs", "2",
                                 json_file=tmp_path / "m.json")
    kinds = document["summary"]["kinds"]  # type: ignore[index]
    assert status == 0, out
    assert kinds["call"]["ok"] == 6 and kinds["poke"]["ok"] == 4
    assert counters(node)["processed"] - before["processed"] == 6
    assert "in 2 processes" in out


def test_plot_and_target_sampling(node: RunningNode, tmp_path: Path) -> None:
    plot = tmp_path / "run.png"
    status, document, out = load(
        "calls", _target(node), "--exten", "600", "-n", "2", "--hold", "1", "--user", "load",
        "--secret", "s3cret", "--media", "tone:440", "--plot", str(plot),
        "--target-pid", str(node.process.pid), json_file=tmp_path / "t.json")
    assert status == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = document["summary"]["target"]  # type: ignore[index]
    assert target["pid"] == node.process.pid and target["rss_kib_after"] > 10_000
    assert target["cpu_s"] > 0 and "call" in target["cpu_us_per_op"]
    assert f"target pid {node.process.pid}" in out


# -- through a relay that loses and delays voice ------------------------------------------


def _echo_run(relay: LossyRelay, tmp_path: Path, name: str) -> dict[str, object]:
    status, document, out = load(
        "calls", f"127.0.0.1:{relay.client_port}", "--exten", "600", "-n", "4", "-r", "10",
        "--hold", "3", "--user", "load", "--secret", "s3cret", "--media", "chirp",
        json_file=tmp_path / f"{name}.json")
    assert status == 0, out
    return _calls(document)


def _dropped_pct(relay: LossyRelay, direction: Direction, frames_before: tuple[int, int]) -> float:
    dropped = relay.dropped[direction] - frames_before[0]
    passed = relay.passed[direction] - frames_before[1]
    return 100.0 * dropped / (dropped + passed)


def test_injected_loss_delay_and_mos(node: RunningNode, tmp_path: Path) -> None:
    with LossyRelay(("127.0.0.1", node.port)) as relay:
        clean = _echo_run(relay, tmp_path, "clean")
        assert clean["loss_pct"] == 0

        # Voice lost on its way back to the load tool: "loss in".
        relay.rule = voice_loss(Direction.TO_CLIENT, 0.05, seed=7)
        mark = (relay.dropped[Direction.TO_CLIENT], relay.passed[Direction.TO_CLIENT])
        back = _echo_run(relay, tmp_path, "back")
        injected = _dropped_pct(relay, Direction.TO_CLIENT, mark)
        assert 2 < injected < 9
        assert abs(back["loss_pct"] - injected) <= 1.0, (back["loss_pct"], injected)
        assert back["tx_loss_pct"] <= 1.0

        # Voice lost on its way to the node: "loss out", seen through the echo.
        relay.rule = voice_loss(Direction.TO_SERVER, 0.05, seed=8)
        mark = (relay.dropped[Direction.TO_SERVER], relay.passed[Direction.TO_SERVER])
        out = _echo_run(relay, tmp_path, "out")
        injected = _dropped_pct(relay, Direction.TO_SERVER, mark)
        assert abs(out["tx_loss_pct"] - injected) <= 1.0, (out["tx_loss_pct"], injected)
        assert out["loss_pct"] <= 1.0

        # More loss, lower score.
        relay.rule = voice_loss(Direction.TO_CLIENT, 0.15, seed=9)
        worse = _echo_run(relay, tmp_path, "worse")
        assert clean["mos"]["mean"] > back["mos"]["mean"] > worse["mos"]["mean"]  # type: ignore[index]

        # A known delay on the way out lengthens the echo's round trip by as much.
        relay.rule = voice_loss(Direction.TO_SERVER, 0.0)
        relay.delay[Direction.TO_SERVER] = 0.040
        delayed = _echo_run(relay, tmp_path, "delayed")
        added = delayed["echo_ms"]["p50"] - clean["echo_ms"]["p50"]  # type: ignore[index]
        assert abs(added - 40.0) <= 2.0, (clean["echo_ms"], delayed["echo_ms"])
