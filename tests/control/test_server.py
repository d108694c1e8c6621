"""The console over its real Unix socket."""

from __future__ import annotations

import os
import socket
import stat
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import pytest
import trio

from pbxedge.config.iax import load_iax_config
from pbxedge.control.client import ControlClient, NotRunningError
from pbxedge.control.core_commands import CoreInfo, register_core_commands
from pbxedge.control.iax2_commands import register_iax2_commands
from pbxedge.control.limits import ConsoleLimits
from pbxedge.control.protocol import MAX_REQUEST_BYTES, encode_response
from pbxedge.control.registry import CommandContext, CommandRegistry
from pbxedge.control.server import ControlServer, ControlSocketError
from pbxedge.paths import resolve_paths

DATA = Path(__file__).parent / "data"
SECRETS = ["modemsecret", "md5secret", "plainsecret", "encsecret", "trunksecret"]


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Short on purpose: a Unix socket path must fit in 107 bytes.
    with tempfile.TemporaryDirectory(prefix="pbx-") as name:
        yield Path(name)


class Node:
    def __init__(self, state: Path, limits: ConsoleLimits | None = None) -> None:
        self.paths = resolve_paths(DATA / "iax.conf", state=state)
        self.stop_requests = 0
        config, _ = load_iax_config(self.paths.config)
        self.registry = CommandRegistry()
        register_core_commands(self.registry, CoreInfo(self.paths))
        register_iax2_commands(self.registry, lambda: config)
        self.server = ControlServer(self.paths.control_socket, self.registry, self._stop, limits)

    def _stop(self) -> None:
        self.stop_requests += 1

    async def execute(self, command: str) -> str:
        def blocking() -> str:
            with ControlClient(self.paths.control_socket) as client:
                return client.execute(command)

        return await trio.to_thread.run_sync(blocking)


@asynccontextmanager
async def running(state: Path, limits: ConsoleLimits | None = None) -> AsyncIterator[Node]:
    node = Node(state, limits)
    async with trio.open_nursery() as nursery:
        await nursery.start(node.server.run)
        yield node
        nursery.cancel_scope.cancel()


async def test_commands_over_the_socket(state_dir: Path) -> None:
    async with running(state_dir) as node:
        assert (await node.execute("core show version")).startswith("pbxedge 0.1.0 running on ")
        assert (await node.execute("iax2 show users")).startswith("Username ")
        assert await node.execute("frobnicate") == (
            "No such command 'frobnicate' "
            "(type 'core show help frobnicate' for other possible commands)\n")


async def test_socket_is_private_and_removed_on_shutdown(state_dir: Path) -> None:
    async with running(state_dir) as node:
        mode = os.stat(node.paths.control_socket).st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
    assert not node.paths.control_socket.exists()


async def test_one_connection_carries_many_requests(state_dir: Path) -> None:
    async with running(state_dir) as node:
        def session() -> list[str]:
            with ControlClient(node.paths.control_socket) as client:
                return [client.execute("core show uptime"), client.execute("help")]

        uptime, help_text = await trio.to_thread.run_sync(session)
        assert uptime.startswith("System uptime: ")
        assert "iax2 show users" in help_text


async def test_many_clients_at_once(state_dir: Path) -> None:
    results: list[str] = []
    async with running(state_dir) as node:
        async def client() -> None:
            results.append(await node.execute("iax2 show users"))

        async with trio.open_nursery() as nursery:
            for _ in range(12):
                nursery.start_soon(client)
    assert len(results) == 12
    assert len(set(results)) == 1


async def test_garbage_and_broken_clients_do_not_harm_the_node(state_dir: Path) -> None:
    async with running(state_dir) as node:
        path = str(node.paths.control_socket)
        # Invalid UTF-8 is just an unknown command.
        stream = await trio.open_unix_socket(path)
        await stream.send_all(b"\xff\xfe\x00garbage\n")
        reply = await stream.receive_some(4096)
        assert b"No such command" in reply
        await stream.aclose()
        # Too long a line gets an error and the connection is closed.
        stream = await trio.open_unix_socket(path)
        await stream.send_all(b"x" * (MAX_REQUEST_BYTES + 10))
        received = b""
        while chunk := await stream.receive_some(4096):
            received += chunk
        assert received.endswith(b"Command line too long\n")
        await stream.aclose()
        # Half a request, then gone; a request whose reply nobody reads.
        for data in (b"iax2 show", b"iax2 show peers\n" * 50):
            stream = await trio.open_unix_socket(path)
            await stream.send_all(data)
            await stream.aclose()
        assert (await node.execute("core show version")).startswith("pbxedge")


async def test_a_client_that_reads_no_replies_is_dropped(state_dir: Path) -> None:
    async with running(state_dir, ConsoleLimits(idle_timeout=0.3)) as node:
        reply = len(encode_response(await node.execute("help")))
        stream = await trio.open_unix_socket(str(node.paths.control_socket))
        requests = 2000  # far more output than the socket buffers hold
        await stream.send_all(b"help\n" * requests)
        await trio.sleep(1.0)
        received = 0
        with trio.fail_after(10):
            try:
                while chunk := await stream.receive_some(65536):
                    received += len(chunk)
            except trio.BrokenResourceError:
                pass  # reset: the node closed with requests still unread
        await stream.aclose()
        assert 0 < received < requests * reply
        assert (await node.execute("core show version")).startswith("pbxedge")


async def test_an_internal_error_only_drops_that_client(state_dir: Path) -> None:
    node = Node(state_dir)

    def not_text(ctx: CommandContext, args: list[str]) -> str:
        return cast(str, 42)  # a buggy handler that slipped past the type checker

    node.registry.register("core broken", not_text, summary="broken")
    async with trio.open_nursery() as nursery:
        await nursery.start(node.server.run)
        stream = await trio.open_unix_socket(str(node.paths.control_socket))
        await stream.send_all(b"core broken\n")
        assert await stream.receive_some(4096) == b""
        await stream.aclose()
        assert (await node.execute("core show version")).startswith("pbxedge")
        nursery.cancel_scope.cancel()


async def test_secrets_never_leave_the_console(state_dir: Path) -> None:
    async with running(state_dir) as node:
        config, _ = load_iax_config(node.paths.config)
        names = [*config.peers, *config.users]
        commands = [c.name for c in node.registry.commands() if c.name != "core stop now"]
        outputs = []
        for command in commands:
            outputs.append(await node.execute(command))
            for name in names:
                outputs.append(await node.execute(f"{command} {name}"))
        for text in outputs:
            for secret in SECRETS:
                assert secret not in text, f"secret leaked: {text!r}"


async def test_core_stop_now_answers_then_requests_stop(state_dir: Path) -> None:
    async with running(state_dir) as node:
        assert await node.execute("core stop now") == ""
        assert node.stop_requests == 1


async def test_stale_socket_is_replaced(state_dir: Path) -> None:
    path = resolve_paths(DATA / "iax.conf", state=state_dir).control_socket
    state_dir.mkdir(exist_ok=True)
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(path))
    leftover.close()  # the file stays, nobody listens: a crashed node's socket
    async with running(state_dir) as node:
        assert (await node.execute("core show version")).startswith("pbxedge")


async def test_second_instance_is_refused(state_dir: Path) -> None:
    async with running(state_dir) as node:
        second = Node(state_dir)
        with pytest.raises(ControlSocketError, match="another pbxedge instance is running"):
            second.server.bind()
        assert (await node.execute("core show version")).startswith("pbxedge")


def test_a_regular_file_in_the_way_is_not_deleted(state_dir: Path) -> None:
    node = Node(state_dir)
    node.paths.control_socket.write_text("precious")
    with pytest.raises(ControlSocketError, match="not a socket"):
        node.server.bind()
    assert node.paths.control_socket.read_text() == "precious"


def test_client_without_a_node_reports_the_socket(state_dir: Path) -> None:
    missing = state_dir / "pbxedge.ctl"
    with pytest.raises(NotRunningError) as caught:
        ControlClient(missing)
    assert str(caught.value) == f"Unable to connect to remote pbxedge (does {missing} exist?)"
