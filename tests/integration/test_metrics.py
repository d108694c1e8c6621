"""The Prometheus endpoint of a real node, parsed with ``prometheus_client.parser`` during a
call and after it, and moved by a reload."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from pbxedge.load.agent import Account, CallAgent
from tests.integration.conftest import free_udp_port, start_node
from tests.integration.nodes import stop, wait_for_log, write_node

LIMIT = 20.0  # seconds a test may wait for what must come; only reached when broken
EXTENSIONS = "[calls]\nexten => 600,1,Answer()\n same => n,Wait(60)\n"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _conf(udp: int, tcp: int) -> str:
    return (f"[general]\nbindaddr = 127.0.0.1:{udp}\nmetrics = 127.0.0.1:{tcp}\n"
            "disallow = all\nallow = ulaw\n\n[guest]\ntype = user\ncontext = calls\n"
            "\n[alice]\ntype = user\nsecret = wonderland\ncontext = calls\n")


def _get(port: int, path: str = "/metrics", method: str = "GET") -> tuple[int, str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=LIMIT) as response:
            return (response.status, response.headers["Content-Type"],
                    response.read().decode())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


async def _scrape(port: int) -> Samples:
    status, content_type, text = await trio.to_thread.run_sync(_get, port)
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def _value(samples: Samples, metric: str, **labels: str) -> float | None:
    return samples.get((metric, tuple(sorted(labels.items()))))


async def test_a_call_shows_in_the_metrics_and_its_cause_is_counted(
        tmp_path: Path, agent: CallAgent) -> None:
    udp, tcp = free_udp_port(), _free_tcp_port()
    config = write_node(tmp_path, _conf(udp, tcp), EXTENSIONS)
    node = start_node(tmp_path, config, udp, "-v")
    try:
        await trio.to_thread.run_sync(wait_for_log, node, f"Serving metrics on http://127.0.0.1:{tcp}")
        idle = await _scrape(tcp)
        assert _value(idle, "asterisk_channels_count") == 0
        assert _value(idle, "pbxedge_channels_ended_total", cause="16") is None

        call = agent.call(("127.0.0.1", udp), "600", Account(username="alice",
                                                             secret="wonderland"))
        with trio.fail_after(LIMIT):
            await call.answered.wait()
        for _ in range(10):
            agent.send_voice(call, b"\xff" * 160, 160)
            agent.flush()
            await trio.sleep(0.02)
        during = await _scrape(tcp)
        assert _value(during, "asterisk_channels_count") == 1
        assert _value(during, "asterisk_calls_count") == 1
        assert _value(during, "asterisk_calls_sum") == 1
        assert _value(during, "pbxedge_channels", state="up") == 1
        assert _value(during, "pbxedge_channels_started_total", direction="inbound") == 1
        [(name, labels)] = [key for key in during if key[0] == "asterisk_channels_state"]
        channel = dict(labels)["name"]
        assert channel.startswith("IAX2/alice-") and during[(name, labels)] == 6  # up
        assert _value(during, "pbxedge_call_jitter_seconds", name=channel) is not None
        assert _value(during, "pbxedge_call_loss_ratio", name=channel) == 0
        assert (_value(during, "pbxedge_iax2_datagrams_received_total") or 0) >= 10
        assert (_value(during, "process_resident_memory_bytes") or 0) > 0
        assert _value(during, "process_cpu_seconds_total") is not None

        agent.hangup(call, 16)
        refused = agent.call(("127.0.0.1", udp), "600", Account(username="alice",
                                                                secret="wrong"))
        with trio.fail_after(LIMIT):
            await call.ended.wait()
            await refused.ended.wait()
        await trio.to_thread.run_sync(wait_for_log, node, "Hungup 'IAX2/alice-")
        after = await _scrape(tcp)
        assert _value(after, "asterisk_channels_count") == 0
        assert _value(after, "pbxedge_channels_ended_total", cause="16") == 1
        assert _value(after, "pbxedge_iax2_rejects_total", cause="No authority found") == 1

        assert (await trio.to_thread.run_sync(_get, tcp, "/other"))[0] == 404
        assert (await trio.to_thread.run_sync(_get, tcp, "/metrics", "POST"))[0] == 405
        head = await trio.to_thread.run_sync(_get, tcp, "/metrics", "HEAD")
        assert head[0] == 200 and head[2] == ""
    finally:
        stop(node)


async def test_a_reload_moves_the_endpoint(tmp_path: Path) -> None:
    udp, first, second = free_udp_port(), _free_tcp_port(), _free_tcp_port()
    config = write_node(tmp_path, _conf(udp, first), EXTENSIONS)
    node = start_node(tmp_path, config, udp, "-v")
    try:
        await trio.to_thread.run_sync(wait_for_log, node, f"http://127.0.0.1:{first}/")
        assert _value(await _scrape(first), "asterisk_channels_count") == 0
        config.write_text(_conf(udp, second))
        assert "reloaded successfully" in node.pbxedge("-rx", "iax2 reload").stdout
        await trio.to_thread.run_sync(wait_for_log, node, f"http://127.0.0.1:{second}/")
        samples = await _scrape(second)
        assert (_value(samples, "asterisk_core_last_reload_seconds") or 99) < 10
        with pytest.raises(urllib.error.URLError):
            _get(first)
    finally:
        stop(node)
