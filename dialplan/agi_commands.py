"""AGI commands: parsing a command line, running it on the call, and the replies
(``200 result=…``, ``510``, ``511``, ``520``) exactly as res_agi.c words them."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from dialplan.agi_protocol import parse_agi_args
from dialplan.apps_flow import run_app
from dialplan.call import Call
from dialplan.channel import ChannelState, Feature, RecordRequest, RecordStatus, SoundNotFound
from dialplan.registry import AppResult
from dialplan.say import digit_files, number_files

__all__ = ["AgiSession", "CommandOutcome", "handle_command"]

log = logging.getLogger("dialplan.agi")

# CHANNEL STATUS codes (AST_STATE_*).
_STATE_CODES = {ChannelState.DOWN: 0, ChannelState.RING: 4, ChannelState.RINGING: 5, ChannelState.UP: 6}


class CommandOutcome(Enum):
    SUCCESS = "success"
    SHOWUSAGE = "showusage"
    FAILURE = "failure"  # the call is gone or an application ended it: stop the AGI


@dataclass
class AgiSession:
    """What a command handler may touch."""

    call: Call
    send: Callable[[str], Awaitable[None]]
    dead: bool = False

    async def reply(self, text: str) -> None:
        await self.send(text + "\n")


Handler = Callable[[AgiSession, list[str]], Awaitable[CommandOutcome]]


@dataclass(frozen=True)
class _Command:
    words: tuple[str, ...]
    handler: Handler
    usage: str
    allowed_dead: bool


def _ok(outcome_on: bool = True) -> CommandOutcome:
    return CommandOutcome.SUCCESS if outcome_on else CommandOutcome.FAILURE


async def _answer(session: AgiSession, argv: list[str]) -> CommandOutcome:
    channel = session.call.channel
    if channel.state is not ChannelState.UP:
        await channel.answer()
    await session.reply("200 result=0")
    return CommandOutcome.SUCCESS


async def _hangup(session: AgiSession, argv: list[str]) -> CommandOutcome:
    channel = session.call.channel
    if len(argv) == 1 or argv[1] == channel.name:
        await channel.hangup(16)
        await session.reply("200 result=1")
        return CommandOutcome.SUCCESS
    await session.reply("200 result=-1")  # other channels are not reachable from here
    return CommandOutcome.SUCCESS


async def _set_variable(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) != 4:
        return CommandOutcome.SHOWUSAGE
    session.call.set_variable(argv[2], argv[3])
    await session.reply("200 result=1")
    return CommandOutcome.SUCCESS


async def _get_variable(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) != 3:
        return CommandOutcome.SHOWUSAGE
    name = argv[2]
    call = session.call
    if name.endswith(")") and "(" in name:
        function, _, rest = name.partition("(")
        value = call.read_function(function, rest[:-1])
    else:
        value = call.lookup_variable(name)
    await session.reply(f"200 result=1 ({value})" if value is not None else "200 result=0")
    return CommandOutcome.SUCCESS


async def _get_full_variable(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) not in (4, 5):
        return CommandOutcome.SHOWUSAGE
    if len(argv) == 5 and argv[4] != session.call.channel.name:
        await session.reply("200 result=0")
        return CommandOutcome.SUCCESS
    await session.reply(f"200 result=1 ({session.call.substitute(argv[3])})")
    return CommandOutcome.SUCCESS


async def _exec(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) < 2:
        return CommandOutcome.SHOWUSAGE
    call = session.call
    data = argv[2] if len(argv) > 2 else ""
    log.info("AGI Script Executing Application: (%s) Options: (%s)", argv[1], data)
    if call.services.registry.app(argv[1]) is None:
        log.warning("Could not find application (%s)", argv[1])
        await session.reply("200 result=-2")
        return CommandOutcome.SUCCESS
    result = await run_app(call, argv[1], data)
    failed = result is AppResult.HANGUP
    await session.reply(f"200 result={-1 if failed else 0}")
    return _ok(not failed)


async def _verbose(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) < 3:
        return CommandOutcome.SHOWUSAGE
    log.info("%s", argv[2])
    await session.reply("200 result=1")
    return CommandOutcome.SUCCESS


async def _channel_status(session: AgiSession, argv: list[str]) -> CommandOutcome:
    channel = session.call.channel
    if len(argv) > 3:
        return CommandOutcome.SHOWUSAGE
    if len(argv) == 3 and argv[2] != channel.name:
        await session.reply("200 result=-1")
        return CommandOutcome.SUCCESS
    await session.reply(f"200 result={_STATE_CODES[channel.state]}")
    return CommandOutcome.SUCCESS


def _continue_at(call: Call, context: str | None = None, exten: str | None = None,
                 priority: int | None = None) -> None:
    """Where the dialplan continues after the AGI step (SET CONTEXT/EXTENSION/PRIORITY)."""
    current = call.jump or (call.context, call.exten, call.priority + 1)
    call.jump = (context or current[0], exten or current[1], priority or current[2])


def _set_where(move: Callable[[Call, str], None]) -> Handler:
    """SET CONTEXT / SET EXTENSION: the same reply, only the part that changes differs."""

    async def handler(session: AgiSession, argv: list[str]) -> CommandOutcome:
        if len(argv) != 3:
            return CommandOutcome.SHOWUSAGE
        move(session.call, argv[2])
        await session.reply("200 result=0")
        return CommandOutcome.SUCCESS

    return handler


async def _set_priority(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) != 3:
        return CommandOutcome.SHOWUSAGE
    call = session.call
    number: int | None = int(argv[2]) if re.fullmatch(r"\d+", argv[2]) else None
    if number is None:
        target = call.jump or (call.context, call.exten, 0)
        number = call.plan.find_label(target[0], target[1], argv[2], call.channel.caller_num)
        if number is None:
            return CommandOutcome.SHOWUSAGE
    _continue_at(call, priority=number)
    await session.reply("200 result=0")
    return CommandOutcome.SUCCESS


async def _database_get(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) != 4:
        return CommandOutcome.SHOWUSAGE
    store = session.call.services.store
    value = store.get(argv[2], argv[3]) if store is not None else None
    await session.reply(f"200 result=1 ({value})" if value is not None else "200 result=0")
    return CommandOutcome.SUCCESS


async def _database_put(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) != 5:
        return CommandOutcome.SHOWUSAGE
    store = session.call.services.store
    if store is not None:
        store.put(argv[2], argv[3], argv[4])
    await session.reply(f"200 result={1 if store is not None else 0}")
    return CommandOutcome.SUCCESS


async def _database_del(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) != 4:
        return CommandOutcome.SHOWUSAGE
    store = session.call.services.store
    removed = store.delete(argv[2], argv[3]) if store is not None else False
    await session.reply(f"200 result={1 if removed else 0}")
    return CommandOutcome.SUCCESS


async def _noop(session: AgiSession, argv: list[str]) -> CommandOutcome:
    await session.reply("200 result=0")
    return CommandOutcome.SUCCESS


async def _media_missing(session: AgiSession, command: str, feature: Feature, suffix: str = "") -> bool:
    if session.call.channel.supports(feature):
        return False
    log.error("AGI %s: channel %s cannot do it (no translator for its codec)",
              command, session.call.channel.name)
    await session.reply(f"200 result=-1{suffix}")
    return True


def _digit_result(digit: str | None) -> int:
    return ord(digit) if digit else 0


async def _hung_up(session: AgiSession, suffix: str = "") -> CommandOutcome | None:
    """``result=-1`` and the end of the AGI when the caller has gone."""
    if not session.call.channel.is_hungup:
        return None
    await session.reply(f"200 result=-1{suffix}")
    return CommandOutcome.FAILURE


async def _stream_file(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) not in (4, 5) or (len(argv) == 5 and not argv[4].isdigit()):
        return CommandOutcome.SHOWUSAGE
    if await _media_missing(session, "STREAM FILE", Feature.PLAY, " endpos=0"):
        return CommandOutcome.SUCCESS
    offset = int(argv[4]) if len(argv) == 5 else 0
    try:
        played = await session.call.channel.play(argv[2], argv[3], offset)
    except SoundNotFound:
        await session.reply("200 result=-1 endpos=0")
        return CommandOutcome.SUCCESS
    if (gone := await _hung_up(session, f" endpos={played.endpos}")) is not None:
        return gone
    await session.reply(f"200 result={_digit_result(played.digit)} endpos={played.endpos}")
    return CommandOutcome.SUCCESS


async def _control_stream_file(session: AgiSession, argv: list[str]) -> CommandOutcome:
    """CONTROL STREAM FILE file escape [skipms [ff [rew [pause [offsetms]]]]]: the keys move
    through the file (default 3000 ms), pause and resume it; an escape key ends it."""
    if len(argv) < 5 or len(argv) > 10:
        return CommandOutcome.SHOWUSAGE
    if await _media_missing(session, "CONTROL STREAM FILE", Feature.PLAY, " endpos=0"):
        return CommandOutcome.SUCCESS
    name, escape = argv[3], argv[4]
    extra = [*argv[5:], "", "", "", "", ""]
    skip_ms = int(extra[0]) if extra[0].isdigit() else 3000
    forward, rewind, pause = extra[1] or "#", extra[2] or "*", extra[3]
    offset = int(extra[4]) * 8 if extra[4].isdigit() else 0
    channel = session.call.channel
    keys = escape + forward + rewind + pause
    while True:
        try:
            played = await channel.play(name, keys, offset)
        except SoundNotFound:
            await session.reply("200 result=-1 endpos=0")
            return CommandOutcome.SUCCESS
        digit, offset = played.digit, played.endpos
        if digit is None or digit in escape:
            break
        if digit == forward:
            offset += skip_ms * 8
        elif digit == rewind:
            offset = max(0, offset - skip_ms * 8)
        elif digit == pause:
            resumed = await channel.wait_for_digit(None)
            if resumed is not None and resumed in escape:
                digit = resumed
                break
    if (gone := await _hung_up(session, f" endpos={offset}")) is not None:
        return gone
    session.call.set_variable("CPLAYBACKOFFSET", str(offset // 8))
    session.call.set_variable("CPLAYBACKSTATUS", "USERSTOPPED" if digit else "SUCCESS")
    await session.reply(f"200 result={_digit_result(digit)} endpos={offset}")
    return CommandOutcome.SUCCESS


async def _say_files(session: AgiSession, command: str, files: list[str],
                     escape: str) -> CommandOutcome:
    if await _media_missing(session, command, Feature.PLAY):
        return CommandOutcome.SUCCESS
    channel = session.call.channel
    for name in files:
        if not channel.sound_exists(name):
            continue  # say.c skips what it cannot play
        played = await channel.play(name, escape)
        if (gone := await _hung_up(session)) is not None:
            return gone
        if played.digit:
            await session.reply(f"200 result={ord(played.digit)}")
            return CommandOutcome.SUCCESS
    await session.reply("200 result=0")
    return CommandOutcome.SUCCESS


async def _say_digits(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) != 4:
        return CommandOutcome.SHOWUSAGE
    return await _say_files(session, "SAY DIGITS", digit_files(argv[2]), argv[3])


async def _say_number(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) not in (4, 5) or not re.fullmatch(r"-?\d+", argv[2]):
        return CommandOutcome.SHOWUSAGE
    return await _say_files(session, "SAY NUMBER", number_files(int(argv[2])), argv[3])


def _milliseconds(text: str) -> float | None:
    """An AGI timeout in ms; negative means wait forever."""
    value = int(text)
    return None if value < 0 else value / 1000


async def _wait_for_digit(session: AgiSession, argv: list[str]) -> CommandOutcome:
    if len(argv) != 4 or not re.fullmatch(r"-?\d+", argv[3]):
        return CommandOutcome.SHOWUSAGE
    if await _media_missing(session, "WAIT FOR DIGIT", Feature.DTMF_IN):
        return CommandOutcome.SUCCESS
    digit = await session.call.channel.wait_for_digit(_milliseconds(argv[3]))
    if (gone := await _hung_up(session)) is not None:
        return gone
    await session.reply(f"200 result={_digit_result(digit)}")
    return CommandOutcome.SUCCESS


async def _get_data(session: AgiSession, argv: list[str]) -> CommandOutcome:
    """GET DATA file [timeout_ms [maxdigits]]: ``ast_app_getdata``, '#' ends the input."""
    if len(argv) < 3 or len(argv) > 5:
        return CommandOutcome.SHOWUSAGE
    if await _media_missing(session, "GET DATA", Feature.PLAY):
        return CommandOutcome.SUCCESS
    channel = session.call.channel
    timeout = (int(argv[3]) / 1000 if len(argv) > 3 and argv[3].isdigit() and int(argv[3]) > 0
               else session.call.digit_timeout)
    max_digits = int(argv[4]) if len(argv) > 4 and argv[4].isdigit() else 1024
    digits = ""
    try:
        pending = (await channel.play(argv[2], "0123456789*#")).digit
    except SoundNotFound:
        pending = None
    timed_out = False
    while len(digits) < max_digits:
        digit = pending or await channel.wait_for_digit(timeout)
        pending = None
        if digit is None:
            timed_out = not channel.is_hungup
            break
        if digit == "#":
            break
        digits += digit
    if (gone := await _hung_up(session)) is not None:
        return gone
    await session.reply(f"200 result={digits}{' (timeout)' if timed_out else ''}")
    return CommandOutcome.SUCCESS


async def _record_file(session: AgiSession, argv: list[str]) -> CommandOutcome:
    """RECORD FILE file format escape timeout_ms [offset] [BEEP] [s=silence]."""
    if len(argv) < 6 or not re.fullmatch(r"-?\d+", argv[5]):
        return CommandOutcome.SHOWUSAGE
    if await _media_missing(session, "RECORD FILE", Feature.RECORD, " (hangup) endpos=0"):
        return CommandOutcome.SUCCESS
    options = argv[6:]
    silence = next((int(a[2:]) for a in options if a.startswith("s=") and a[2:].isdigit()), 0)
    channel = session.call.channel
    if any(a.lower() == "beep" for a in options):
        with contextlib.suppress(SoundNotFound):
            await channel.play("beep", "")
    request = RecordRequest(path=argv[2], fmt=argv[3], silence=silence or None,
                            max_duration=_milliseconds(argv[5]), terminators=argv[4],
                            keep_silence=True)
    result = await channel.record(request)
    endpos = result.samples
    if result.status is RecordStatus.HANGUP:
        await session.reply(f"200 result=-1 (hangup) endpos={endpos}")
        return CommandOutcome.FAILURE
    if result.status is RecordStatus.ERROR:
        await session.reply("200 result=-1 (writefile)")
        return CommandOutcome.SUCCESS
    if result.digit:
        await session.reply(f"200 result={ord(result.digit)} (dtmf) endpos={endpos}")
    elif result.status is RecordStatus.SILENCE:
        await session.reply(f"200 result=0 (silence) endpos={endpos}")
    else:
        await session.reply(f"200 result=0 (timeout) endpos={endpos}")
    return CommandOutcome.SUCCESS


_COMMANDS = (
    _Command(("answer",), _answer, "Usage: ANSWER", False),
    _Command(("channel", "status"), _channel_status, "Usage: CHANNEL STATUS [<channelname>]", False),
    _Command(("control", "stream", "file"), _control_stream_file,
             "Usage: CONTROL STREAM FILE <filename> <escape digits> [skipms] [ffchar] [rewchr] "
             "[pausechr] [offsetms]", False),
    _Command(("database", "del"), _database_del, "Usage: DATABASE DEL <family> <key>", True),
    _Command(("database", "get"), _database_get, "Usage: DATABASE GET <family> <key>", True),
    _Command(("database", "put"), _database_put, "Usage: DATABASE PUT <family> <key> <value>", True),
    _Command(("exec",), _exec, "Usage: EXEC <application> <options>", True),
    _Command(("get", "data"), _get_data, "Usage: GET DATA <file to be streamed> [timeout] [maxdigits]", False),
    _Command(("get", "full", "variable"), _get_full_variable,
             "Usage: GET FULL VARIABLE <variablename> [<channel name>]", True),
    _Command(("get", "variable"), _get_variable, "Usage: GET VARIABLE <variablename>", True),
    _Command(("hangup",), _hangup, "Usage: HANGUP [<channelname>]", False),
    _Command(("noop",), _noop, "Usage: NoOp", True),
    _Command(("record", "file"), _record_file,
             "Usage: RECORD FILE <filename> <format> <escape digits> <timeout> [offset samples] [BEEP] [s=silence]", False),
    _Command(("say", "digits"), _say_digits, "Usage: SAY DIGITS <number> <escape digits>", False),
    _Command(("say", "number"), _say_number,
             "Usage: SAY NUMBER <number> <escape digits> [gender]", False),
    _Command(("set", "context"), _set_where(lambda call, name: _continue_at(call, context=name)), "Usage: SET CONTEXT <desired context>", False),
    _Command(("set", "extension"), _set_where(lambda call, name: _continue_at(call, exten=name)), "Usage: SET EXTENSION <new extension>", False),
    _Command(("set", "priority"), _set_priority, "Usage: SET PRIORITY <priority>", False),
    _Command(("set", "variable"), _set_variable, "Usage: SET VARIABLE <variablename> <value>", True),
    _Command(("stream", "file"), _stream_file,
             "Usage: STREAM FILE <filename> <escape digits> [sample offset]", False),
    _Command(("verbose",), _verbose, "Usage: VERBOSE <message> <level>", True),
    _Command(("wait", "for", "digit"), _wait_for_digit, "Usage: WAIT FOR DIGIT <timeout>", False),
)


def _find(argv: list[str]) -> _Command | None:
    lowered = [word.lower() for word in argv]
    for command in _COMMANDS:
        if tuple(lowered[: len(command.words)]) == command.words:
            return command
    return None


async def handle_command(session: AgiSession, line: str) -> CommandOutcome:
    """Run one command line and send its reply."""
    argv = parse_agi_args(line)
    command = _find(argv)
    if command is None:
        await session.reply("510 Invalid or unknown command")
        return CommandOutcome.SUCCESS
    if session.dead and not command.allowed_dead:
        await session.reply("511 Command Not Permitted on a dead channel or intercept routine")
        return CommandOutcome.SUCCESS
    outcome = await command.handler(session, argv)
    if outcome is CommandOutcome.SHOWUSAGE:
        await session.send("520-Invalid command syntax.  Proper usage follows:\n")
        await session.send(command.usage + "\n")
        await session.send("520 End of proper usage.\n")
        return CommandOutcome.SUCCESS
    return outcome
