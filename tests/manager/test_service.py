"""The manager service in-process on loopback: session rules (auth timeout and limit, single
login, event masks, timestamps), the reload hook, and actions that fail."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest
import trio

from dialplan.engine import Engine
from dialplan.loader import parse_dialplan_text
from pbxedge.control.registry import CommandRegistry
from pbxedge.events import EventBus, PeerStatus, Reload, UserEvent
from pbxedge.manager.config import ManagerConfig, ManagerUser
from pbxedge.manager.permissions import ALL
from pbxedge.manager.service import ManagerService
from pbxedge.manager.state import ManagerContext
from pbxedge.manager.wire import MAX_LINE
from tests.integration.amiclient import AmiClient, event_is, pairs

USERS = {
    "admin": ManagerUser("admin", "pw", read=ALL, write=ALL),
    "solo": ManagerUser("solo", "pw", read=ALL, write=ALL, allowmultiplelogin=False),
}
CONFIG = ManagerConfig(enabled=True, port=0, bindaddr="127.0.0.1", authtimeout=1,
                       authlimit=2, users=USERS)

Start = Callable[..., Awaitable[tuple[ManagerService, int]]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    async with trio.open_nursery() as nursery:
        async def starter(config: ManagerConfig = CONFIG,
                          context: ManagerContext | None = None) -> tuple[ManagerService, int]:
            engine = Engine(parse_dialplan_text("[c]\nexten => s,1,NoOp()\n"))
            service = ManagerService(config, EventBus(),
                                     context or ManagerContext(engine, CommandRegistry()))
            await nursery.start(service.run)
            return service, service.addresses[0][1]

        yield starter
        nursery.cancel_scope.cancel()


async def test_an_unauthenticated_connection_is_closed_after_authtimeout(start: Start) -> None:
    _, port = await start()
    client = await AmiClient.connect(port)
    await client.line()
    started = trio.current_time()
    assert await client.closed()
    assert 0.9 <= trio.current_time() - started < 5


async def test_beyond_authlimit_unauthenticated_connections_are_refused(start: Start) -> None:
    _, port = await start(replace(CONFIG, authtimeout=30))
    waiting = [await AmiClient.connect(port) for _ in range(2)]
    await waiting[1].line()  # both are served now
    refused = await AmiClient.connect(port)
    with pytest.raises(EOFError):
        await refused.line()  # closed without a banner
    assert dict(await waiting[0].login("admin", "pw"))["Response"] == "Success"
    allowed = await AmiClient.connect(port)  # one fewer waiting: room again
    assert await allowed.line() == b"Asterisk Call Manager/11.0.0\r\n"


async def test_allowmultiplelogin_no_refuses_a_second_session(start: Start) -> None:
    _, port = await start(replace(CONFIG, authtimeout=30))
    first = await AmiClient.connect(port)
    assert dict(await first.login("solo", "pw"))["Message"] == "Authentication accepted"
    second = await AmiClient.connect(port)
    assert dict(await second.login("solo", "pw"))["Message"] == "Login Already In Use"
    assert await second.closed()


async def test_event_masks_and_timestamps(start: Start) -> None:
    service, port = await start(replace(CONFIG, timestampevents=True))
    client = await AmiClient.connect(port)
    await client.login("admin", "pw", events="system")
    service.state.bus.publish(UserEvent("Ignored"))  # user class: not asked for
    service.state.bus.publish(PeerStatus("phone1", "Reachable"))
    event = await client.until(event_is("PeerStatus"))
    assert [k for k, _ in event][:3] == ["Event", "Privilege", "Timestamp"]
    assert re.fullmatch(r"\d+\.\d{6}", dict(event)["Timestamp"])
    await client.send(("Action", "Events"), ("EventMask", "off"))
    assert dict(pairs(await client.message()))["Events"] == "Off"
    service.state.bus.publish(PeerStatus("phone1", "Lagged"))
    await client.send(("Action", "Ping"), ("ActionID", "after"))
    assert dict(pairs(await client.message()))["ActionID"] == "after"  # nothing in between


async def test_reload_calls_the_nodes_hook(start: Start) -> None:
    asked: list[str | None] = []
    bus_holder: list[ManagerService] = []

    async def reload(module: str | None) -> str | None:
        asked.append(module)
        if module == "nosuch":
            return "No such module"
        bus_holder[0].state.bus.publish(Reload(module or "all"))
        return None

    engine = Engine(parse_dialplan_text("[c]\nexten => s,1,NoOp()\n"))
    service, port = await start(context=ManagerContext(engine, CommandRegistry(), reload=reload))
    bus_holder.append(service)
    client = await AmiClient.connect(port)
    await client.login("admin", "pw")
    await client.send(("Action", "Reload"), ("Module", "chan_iax2.so"), ("ActionID", "r1"))
    assert await client.message() == (
        b"Response: Success\r\nActionID: r1\r\nMessage: Module Reloaded\r\n\r\n")
    reloaded = await client.until(event_is("Reload"))
    assert reloaded[2:] == [("Module", "chan_iax2.so"), ("Status", "0")]
    await client.send(("Action", "Reload"), ("Module", "nosuch"), ("ActionID", "r2"))
    assert dict(pairs(await client.message()))["Message"] == "No such module"
    assert asked == ["chan_iax2.so", "nosuch"]


async def test_an_action_that_fails_is_answered_and_the_session_goes_on(
        start: Start, caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine(parse_dialplan_text("[c]\nexten => s,1,NoOp()\n"))
    engine.services.dialer = object()  # type: ignore[assignment]  # a dialer without originate
    _, port = await start(context=ManagerContext(engine, CommandRegistry()))
    client = await AmiClient.connect(port)
    await client.login("admin", "pw", events="off")
    await client.send(("Action", "Originate"), ("Channel", "IAX2/x/1"),
                      ("Application", "Wait"), ("ActionID", "o"))
    assert await client.message() == (
        b"Response: Error\r\nActionID: o\r\nMessage: Originate failed\r\n\r\n")
    assert "Manager action Originate from 127.0.0.1 failed" in caplog.text
    await client.send(("Action", "Ping"), ("ActionID", "p"))
    assert dict(pairs(await client.message()))["Ping"] == "Pong"


async def test_an_oversized_line_closes_the_connection(start: Start) -> None:
    _, port = await start()
    client = await AmiClient.connect(port)
    await client.login("admin", "pw", events="off")
    await client.stream.send_all(b"Action: Ping\r\nX: " + b"y" * MAX_LINE + b"\r\n\r\n")
    assert await client.closed()
