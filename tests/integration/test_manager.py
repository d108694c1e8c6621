"""The manager interface of a real node: byte layouts on a raw socket, logins (plain, MD5,
from a denied address), a call's events from NEW to hangup, and a client that stops
reading while a thousand events fire. Every action through unmodified panoramisk is in
test_manager_panoramisk.py."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest
import trio

from pbxedge.load.agent import AgentCall, CallAgent
from tests.integration.amiclient import AmiClient, Pairs, event_is, pairs
from tests.integration.managernode import FLOOD, ManagerNode, running_manager_node
from tests.integration.nodes import wait_for_log

LIMIT = 20.0
# A channel block, as Asterisk builds it (ami.md §5.1).
BLOCK = ["Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
         "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
         "Exten", "Priority", "Uniqueid", "Linkedid"]


@pytest.fixture(scope="module")
def manager_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagerNode]:
    yield from running_manager_node(tmp_path_factory.mktemp("manager"))


# -- login, byte for byte --------------------------------------------------------------------


async def test_banner_refusal_login_ping_and_logoff_byte_for_byte(
        manager_node: ManagerNode) -> None:
    client = await AmiClient.connect(manager_node.ami)
    assert await client.line() == b"Asterisk Call Manager/11.0.0\r\n"
    await client.send(("Action", "Ping"), ("ActionID", "p0"))
    assert await client.message() == (
        b"Response: Error\r\nActionID: p0\r\nMessage: Permission denied\r\n\r\n")
    # panoramisk sends its keys sorted: ActionID before Action.
    await client.send(("ActionID", "2"), ("Action", "Login"), ("Secret", "amipass"),
                      ("Username", "admin"))
    assert await client.message() == (
        b"Response: Success\r\nActionID: 2\r\nMessage: Authentication accepted\r\n\r\n")
    booted = await client.message()
    assert re.fullmatch(rb"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: \d+\r\n"
                        rb"LastReload: \d+\r\nStatus: Fully Booted\r\n\r\n", booted)
    await client.send(("Action", "Ping"), ("ActionID", "3"))
    assert re.fullmatch(rb"Response: Success\r\nActionID: 3\r\nPing: Pong\r\n"
                        rb"Timestamp: \d+\.\d{6}\r\n\r\n", await client.message())
    await client.send(("Action", "Login"), ("Username", "admin"), ("Secret", "amipass"),
                      ("ActionID", "again"))
    assert await client.message() == (
        b"Response: Success\r\nActionID: again\r\nMessage: Already authenticated\r\n\r\n")
    await client.send(("Action", "NoSuchAction"), ("ActionID", "x"))
    assert await client.message() == (
        b"Response: Error\r\nActionID: x\r\nMessage: Invalid/unknown command: NoSuchAction. "
        b"Use Action: ListCommands to show available commands.\r\n\r\n")
    await client.send(("ActionID", "y"))
    assert await client.message() == (
        b"Response: Error\r\nActionID: y\r\nMessage: Missing action in request\r\n\r\n")
    await client.send(("Action", "Events"), ("EventMask", "call,system"), ("ActionID", "e1"))
    assert await client.message() == b"Response: Success\r\nActionID: e1\r\nEvents: On\r\n\r\n"
    await client.send(("Action", "Logoff"), ("ActionID", "4"))
    assert await client.message() == (
        b"Response: Goodbye\r\nActionID: 4\r\nMessage: Thanks for all the fish.\r\n\r\n")
    assert await client.closed()


async def test_a_failed_login_is_answered_after_a_second_then_closed(
        manager_node: ManagerNode) -> None:
    client = await AmiClient.connect(manager_node.ami)
    await client.line()
    started = trio.current_time()
    await client.send(("Action", "Login"), ("Username", "admin"), ("Secret", "wrong"),
                      ("ActionID", "1"))
    assert await client.message() == (
        b"Response: Error\r\nActionID: 1\r\nMessage: Authentication failed\r\n\r\n")
    assert trio.current_time() - started >= 1.0
    assert await client.closed()
    wait_for_log(manager_node.node, "127.0.0.1 failed to authenticate as 'admin'")


async def test_md5_challenge_login(manager_node: ManagerNode) -> None:
    client = await AmiClient.connect(manager_node.ami)
    await client.line()
    await client.send(("Action", "Challenge"), ("ActionID", "c0"))
    assert await client.message() == (
        b"Response: Error\r\nActionID: c0\r\nMessage: Must specify AuthType\r\n\r\n")
    await client.send(("Action", "Challenge"), ("AuthType", "MD5"), ("ActionID", "c1"))
    reply = pairs(await client.message())
    assert [key for key, _ in reply] == ["Response", "ActionID", "Challenge"]
    challenge = dict(reply)["Challenge"]
    assert challenge.isdigit()
    await client.send(("Action", "Challenge"), ("AuthType", "md5"))
    assert dict(pairs(await client.message()))["Challenge"] == challenge  # kept per session
    key = hashlib.md5(f"{challenge}amipass".encode()).hexdigest()
    await client.send(("Action", "Login"), ("AuthType", "MD5"), ("Username", "admin"),
                      ("Key", key), ("Events", "off"), ("ActionID", "c2"))
    assert await client.message() == (
        b"Response: Success\r\nActionID: c2\r\nMessage: Authentication accepted\r\n\r\n")
    # Events off: no FullyBooted; the next message is the reply to the next action.
    await client.send(("Action", "Ping"), ("ActionID", "c3"))
    assert dict(pairs(await client.message()))["ActionID"] == "c3"
    await client.close()


async def test_a_denied_address_cannot_log_in(manager_node: ManagerNode) -> None:
    client = await AmiClient.connect(manager_node.ami, source="127.0.0.2")
    await client.line()
    started = trio.current_time()
    await client.send(("Action", "Login"), ("Username", "admin"), ("Secret", "amipass"),
                      ("ActionID", "acl"))
    assert await client.message() == (
        b"Response: Error\r\nActionID: acl\r\nMessage: Authentication failed\r\n\r\n")
    assert trio.current_time() - started >= 1.0
    assert await client.closed()
    wait_for_log(manager_node.node, "127.0.0.2 failed to pass IP ACL as 'admin'")


async def test_a_user_without_the_class_is_refused(manager_node: ManagerNode) -> None:
    client = await AmiClient.connect(manager_node.ami)
    assert dict(await client.login("calls", "callpass"))["Message"] == "Authentication accepted"
    await client.send(("Action", "DBGet"), ("Family", "f"), ("Key", "k"), ("ActionID", "d"))
    assert await client.message() == (
        b"Response: Error\r\nActionID: d\r\nMessage: Permission denied\r\n\r\n")
    await client.close()


# -- a call, from NEW to hangup ---------------------------------------------------------------


def keys(event: Pairs) -> list[str]:
    return [key for key, _ in event]


def body(event: Pairs) -> list[str]:
    """The keys after Event, Privilege and the channel block."""
    return keys(event)[2 + len(BLOCK):]


async def _answered(agent: CallAgent, port: int, exten: str) -> AgentCall:
    call = agent.call(("127.0.0.1", port), exten)
    with trio.fail_after(LIMIT):
        await call.answered.wait()
    return call


async def test_the_events_of_one_call_from_new_to_hangup(manager_node: ManagerNode,
                                                         agent: CallAgent) -> None:
    admin = await AmiClient.connect(manager_node.ami)
    await admin.login()
    calls = await AmiClient.connect(manager_node.ami)  # read=call, without Newstate
    await calls.login("calls", "callpass")
    call = await _answered(agent, manager_node.iax, "echo")
    events: list[Pairs] = []

    def of_the_call(event: Pairs) -> bool:  # not FullyBooted, nor a registration refresh
        return dict(event)["Privilege"] != "system,all"

    while True:
        event = await admin.until(of_the_call)
        events.append(event)
        if event_is("Newexten", Application="Echo")(event):
            break
    # A digit as a phone sends it: BEGIN, 100 ms, END; Echo sends it back.
    agent.endpoint.send_dtmf(call.callno, "5", trio.current_time(), begin=True)
    agent.flush()
    await trio.sleep(0.1)
    agent.endpoint.send_dtmf(call.callno, "5", trio.current_time())
    agent.flush()
    with trio.fail_after(LIMIT):
        while "5" not in call.digits:
            await trio.sleep(0.02)
    agent.hangup(call)
    agent.flush()
    while not event_is("Hangup")(events[-1]):
        events.append(await admin.until(of_the_call))
    names = [dict(e)["Event"] for e in events]
    assert names == ["Newchannel", "Newexten", "Newstate", "Newexten", "DTMFBegin", "DTMFBegin",
                     "DTMFEnd", "DTMFEnd", "HangupRequest", "Cdr", "Hangup"]
    by_name = {dict(e)["Event"] + dict(e).get("Direction", ""): e for e in events}
    channel_events = [e for e in events if dict(e)["Event"] != "Cdr"]
    for event in channel_events:
        assert keys(event)[:2] == ["Event", "Privilege"]
        assert keys(event)[2:2 + len(BLOCK)] == BLOCK, event
    assert [body(e) for e in channel_events] == [
        [], ["Extension", "Application", "AppData"], [], ["Extension", "Application", "AppData"],
        ["Digit", "Direction"], ["Digit", "Direction"],
        ["Digit", "DurationMs", "Direction"], ["Digit", "DurationMs", "Direction"],
        ["Cause"], ["Cause", "Cause-txt"]]
    new = dict(by_name["Newchannel"])
    assert (new["Privilege"], new["ChannelState"], new["ChannelStateDesc"]) == (
        "call,all", "4", "Ring")
    assert (new["Context"], new["Exten"], new["Priority"]) == ("media", "echo", "1")
    assert new["CallerIDNum"] == "2001" and new["ConnectedLineNum"] == "<unknown>"
    assert new["Linkedid"] == new["Uniqueid"] and new["Language"] == "en"
    assert re.fullmatch(r"IAX2/127\.0\.0\.1:\d+-\d+", new["Channel"])
    assert dict(by_name["Newstate"])["ChannelStateDesc"] == "Up"
    assert dict(events[1])["Privilege"] == "dialplan,all"
    assert [(dict(e)["Priority"], dict(e)["Application"]) for e in (events[1], events[3])] == [
        ("1", "Answer"), ("2", "Echo")]
    assert dict(by_name["DTMFBeginReceived"])["Privilege"] == "dtmf,all"
    assert dict(by_name["DTMFEndReceived"])["DurationMs"] == "0"  # IAX2 END has no duration
    assert 80 <= int(dict(by_name["DTMFEndSent"])["DurationMs"]) <= 1000
    assert dict(by_name["HangupRequest"])["Cause"] == "16"
    hangup = dict(by_name["Hangup"])
    assert (hangup["Cause"], hangup["Cause-txt"], hangup["Priority"]) == (
        "16", "Normal Clearing", "2")
    cdr = dict(by_name["Cdr"])
    assert keys(by_name["Cdr"]) == [
        "Event", "Privilege", "AccountCode", "Source", "Destination", "DestinationContext",
        "CallerID", "Channel", "DestinationChannel", "LastApplication", "LastData",
        "StartTime", "AnswerTime", "EndTime", "Duration", "BillableSeconds", "Disposition",
        "AMAFlags", "UniqueID", "UserField"]
    assert (cdr["Privilege"], cdr["Destination"], cdr["LastApplication"], cdr["Disposition"],
            cdr["UniqueID"]) == ("cdr,all", "echo", "Echo", "ANSWERED", new["Uniqueid"])
    # The empty values keep their space: the layout Asterisk sends.
    raw_cdr = "".join(f"{k}: {v}\r\n" for k, v in by_name["Cdr"])
    assert "AccountCode: \r\n" in raw_cdr and "UserField: \r\n" in raw_cdr
    # The call-class reader saw the call events, without DTMF or dialplan ones and without
    # the Newstate its eventfilter excludes.
    seen = []
    while not seen or seen[-1] != "Hangup":
        seen.append(dict(pairs(await calls.message()))["Event"])
    assert seen == ["Newchannel", "HangupRequest", "Hangup"]
    await admin.close()
    await calls.close()


# -- a client that stops reading --------------------------------------------------------------


async def test_a_client_that_stops_reading_is_dropped_while_the_node_serves_calls(
        manager_node: ManagerNode, agent: CallAgent) -> None:
    stalled = await AmiClient.connect(manager_node.ami, receive_buffer=4096)
    await stalled.login()
    reader = await AmiClient.connect(manager_node.ami)
    await reader.login()
    flood = agent.call(("127.0.0.1", manager_node.iax), "flood")
    sequence = []
    with trio.fail_after(LIMIT):
        while len(sequence) < FLOOD:
            event = await reader.until(event_is("UserEvent", UserEvent="Flood"))
            sequence.append(int(dict(event)["Seq"]))
    assert sequence == list(range(FLOOD))
    wait_for_log(manager_node.node, "Manager 'admin' from 127.0.0.1 dropped: it stopped "
                                    "reading")
    # The node went on serving calls: a new one is answered and echoes.
    call = await _answered(agent, manager_node.iax, "echo")
    with trio.fail_after(LIMIT):
        while "7" not in call.digits:  # until Echo runs (Answer waits for voice first)
            agent.send_dtmf(call, "7")
            agent.flush()
            await trio.sleep(0.2)
    agent.hangup(call)
    agent.flush()
    assert flood.answered.is_set()
    # The stalled client finds its connection closed once it reads again.
    assert await stalled.closed()
    await reader.close()


async def test_iaxnetstats_sends_bare_lines(manager_node: ManagerNode,
                                            agent: CallAgent) -> None:
    call = await _answered(agent, manager_node.iax, "wait")
    client = await AmiClient.connect(manager_node.ami)
    await client.login(events="off")
    await client.send(("Action", "IAXnetstats"), ("ActionID", "ns"))
    with trio.fail_after(LIMIT):
        data = b""
        while not data.endswith(b"\n\r\n"):
            data += await client.stream.receive_some(4096)
    # One line per call, ast_cli_netstats' columns without widths, names padded to 7.
    assert re.fullmatch(rb"IAX2/127\.0\.0\.1:\d+-\d+ \d+ -1 0 -1 -1 0 \d+ 0 "
                        rb"(-?\d+ ){7}Rx:NEW     [RT]x:\w+ *\n\r\n", data), data
    agent.hangup(call)
    agent.flush()
    await client.close()


async def test_dial_registration_and_peer_events(manager_node: ManagerNode,
                                                 agent: CallAgent) -> None:
    admin = await AmiClient.connect(manager_node.ami)
    await admin.login()
    call = await _answered(agent, manager_node.iax, "dialself")
    begin = await admin.until(event_is("DialBegin"))
    prefixed = [f"Dest{key}" for key in BLOCK]
    assert keys(begin) == ["Event", "Privilege", *BLOCK, *prefixed, "DialString"]
    values = dict(begin)
    assert values["DialString"] == f"guest@127.0.0.1:{manager_node.iax}/echo"
    assert (values["Exten"], values["DestChannelStateDesc"]) == ("dialself", "Down")
    assert values["DestLinkedid"] == values["Linkedid"] == values["Uniqueid"]
    end = dict(await admin.until(event_is("DialEnd")))
    assert (end["DialStatus"], end["DestChannel"]) == ("ANSWER", values["DestChannel"])
    agent.hangup(call)
    agent.flush()
    await admin.until(event_is("Hangup", Channel=values["DestChannel"]))

    # The node registers to itself: the registrar side tells PeerStatus, the client Registry.
    await admin.send(("Action", "Command"), ("Command", "iax2 unregister selfreg"))
    assert dict(await admin.until(event_is("PeerStatus")))["PeerStatus"] == "Unregistered"
    await admin.send(("Action", "Command"), ("Command", "iax2 register now selfreg"))
    registered = await admin.until(event_is("PeerStatus"))
    assert registered == [("Event", "PeerStatus"), ("Privilege", "system,all"),
                          ("ChannelType", "IAX2"), ("Peer", "IAX2/selfreg"),
                          ("PeerStatus", "Registered"), ("Address", "127.0.0.1")]
    registry = await admin.until(event_is("Registry"))
    assert registry == [("Event", "Registry"), ("Privilege", "system,all"),
                        ("ChannelType", "IAX2"), ("Username", "selfreg"),
                        ("Domain", f"127.0.0.1:{manager_node.iax}"), ("Status", "Registered")]
    await admin.close()
