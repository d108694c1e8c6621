"""A real ``pbxedge`` process: console over -rx/-r, banner, clean shutdown."""

from __future__ import annotations

import re
import signal
import stat
from pathlib import Path

from pbxedge.store import DEFAULT_FILENAME, Store
from tests.integration.conftest import (
    RunningNode,
    free_udp_port,
    run_pbxedge,
    start_node,
    write_config,
)

SECRETS = ["modemsecret", "md5secret", "plainsecret", "encsecret", "trunksecret"]


def test_rx_runs_one_command(running_node: RunningNode) -> None:
    result = running_node.pbxedge("-rx", "core show version")
    assert result.returncode == 0
    assert result.stdout.startswith("pbxedge 0.1.0 running on ")


def test_rx_iax2_commands_show_the_config_without_secrets(running_node: RunningNode) -> None:
    peers = running_node.pbxedge("-rx", "iax2 show peers")
    users = running_node.pbxedge("-rx", "iax2 show users")
    peer = running_node.pbxedge("-rx", "iax2 show peer trunkhost")
    assert peers.stdout.endswith("6 iax2 peers [0 online, 5 offline, 1 unmonitored]\n")
    assert "rsapeer          Key: iaxpeer          000000000000004" in users.stdout
    assert "  Addr->IP     : 127.0.0.2 Port 4571\n" in peer.stdout
    for text in (peers.stdout, users.stdout, peer.stdout):
        for secret in SECRETS:
            assert secret not in text


def test_state_database_is_opened_in_the_state_dir(running_node: RunningNode) -> None:
    result = running_node.pbxedge("-rx", "database show")
    assert result.stdout == "0 results found.\n"
    assert (running_node.state / "pbxedge.sqlite3").exists()


def test_an_open_state_folder_and_database_are_made_private_with_a_notice(node_dir: Path) -> None:
    state, database = node_dir / "var", node_dir / "var" / DEFAULT_FILENAME
    with Store.open(database)[0] as store:
        store.db_put("family", "key", "kept")
    state.chmod(0o755)
    database.chmod(0o644)
    port = free_udp_port()
    node = start_node(node_dir, write_config(node_dir, port), port)
    try:
        assert [stat.S_IMODE(p.stat().st_mode) for p in (state, database)] == [0o700, 0o600]
        log = node.stderr()
        for path, old, new in ((state, "0755", "0700"), (database, "0644", "0600")):
            assert re.search(rf"\] NOTICE\[\d+\] node\.py: {re.escape(str(path))}: mode changed from "
                             rf"{old} to {new} ", log), log
        # The database itself was kept.
        assert "/family/key" in node.pbxedge("-rx", "database show").stdout
    finally:
        node.process.send_signal(signal.SIGTERM)
        assert node.wait_exit() == 0


def test_rx_unknown_command(running_node: RunningNode) -> None:
    result = running_node.pbxedge("-rx", "x")
    assert result.returncode == 0
    assert result.stdout == (
        "No such command 'x' (type 'core show help x' for other possible commands)\n")


def test_interactive_console(running_node: RunningNode) -> None:
    result = running_node.pbxedge("-r", stdin="core show uptime\n\nquit\n")
    assert result.returncode == 0
    assert "pbxedge*CLI> System uptime: " in result.stdout


def test_banner_names_config_binds_and_counts(running_node: RunningNode) -> None:
    banner = running_node.stderr()
    assert f"Config file:      {running_node.config}" in banner
    assert f"127.0.0.1:{running_node.port}" in banner
    assert "Users: 6, peers: 6, extensions: 3" in banner
    assert "IAX2 core:        compiled\n" in banner
    assert "pbxedge Ready." in banner


def test_sigterm_exits_0_and_removes_the_socket(running_node: RunningNode) -> None:
    running_node.process.send_signal(signal.SIGTERM)
    assert running_node.wait_exit() == 0
    assert not running_node.socket_path.exists()
    assert running_node.pbxedge("-rx", "core show version").returncode == 1


def test_sigint_exits_0(running_node: RunningNode) -> None:
    running_node.process.send_signal(signal.SIGINT)
    assert running_node.wait_exit() == 0


def test_core_stop_now_exits_0(running_node: RunningNode) -> None:
    assert running_node.pbxedge("-rx", "core stop now").returncode == 0
    assert running_node.wait_exit() == 0


def test_second_instance_on_the_same_state_is_refused(running_node: RunningNode) -> None:
    second = running_node.pbxedge()
    assert second.returncode == 1
    assert "another pbxedge instance is running" in second.stderr
    assert running_node.pbxedge("-rx", "core show version").returncode == 0


def test_broken_config_does_not_start(node_dir: Path) -> None:
    config = write_config(node_dir, free_udp_port())
    config.write_text(config.read_text() + "\n[unterminated\n")
    result = run_pbxedge(config, node_dir / "var")
    assert result.returncode == 1
    assert f"{config}:" in result.stderr
    assert not (node_dir / "var" / "pbxedge.ctl").exists()


def test_log_file_gets_the_banner_and_a_bad_one_is_refused(node_dir: Path) -> None:
    port = free_udp_port()
    config = write_config(node_dir, port)
    log_file = node_dir / "pbxedge.log"
    node = start_node(node_dir, config, port, "--log", str(log_file))
    assert node.pbxedge("-rx", "core stop now").returncode == 0
    assert node.wait_exit() == 0
    assert "pbxedge Ready." in log_file.read_text()
    bad = run_pbxedge(config, node_dir / "var", "--log", str(node_dir / "no" / "such" / "x.log"))
    assert bad.returncode == 1
    assert "cannot open log file" in bad.stderr


def test_sample_config_starts_and_lists_its_peers(node_dir: Path) -> None:
    """What `make run` starts: configs/iax.conf, its extensions.conf and keys/ (port moved)."""
    repo = Path(__file__).resolve().parents[2]
    port = free_udp_port()
    conf = node_dir / "configs"
    conf.mkdir()
    text = (repo / "configs" / "iax.conf").read_text()
    assert "bindport=4569" in text and "bindaddr=127.0.0.1" in text
    (conf / "iax.conf").write_text(text.replace("bindport=4569", f"bindport={port}"))
    (conf / "extensions.conf").write_text((repo / "configs" / "extensions.conf").read_text())
    keys = node_dir / "keys"  # found as ../keys, as in the repository
    keys.mkdir()
    for key in (repo / "keys").glob("pbxedge-demo.*"):
        (keys / key.name).write_bytes(key.read_bytes())
        (keys / key.name).chmod(0o600 if key.suffix == ".key" else 0o644)
    node = start_node(node_dir, conf / "iax.conf", port)
    try:
        peers = node.pbxedge("-rx", "iax2 show peers").stdout
        for name in ("carol", "gateway/office", "branch-north", "branch-south", "lobby"):
            assert f"\n{name} " in peers
        assert peers.endswith("5 iax2 peers [0 online, 2 offline, 3 unmonitored]\n")
        assert "gatewaysecret" not in peers
        assert f"127.0.0.1:{port}" in node.stderr()
    finally:
        node.process.send_signal(signal.SIGTERM)
        assert node.wait_exit() == 0
