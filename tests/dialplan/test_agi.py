"""AGI with unmodified third-party peers: a pyst2 script (process AGI) and a panoramisk
FastAGI server, both on this machine only (pipes and 127.0.0.1)."""

from __future__ import annotations

import asyncio
import stat
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from dialplan.agi import _parse_agi_url
from dialplan.agi_protocol import parse_agi_args
from dialplan.call import EngineOptions
from dialplan.channel import Feature
from dialplan.engine import CallOutcome, Engine
from dialplan.loader import parse_dialplan_text
from dialplan.store import MemoryStore
from tests.dialplan.fakes import FakeChannel

DATA = Path(__file__).resolve().parents[1] / "data" / "dialplan"
ENV_ORDER = (
    "agi_request,agi_channel,agi_language,agi_type,agi_uniqueid,agi_version,agi_callerid,"
    "agi_calleridname,agi_callingpres,agi_callingani2,agi_callington,agi_callingtns,agi_dnid,"
    "agi_rdnis,agi_context,agi_extension,agi_priority,agi_enhanced,agi_accountcode,agi_threadid"
)


def launcher(tmp_path: Path, script: str) -> Path:
    """An executable wrapper running *script* with this interpreter (which has pyst2)."""
    path = tmp_path / f"run-{script}"
    path.write_text(f"#!/bin/sh\nexec {sys.executable} {DATA / script} \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


async def run_agi(app_line: str, *, options: EngineOptions | None = None,
                  store: MemoryStore | None = None, digits: str = "#") -> tuple[CallOutcome, FakeChannel]:
    plan = parse_dialplan_text(f"""
[c]
exten => 500,1,Set(GREETING=hello there)
 same => n,{app_line}
 same => n,NoOp(AGISTATUS=${{AGISTATUS}})
exten => after,1,NoOp(landed after the script)
""")
    channel = FakeChannel(caller_num="8005551212", features={Feature.PLAY}, digits=digits)
    engine = Engine(plan, store=store, options=options)
    outcome = await engine.start(channel, "c", "500")
    return outcome, channel


async def test_pyst2_script_round_trip(tmp_path: Path) -> None:
    store = MemoryStore()
    outcome, channel = await run_agi(f"AGI({launcher(tmp_path, 'pyst2_agi.py')},first arg)", store=store)
    variables = channel.variables
    assert variables["AGISTATUS"] == "SUCCESS"
    assert variables["FROM_SCRIPT"] == "first arg"
    assert variables["ECHOED"] == "hello there"
    assert variables["FULL"] == "8005551212-500"
    assert variables["DB"] == "on" and store.get("office", "nightmode") == "on"
    assert variables["STATUS"] == "6"  # up: the script answered first
    assert variables["VIA_EXEC"] == "yes"
    assert variables["LASTDIGIT"] == "#"
    assert variables["INVALID"] == "510"
    assert variables["USAGE"] == "520 End of proper usage."
    assert variables["ENV_ORDER"] == ENV_ORDER
    assert ("answer",) in channel.events and channel.played == ["demo-congrats"]
    # SET EXTENSION/PRIORITY from the script decide where the dialplan continues.
    assert outcome.trace[-1].exten == "after"


async def test_crashing_script_gives_failure(tmp_path: Path) -> None:
    outcome, channel = await run_agi(f"AGI({launcher(tmp_path, 'crashing_agi.py')})")
    assert channel.variables["AGISTATUS"] == "FAILURE"
    assert outcome.trace[-1].data == "AGISTATUS=FAILURE"  # the call went on


async def test_silent_script_times_out(tmp_path: Path) -> None:
    options = EngineOptions(agi_timeout=0.3)
    with trio.fail_after(20):
        outcome, channel = await run_agi(f"AGI({launcher(tmp_path, 'silent_agi.py')})", options=options)
    assert channel.variables["AGISTATUS"] == "FAILURE"
    assert outcome.trace[-1].data == "AGISTATUS=FAILURE"


async def test_missing_script_is_notfound() -> None:
    _, channel = await run_agi("AGI(/nonexistent/agi-script)")
    assert channel.variables["AGISTATUS"] == "NOTFOUND"


async def test_unreachable_fastagi_is_failure() -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    _, channel = await run_agi(f"AGI(agi://127.0.0.1:{port}/x)")
    assert channel.variables["AGISTATUS"] == "FAILURE"


class PanoramiskServer:
    """panoramisk's FastAGI Application, unchanged, in a thread with its own asyncio loop."""

    def __init__(self) -> None:
        from panoramisk.fast_agi import Application

        self.results: dict[str, Any] = {}
        self.loop = asyncio.new_event_loop()
        self.app = Application(loop=self.loop)
        self.app.add_route("office/check", self.route)
        self.app.add_route("office/slow", self.slow_route)
        server = self.loop.run_until_complete(asyncio.start_server(self.app.handler, "127.0.0.1", 0))
        self.server = server
        self.port = server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def route(self, request: Any) -> None:
        self.results["headers"] = dict(request.headers)
        for name, command in [
            ("answer", "ANSWER"),
            ("set", 'SET VARIABLE "FASTAGI" "hello world"'),
            ("get", 'GET VARIABLE "GREETING"'),
            ("missing", 'GET VARIABLE "NOPE"'),
            ("full", 'GET FULL VARIABLE "${CALLERID(num)}-${EXTEN}"'),
            ("stream", 'STREAM FILE demo-congrats "#"'),
            ("status", "CHANNEL STATUS"),
            ("put", "DATABASE PUT fam key value"),
            ("dbget", "DATABASE GET fam key"),
            ("exec", 'EXEC Set "VIA=exec"'),
            ("noop", "NOOP"),
            ("bogus", "FROBNICATE"),
        ]:
            self.results[name] = await request.send_command(command)

    async def slow_route(self, request: Any) -> None:
        await asyncio.sleep(30)  # never answers within the engine's agi_timeout

    def __enter__(self) -> PanoramiskServer:
        self.thread.start()
        return self

    async def shutdown(self) -> None:
        self.server.close()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.shutdown(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def panoramisk_server() -> Iterator[PanoramiskServer]:
    with PanoramiskServer() as server:
        yield server


async def test_panoramisk_fastagi_round_trip(panoramisk_server: PanoramiskServer) -> None:
    store = MemoryStore()
    with trio.fail_after(20):
        _, channel = await run_agi(f"AGI(agi://127.0.0.1:{panoramisk_server.port}/office/check,x,y)",
                                   store=store)
    results = panoramisk_server.results
    headers = results["headers"]
    assert headers["agi_network"] == "yes"
    assert headers["agi_network_script"] == "office/check"
    assert headers["agi_request"] == f"agi://127.0.0.1:{panoramisk_server.port}/office/check"
    assert (headers["agi_arg_1"], headers["agi_arg_2"]) == ("x", "y")
    assert headers["agi_callerid"] == "8005551212" and headers["agi_extension"] == "500"
    assert results["answer"]["result"] == ("0", "")
    assert results["get"]["result"] == ("1", "hello there")
    assert results["missing"]["result"] == ("0", "")
    assert results["full"]["result"] == ("1", "8005551212-500")
    assert results["stream"]["result"] == ("35", "") and results["stream"]["endpos"] == ("0", "")
    assert results["status"]["result"] == ("6", "")
    assert results["dbget"]["result"] == ("1", "value")
    assert results["exec"]["result"] == ("0", "")
    assert results["bogus"]["status_code"] == 510
    assert channel.variables["FASTAGI"] == "hello world"
    assert channel.variables["VIA"] == "exec"
    assert channel.variables["AGISTATUS"] == "SUCCESS"


async def test_slow_fastagi_server_times_out(panoramisk_server: PanoramiskServer) -> None:
    options = EngineOptions(agi_timeout=0.3)
    with trio.fail_after(20):
        _, channel = await run_agi(f"AGI(agi://127.0.0.1:{panoramisk_server.port}/office/slow)",
                                   options=options)
    assert channel.variables["AGISTATUS"] == "FAILURE"


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('SET VARIABLE "A B" "c"', ["SET", "VARIABLE", "A B", "c"]),
        ('STREAM FILE x ""', ["STREAM", "FILE", "x", ""]),
        (r"VERBOSE a\ b 1", ["VERBOSE", "a b", "1"]),
        (r'VERBOSE "say \"hi\"" 1', ["VERBOSE", 'say "hi"', "1"]),
        ("  NOOP   ", ["NOOP"]),
        ('EXEC Dial "IAX2/a,20"', ["EXEC", "Dial", "IAX2/a,20"]),
        ('x"y z"w', ["xy zw"]),
    ],
)
def test_argument_quoting(line: str, words: list[str]) -> None:
    assert parse_agi_args(line) == words


def test_agi_urls() -> None:
    assert _parse_agi_url("agi://host/script") == ("host", 4573, "script")
    assert _parse_agi_url("agi://host:4000/a/b") == ("host", 4000, "a/b")
    assert _parse_agi_url("agi://[::1]:4001/s") == ("::1", 4001, "s")
    assert _parse_agi_url("agi://host") == ("host", 4573, "")


class WirePeer:
    """A FastAGI peer written against the wire format, to check replies byte for byte."""

    def __init__(self, script: list[tuple[str, list[str]]]) -> None:
        self.script = script  # (command to send, reply lines expected)
        self.env: list[str] = []
        self.replies: list[list[str]] = []

    async def serve(self, stream: trio.SocketStream) -> None:
        buffer = b""

        async def line() -> str:
            nonlocal buffer
            while b"\n" not in buffer:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    raise EOFError
                buffer += chunk
            text, _, buffer = buffer.partition(b"\n")
            return text.decode()

        while (text := await line()) != "":
            self.env.append(text)
        for command, expected in self.script:
            if command:
                await stream.send_all(command.encode() + b"\n")
            self.replies.append([await line() for _ in expected])
        await stream.aclose()


async def run_wire(script: list[tuple[str, list[str]]], extra_dialplan: str = "",
                   features: frozenset[Feature] = frozenset({Feature.PLAY, Feature.DTMF_IN, Feature.RECORD}),
                   digits: str = "", caller_hangs_up_after: float | None = None,
                   ) -> tuple[WirePeer, CallOutcome, FakeChannel]:
    peer = WirePeer(script)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, peer.serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        plan = parse_dialplan_text(f"[c]\nexten => 7,1,AGI(agi://127.0.0.1:{port}/wire)\n"
                                   f" same => n,NoOp(${{AGISTATUS}})\n{extra_dialplan}")
        channel = FakeChannel(features=set(features), digits=digits)
        if caller_hangs_up_after is not None:
            async def hang_up_later(delay: float) -> None:
                await trio.sleep(delay)
                channel.caller_hangs_up()

            nursery.start_soon(hang_up_later, caller_hangs_up_after)
        with trio.fail_after(20):
            outcome = await Engine(plan, store=MemoryStore()).start(channel, "c", "7")
        nursery.cancel_scope.cancel()
    return peer, outcome, channel


async def test_wire_replies_usage_and_unknown() -> None:
    peer, outcome, channel = await run_wire([
        ("SET VARIABLE onlyname", ["520-Invalid command syntax.  Proper usage follows:",
                                   "Usage: SET VARIABLE <variablename> <value>",
                                   "520 End of proper usage."]),
        ("frobnicate", ["510 Invalid or unknown command"]),
        ("set variable X 1", ["200 result=1"]),
        ("GET VARIABLE X", ["200 result=1 (1)"]),
        ("GET VARIABLE CALLERID(num)", ["200 result=1 (2001)"]),
        ("DATABASE GET fam key", ["200 result=0"]),
        ("DATABASE PUT fam key v", ["200 result=1"]),
        ("DATABASE GET fam key", ["200 result=1 (v)"]),
        ("DATABASE DEL fam key", ["200 result=1"]),
        ("DATABASE DEL fam key", ["200 result=0"]),
        ("VERBOSE \"hello there\" 1", ["200 result=1"]),
        ("EXEC NoSuchApp x", ["200 result=-2"]),
        ("STREAM FILE welcome \"#\"", ["200 result=35 endpos=0"]),
        ("SAY DIGITS 12 \"\"", ["200 result=0"]),
        ("WAIT FOR DIGIT 1000", ["200 result=0"]),
        ("GET DATA prompt 100 3", ["200 result= (timeout)"]),
        ("RECORD FILE msg wav \"#\" 5000 s=2", ["200 result=0 (timeout) endpos=0"]),
        ("SET EXTENSION 8", ["200 result=0"]),
        ("SET PRIORITY 2", ["200 result=0"]),
        ("CHANNEL STATUS", ["200 result=4"]),
        ("NOOP", ["200 result=0"]),
    ], extra_dialplan="exten => 8,1,NoOp(one)\n same => n,NoOp(two)\n", digits="#")
    assert [reply for reply in peer.replies] == [expected for _, expected in peer.script]
    assert peer.env[:2] == ["agi_network: yes", "agi_network_script: wire"]
    assert channel.played == ["welcome", "digits/1", "digits/2", "prompt"]
    assert channel.variables["X"] == "1"
    assert [(s.exten, s.data) for s in outcome.trace][-1] == ("8", "two")


async def test_wire_hangup_then_dead_channel() -> None:
    peer, outcome, channel = await run_wire([
        ("ANSWER", ["200 result=0"]),
        ("HANGUP", ["200 result=1", "HANGUP"]),
        ("ANSWER", ["511 Command Not Permitted on a dead channel or intercept routine"]),
        ("GET VARIABLE AGISTATUS", ["200 result=0"]),
    ], extra_dialplan="exten => h,1,NoOp(h ran)\n")
    assert [reply for reply in peer.replies] == [expected for _, expected in peer.script]
    assert channel.variables["AGISTATUS"] == "HANGUP"
    assert [s.data for s in outcome.trace][-1] == "h ran"


async def test_wire_media_without_media_support() -> None:
    peer, _, channel = await run_wire([
        ("STREAM FILE welcome \"#\"", ["200 result=-1 endpos=0"]),
        ("WAIT FOR DIGIT 100", ["200 result=-1"]),
    ], features=frozenset())
    assert [reply for reply in peer.replies] == [expected for _, expected in peer.script]
    assert channel.variables["AGISTATUS"] == "SUCCESS"


async def test_script_hears_of_a_hangup_while_it_is_silent() -> None:
    peer, outcome, channel = await run_wire([
        ("ANSWER", ["200 result=0"]),
        ("", ["HANGUP"]),  # the peer sends nothing; the caller hangs up meanwhile
        ("NOOP", ["200 result=0"]),
    ], caller_hangs_up_after=0.2)
    assert [reply for reply in peer.replies] == [expected for _, expected in peer.script]
    assert channel.variables["AGISTATUS"] == "HANGUP"
    assert outcome.reason == "hangup"


async def test_wire_set_context_moves_the_call_to_another_context() -> None:
    peer, outcome, _ = await run_wire([
        ("SET CONTEXT elsewhere", ["200 result=0"]),
        ("SET EXTENSION 9", ["200 result=0"]),
        ("SET PRIORITY 1", ["200 result=0"]),
        ("SET CONTEXT", ["520-Invalid command syntax.  Proper usage follows:",
                         "Usage: SET CONTEXT <desired context>",
                         "520 End of proper usage."]),
    ], extra_dialplan="[elsewhere]\nexten => 9,1,NoOp(arrived)\n")
    assert [reply for reply in peer.replies] == [expected for _, expected in peer.script]
    assert [(s.context, s.exten, s.data) for s in outcome.trace][-1] == (
        "elsewhere", "9", "arrived")


async def test_wire_media_commands_say_number_control_stream_record() -> None:
    peer, _, channel = await run_wire([
        ("SAY NUMBER 1234 \"\"", ["200 result=0"]),
        ("SAY NUMBER twelve \"\"", ["520-Invalid command syntax.  Proper usage follows:",
                                    "Usage: SAY NUMBER <number> <escape digits> [gender]",
                                    "520 End of proper usage."]),
        ("STREAM FILE nosuchfile \"\"", ["200 result=-1 endpos=0"]),
        ("CONTROL STREAM FILE welcome \"0\"", ["200 result=48 endpos=0"]),
        ("RECORD FILE msg gsm \"#*\" 5000 BEEP s=3", ["200 result=42 (dtmf) endpos=0"]),
    ], digits="0*")
    assert [reply for reply in peer.replies] == [expected for _, expected in peer.script]
    assert channel.played[:6] == ["digits/1", "digits/thousand", "digits/2", "digits/hundred",
                                  "digits/30", "digits/4"]
    [request] = channel.recorded
    assert (request.path, request.fmt, request.terminators, request.silence) == (
        "msg", "gsm", "#*", 3)
    assert "beep" in channel.played
