"""Reloading a real node while calls are up: ``iax2 reload``, ``reload``, SIGHUP.

The node answers ``600`` and, for ``700``, dials its own peer ``loop`` (itself, as user
``keep``), so a call runs over a configured peer. The test agent calls in while the
configuration changes under it.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import trio

from pbxedge.load.agent import Account, AgentCall, CallAgent
from tests.integration.conftest import RunningNode, free_udp_port, start_node
from tests.integration.nodes import stop, wait_for_log, write_node

LIMIT = 20.0  # seconds a test may wait for what must come; only reached when broken
T = TypeVar("T")

EXTENSIONS = """[calls]
exten => 600,1,Answer()
 same => n,Wait(60)
exten => 700,1,Dial(IAX2/loop/600)
 same => n,Verbose(1,DIALSTATUS ${DIALSTATUS})
 same => n,Hangup()
"""


def _user(name: str) -> str:
    return f"\n[{name}]\ntype = user\nsecret = {name}-secret\ncontext = calls\n"


def _iax_conf(ports: list[int], *, users: list[str], loop: bool = True, extra: str = "") -> str:
    binds = "".join(f"bindaddr = 127.0.0.1:{port}\n" for port in ports)
    loop_peer = (f"\n[loop]\ntype = peer\nhost = 127.0.0.1\nport = {ports[0]}\n"
                 "username = keep\nsecret = keep-secret\n") if loop else ""
    guest = "\n[guest]\ntype = user\ncontext = calls\n"
    return (f"[general]\n{binds}disallow = all\nallow = ulaw\n{extra}"
            + guest + "".join(_user(u) for u in users) + loop_peer)


async def _blocking(function: Callable[..., T], *args: object) -> T:
    """A blocking helper (the node's console, its log) without stalling the agent."""
    return await trio.to_thread.run_sync(function, *args)


async def _console(node: RunningNode, command: str) -> str:
    done = await _blocking(node.pbxedge, "-rx", command)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _account(name: str) -> Account:
    return Account(username=name, secret=f"{name}-secret")


async def _answered(agent: CallAgent, port: int, exten: str,
                    account: Account | None = None) -> AgentCall:
    call = agent.call(("127.0.0.1", port), exten, account)
    with trio.fail_after(LIMIT):
        while not call.answered.is_set():
            assert not call.ended.is_set(), f"call to {exten} ended: {call.cause_text}"
            await trio.sleep(0.01)
    return call


async def _refused(agent: CallAgent, port: int, exten: str, account: Account) -> AgentCall:
    call = agent.call(("127.0.0.1", port), exten, account)
    with trio.fail_after(LIMIT):
        await call.ended.wait()
    assert not call.answered.is_set()
    return call


async def test_reload_with_calls_up(tmp_path: Path, agent: CallAgent) -> None:
    port = free_udp_port()
    config = write_node(tmp_path, _iax_conf([port], users=["keep", "old"]), EXTENSIONS)
    node = start_node(tmp_path, config, port, "-vvv")
    try:
        await _blocking(wait_for_log, node, "pbxedge Ready.")
        by_old = await _answered(agent, port, "600", _account("old"))
        over_loop = await _answered(agent, port, "700")  # through the peer "loop"
        await _refused(agent, port, "600", _account("new"))

        # "old" and the peer "loop" go, "new" comes.
        config.write_text(_iax_conf([port], users=["keep", "new"], loop=False))
        assert await _console(node, "iax2 reload") == (
            "Module 'chan_iax2.so' reloaded successfully.\n")
        by_new = await _answered(agent, port, "600", _account("new"))  # at once
        await _refused(agent, port, "600", _account("old"))
        await _refused(agent, port, "700", Account())
        await _blocking(wait_for_log, node, "DIALSTATUS CHANUNAVAIL")  # no peer "loop" now
        channels = await _console(node, "core show channels")
        assert "IAX2/old-" in channels and "IAX2/loop-" in channels
        await trio.sleep(1.0)  # the removed accounts' calls go on
        assert by_old.up and over_loop.up and by_new.up

        # A broken file changes nothing and names its line.
        config.write_text(_iax_conf([port], users=["keep", "third"], loop=False)
                          + "\n[broken]\ntype = user\nmaxauthreq = lots\n")
        reply = await _console(node, "reload")
        line = len(config.read_text().splitlines())
        assert f"{config}:{line}: error: maxauthreq:" in reply
        assert reply.endswith("the running configuration stays.\n")
        logged = await _blocking(wait_for_log, node, f"{config}:{line}: error: maxauthreq:")
        assert "ERROR[" in logged
        await _refused(agent, port, "600", _account("third"))
        again = await _answered(agent, port, "600", _account("new"))

        # SIGHUP does what "reload" does.
        config.write_text(_iax_conf([port], users=["keep", "third"], loop=False))
        node.process.send_signal(signal.SIGHUP)
        await _blocking(wait_for_log, node, "Reloaded chan_iax2.so, logger, pbx_config.so")
        by_third = await _answered(agent, port, "600", _account("third"))

        for call in (by_old, over_loop, by_new, again, by_third):
            assert call.up
            agent.hangup(call)
        for name in ("old", "loop"):
            hungup = await _blocking(wait_for_log, node, f"Hungup 'IAX2/{name}-")
            assert hungup.endswith("(cause 16)")  # ended by our hangup, not by the reload
    finally:
        stop(node)
    assert node.process.returncode == 0


async def test_bindaddr_changes_rebind_without_touching_the_kept_socket(
        tmp_path: Path, agent: CallAgent) -> None:
    first, second = free_udp_port(), free_udp_port()
    config = write_node(tmp_path, _iax_conf([first], users=["keep"]), EXTENSIONS)
    node = start_node(tmp_path, config, first, "-vvv")
    try:
        await _blocking(wait_for_log, node, "pbxedge Ready.")
        on_first = await _answered(agent, first, "600")

        config.write_text(_iax_conf([first, second], users=["keep"]))
        assert "reloaded successfully" in await _console(node, "module reload chan_iax2.so")
        await _blocking(wait_for_log, node, f"listening on 127.0.0.1:{second}")
        on_second = await _answered(agent, second, "600")

        config.write_text(_iax_conf([second], users=["keep"]))
        assert "reloaded successfully" in await _console(node, "iax2 reload")
        await _blocking(wait_for_log, node, f"no longer listening on 127.0.0.1:{first}")
        await trio.sleep(0.5)
        assert on_second.up  # its socket stayed
        agent.hangup(on_second)
        agent.hangup(on_first)
    finally:
        stop(node)


def test_logger_conf_is_honoured_reloaded_and_rotated(tmp_path: Path) -> None:
    port = free_udp_port()
    config = write_node(tmp_path, _iax_conf([port], users=["keep"]), EXTENSIONS)
    (tmp_path / "logger.conf").write_text("[logfiles]\nconsole => notice,warning,error\n"
                                          "messages => notice,warning,error\n")
    node = start_node(tmp_path, config, port, "-v")
    logs = tmp_path / "var" / "log"
    try:
        wait_for_log(node, "pbxedge Ready.")
        assert "pbxedge Ready." in (logs / "messages").read_text()
        assert node.pbxedge("-rx", "logger rotate").stdout == ""
        assert "pbxedge Ready." in (logs / "messages.0").read_text()
        (tmp_path / "logger.conf").write_text(
            "[general]\ndateformat = %s\n[logfiles]\nconsole => notice,warning,error\n"
            "messages => notice,warning,error\nfull => verbose(9),notice\n")
        assert node.pbxedge("-rx", "logger reload").stdout == (
            "Module 'logger' reloaded successfully.\n")
        assert node.pbxedge("-rx", "iax2 reload").returncode == 0
        full = (logs / "full").read_text()
        assert "Reloaded chan_iax2.so" in full and "== users: 2, RSA keys: 0" in full  # verbose(9)
        assert re.search(r"^\[\d{10}\] NOTICE\[\d+\] reload.py: Reloaded chan_iax2", full, re.M)
        shown = node.pbxedge("-rx", "logger show channels").stdout
        assert f"{logs}/full" in shown and "File" in shown
    finally:
        stop(node)
