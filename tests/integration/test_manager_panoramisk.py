"""Every manager action through unmodified panoramisk (asyncio), against a real node.

panoramisk matches each reply to its request by ActionID, so every answer it resolves
proves the ActionID came back. IAXnetstats is the exception by design: Asterisk sends it
without Response and ActionID, so no client can match it; its bytes are checked raw.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.managernode import ManagerNode, running_manager_node

LIMIT = 20.0

Message = Any  # panoramisk.message.Message (untyped)


class Heard:
    """Events panoramisk dispatched (those no pending action claimed)."""

    def __init__(self) -> None:
        self.events: list[Message] = []

    def __call__(self, manager: object, event: Message) -> None:
        self.events.append(event)

    async def wait_for(self, name: str, **values: str) -> Message:
        async def found() -> Message:
            while True:
                for event in self.events:
                    if event.event == name and all(event[k] == v for k, v in values.items()):
                        return event
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(found(), LIMIT)


async def _logged_in(node: ManagerNode, heard: Heard, **config: str) -> Any:
    from panoramisk import Manager

    manager = Manager(host="127.0.0.1", port=node.ami, ping_delay=3600,
                      reconnect_timeout=3600, **config)
    manager.register_event("*", heard)
    await manager.connect()

    async def authenticated() -> None:
        while not manager.authenticated:
            await asyncio.sleep(0.02)

    if "username" in config:
        await asyncio.wait_for(authenticated(), LIMIT)
    return manager


def run(coroutine: Any) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 120))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagerNode]:
    yield from running_manager_node(tmp_path_factory.mktemp("panoramisk"))


def test_session_and_node_actions(node: ManagerNode) -> None:
    async def scenario() -> None:
        heard = Heard()
        manager = await _logged_in(node, heard, username="admin", secret="amipass")
        send = manager.send_action
        await heard.wait_for("FullyBooted", status="Fully Booted")

        pong = await send({"Action": "Ping"})
        assert pong.success and pong.ping == "Pong"
        assert (await send({"Action": "Events", "EventMask": "on"})).events == "On"
        commands = await send({"Action": "ListCommands"})
        assert commands.originate == "Originate a call.  (Priv: originate,all)"
        assert commands.ping == "Keepalive command.  (Priv: <none>)"
        challenge = await send({"Action": "Challenge", "AuthType": "MD5"})
        assert challenge.challenge.isdigit()

        output = await manager.send_command("iax2 show peers")
        assert output.success and output.message == "Command output follows"
        assert output.output[1].startswith("static1 ")
        assert output.output[-1] == "2 iax2 peers [0 online, 0 offline, 2 unmonitored]"
        unknown = await manager.send_command("iax2 show nosuch")
        assert unknown.response == "Error" and unknown.output.startswith("No such command")

        status = await send({"Action": "CoreStatus"})
        assert status.corecurrentcalls == "0" and len(status.corestartupdate) == 10
        settings = await send({"Action": "CoreSettings"})
        assert settings.amiversion == "11.0.0" and settings.asteriskversion.startswith("22.")

        peers = await send({"Action": "IAXpeers"})
        assert [m.event or m.response for m in peers] == ["Success", "PeerlistComplete"]
        entry = await heard.wait_for("PeerEntry", objectname="static1")  # no ActionID
        assert (entry.channeltype, entry.ipport, entry.status) == ("IAX2", "24570",
                                                                    "Unmonitored")
        peerlist = await send({"Action": "IAXpeerlist"})
        assert [m.event or m.response for m in peerlist] == ["Success", "PeerEntry", "PeerEntry",
                                                            "PeerlistComplete"]
        assert peerlist[1].channeltype == "IAX" and peerlist[1].port == "24570"
        assert (peerlist[2].objectname, peerlist[2].dynamic) == ("selfreg", "yes")
        registry = await send({"Action": "IAXregistry"})
        assert [m.event or m.response for m in registry] == ["Success", "RegistryEntry",
                                                            "RegistrationsComplete"]
        assert (registry[1].username, registry[1].host) == ("selfreg", f"127.0.0.1:{node.iax}")

        put = await send({"Action": "DBPut", "Family": "ami", "Key": "k", "Val": "v1"})
        assert put.message == "Updated database successfully"
        got = await send({"Action": "DBGet", "Family": "ami", "Key": "k"})
        assert [m.event or m.response for m in got] == ["Success", "DBGetResponse",
                                                        "DBGetComplete"]
        assert got[1].val == "v1"
        assert (await send({"Action": "DBDel", "Family": "ami", "Key": "k"})).success
        missing = await send({"Action": "DBGet", "Family": "ami", "Key": "k"})
        assert (missing.response, missing.message) == ("Error", "Database entry not found")

        assert (await send({"Action": "Setvar", "Variable": "GLOBALX", "Value": "7"})).success
        value = await send({"Action": "Getvar", "Variable": "GLOBALX"})
        assert (value.variable, value.value) == ("GLOBALX", "7")

        sent = await send({"Action": "UserEvent", "UserEvent": "Wallboard", "Queue": "sales"})
        assert sent.message == "Event Sent"
        assert (await heard.wait_for("UserEvent", userevent="Wallboard")).queue == "sales"

        reload = await send({"Action": "Reload", "Module": "chan_iax2.so"})
        assert (reload.response, reload.message) == ("Success", "Module Reloaded")
        reloaded = await heard.wait_for("Reload", module="chan_iax2.so")
        assert reloaded.status == "0"
        status = await send({"Action": "CoreStatus"})
        assert (status.corereloaddate, status.corereloadtime) >= (status.corestartupdate,
                                                                  status.corestartuptime)
        unknown = await send({"Action": "Reload", "Module": "app_nosuch.so"})
        assert (unknown.response, unknown.message) == ("Error", "No such module")

        bye = await send({"Action": "Logoff"})
        assert bye.response == "Goodbye"
        manager.close()

    run(scenario())


def test_md5_login_through_panoramisk(node: ManagerNode) -> None:
    async def scenario() -> None:
        manager = await _logged_in(node, Heard())  # no username: nothing sent by itself
        await asyncio.sleep(0.1)
        challenge = (await manager.send_action({"Action": "Challenge",
                                                "AuthType": "MD5"})).challenge
        key = hashlib.md5(f"{challenge}amipass".encode()).hexdigest()
        login = await manager.send_action({"Action": "Login", "AuthType": "MD5",
                                           "Username": "admin", "Key": key, "Events": "off"})
        assert login.success and login.message == "Authentication accepted"
        assert (await manager.send_action({"Action": "Ping"})).ping == "Pong"
        manager.close()

    run(scenario())


def test_originate_and_the_channel_actions(node: ManagerNode) -> None:
    target = f"IAX2/guest@127.0.0.1:{node.iax}"

    async def scenario() -> None:
        heard = Heard()
        manager = await _logged_in(node, heard, username="admin", secret="amipass")
        send = manager.send_action

        placed = await send({"Action": "Originate", "Channel": f"{target}/wait",
                             "Context": "media", "Exten": "wait", "Priority": "1",
                             "CallerID": '"AMI test" <100>', "Timeout": "10000",
                             "Variable": "ORIGIN=ami", "Async": "false"})
        assert (placed.response, placed.message) == ("Success", "Originate successfully queued")
        while True:  # the called side answers, then waits for the caller's audio a moment
            listing = await send({"Action": "CoreShowChannels"})
            channels = [m for m in listing if m.event == "CoreShowChannel"]
            assert len(channels) == 2 and listing[-1].listitems == "2"
            if {m.application for m in channels} == {"Wait"}:
                break
            await asyncio.sleep(0.1)
        assert {m.callerIDnum for m in channels} == {"100"}
        outgoing, incoming = sorted(channels, key=lambda m: m.uniqueid)
        assert outgoing.linkedid == outgoing.uniqueid

        name = await send({"Action": "Getvar", "Channel": outgoing.channel,
                           "Variable": "CHANNEL(name)"})
        assert name.value == outgoing.channel
        origin = await send({"Action": "Getvar", "Channel": outgoing.channel,
                             "Variable": "ORIGIN"})
        assert origin.value == "ami"
        assert (await send({"Action": "Setvar", "Channel": incoming.channel,
                            "Variable": "FOO", "Value": "bar"})).message == "Variable Set"
        assert (await send({"Action": "Getvar", "Channel": incoming.channel,
                            "Variable": "FOO"})).value == "bar"
        await heard.wait_for("VarSet", channel=incoming.channel, variable="FOO")

        moved = await send({"Action": "Redirect", "Channel": incoming.channel,
                            "Context": "media", "Exten": "moved", "Priority": "1"})
        assert moved.message == "Redirect successful"
        await heard.wait_for("UserEvent", userevent="Moved", where=incoming.channel)
        assert (await send({"Action": "Redirect", "Channel": "IAX2/nosuch-1",
                            "Context": "media", "Exten": "moved",
                            "Priority": "1"})).message == "Channel does not exist: IAX2/nosuch-1"

        hung = await send({"Action": "Hangup", "Channel": outgoing.channel, "Cause": "16"})
        assert hung.message == "Channel Hungup"
        await heard.wait_for("Hangup", channel=outgoing.channel, cause="16")
        await heard.wait_for("Hangup", channel=incoming.channel)
        gone = await send({"Action": "Hangup", "Channel": "IAX2/nosuch-1"})
        assert (gone.response, gone.message) == ("Error", "No such channel")

        queued, response = await send({"Action": "Originate", "Channel": f"{target}/echo",
                                       "Application": "Wait", "Data": "1", "Async": "true"})
        assert queued.message == "Originate successfully queued"
        assert (response.event, response.response, response.reason) == (
            "OriginateResponse", "Success", "4")
        assert (response.application, response.data) == ("Wait", "1")
        assert response.actionid == queued.actionid

        queued, busy = await send({"Action": "Originate", "Channel": f"{target}/busy",
                                   "Context": "media", "Exten": "wait", "Priority": "1",
                                   "Async": "true"})
        assert (busy.response, busy.reason, busy.uniqueid) == ("Failure", "5", "<unknown>")
        assert busy.channel == f"{target}/busy" and busy.callerIDnum == "<unknown>"

        failed = await send({"Action": "Originate", "Channel": "IAX2/nosuchpeer/1",
                             "Application": "Wait", "Data": "1", "Async": "false"})
        assert (failed.response, failed.message) == ("Error", "Originate failed")
        refused = await send({"Action": "Originate", "Channel": f"{target}/wait",
                              "Context": "media", "Exten": "nosuch", "Priority": "1",
                              "Async": "false"})
        assert refused.message == "Extension does not exist."
        manager.close()

    run(scenario())

