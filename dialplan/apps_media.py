"""Applications that need media or another leg, with Asterisk 22's arguments and results.

Each checks the channel's capabilities first; when something is missing the call fails
with a log line naming the application, never a silent success. A sound file that does not
exist is a warning and the dialplan goes on, as in Asterisk.
"""

from __future__ import annotations

import logging
import re

from dialplan.apps_basic import parse_seconds
from dialplan.args import separate_args
from dialplan.call import Call
from dialplan.channel import (
    ChannelState,
    Feature,
    RecordRequest,
    RecordStatus,
    SoundNotFound,
)
from dialplan.dialer import DialStatus
from dialplan.digits import collect_extension, goto_collected
from dialplan.registry import AppHandler, Application, AppResult, Registry
from dialplan.say import digit_files, number_files
from dialplan.tonegen import milliwatt_pattern, tone_source

__all__ = ["play_files", "register_media_apps"]

log = logging.getLogger("dialplan")
ALL_DIGITS = "0123456789*#"
MILLIWATT_VOLUME = 23255  # app_milliwatt: 0 dBm0 at 1004 Hz


def _requires(app_name: str, handler: AppHandler[Call], *features: Feature) -> AppHandler[Call]:
    """Wrap *handler* so a channel lacking a feature fails the call clearly."""

    async def checked(call: Call, data: str) -> AppResult | None:
        missing = [f for f in features if not call.channel.supports(f)]
        if missing:
            log.error("%s: channel %s cannot do %s (no translator for its codec)",
                      app_name, call.channel.name, ", ".join(f.value for f in missing))
            return AppResult.HANGUP
        return await handler(call, data)

    return checked


def _media_app(name: str, handler: AppHandler[Call], synopsis: str,
               *features: Feature) -> Application[Call]:
    return Application(name, _requires(name, handler, *features), synopsis, waits=True)


def _args(data: str, count: int) -> list[str]:
    return [*separate_args(data), *[""] * count][:count]


async def _answer_unless(call: Call, skip: bool) -> None:
    if not skip and call.channel.state is not ChannelState.UP:
        await call.channel.answer()


async def play_files(call: Call, files: list[str], escape: str) -> tuple[str | None, bool]:
    """Play *files* in turn; (the escape digit pressed, whether every file existed)."""
    ok = True
    for name in files:
        try:
            played = await call.channel.play(name, escape)
        except SoundNotFound:
            log.warning("Playback failed on %s for %s", call.channel.name, name)
            ok = False
            continue
        if played.digit or call.channel.is_hungup:
            return played.digit, ok
    return None, ok


# -- playing -----------------------------------------------------------------------------

async def _playback(call: Call, data: str) -> AppResult | None:
    files, options = _args(data, 2)
    if not files:
        log.warning("Playback requires an argument (filename)")
        return AppResult.HANGUP
    if call.channel.state is not ChannelState.UP:
        if "skip" in options:
            call.set_variable("PLAYBACKSTATUS", "SUCCESS")
            return None
        await _answer_unless(call, "noanswer" in options)
    _, ok = await play_files(call, files.split("&"), "")
    call.set_variable("PLAYBACKSTATUS", "SUCCESS" if ok else "FAILED")
    return AppResult.HANGUP if call.channel.is_hungup else None


async def _background(call: Call, data: str) -> AppResult | None:
    files, options, _lang, context = _args(data, 4)
    if call.channel.state is not ChannelState.UP:
        if "s" in options:
            call.set_variable("BACKGROUNDSTATUS", "SUCCESS")
            return None
        await _answer_unless(call, "n" in options)
    escape = "" if "p" in options else ALL_DIGITS
    digit = None
    ok = True
    for name in files.split("&") if files else []:
        try:
            played = await call.channel.play(name, escape)
        except SoundNotFound:
            log.warning("Background failed on %s for %s", call.channel.name, name)
            ok = False
            break  # a missing file stops the list (pbx_builtins.c)
        if played.digit or call.channel.is_hungup:
            digit = played.digit
            break
    call.set_variable("BACKGROUNDSTATUS", "SUCCESS" if ok else "FAILED")
    if call.channel.is_hungup:
        return AppResult.HANGUP
    if not digit:
        return None
    if context and context != call.context:
        call.context = context
    digits = await collect_extension(call, 0, call.digit_timeout, initial=digit)
    if call.channel.is_hungup:
        return AppResult.HANGUP
    return None if goto_collected(call, digits) else AppResult.HANGUP


async def _wait_exten(call: Call, data: str) -> AppResult | None:
    seconds_text, options = _args(data, 2)
    seconds = parse_seconds(seconds_text) or call.response_timeout
    moh = re.search(r"m(?:\(([^)]*)\))?", options)
    if moh is not None:
        await call.channel.start_moh(moh.group(1) or "default")
    try:
        digits = await collect_extension(call, seconds, call.digit_timeout)
    finally:
        if moh is not None:
            await call.channel.stop_moh()
    if call.channel.is_hungup:
        return AppResult.HANGUP
    return None if goto_collected(call, digits) else AppResult.HANGUP


async def _read(call: Call, data: str) -> AppResult | None:
    variable, files, max_text, options, attempts_text, timeout_text = _args(data, 6)
    if not variable:
        log.warning("Read requires an argument (variable)")
        return AppResult.HANGUP
    max_digits = int(max_text) if max_text.strip().isdigit() and 0 < int(max_text) < 256 else 255
    attempts = int(attempts_text) if attempts_text.strip().isdigit() and int(attempts_text) > 0 else 1
    timeout = parse_seconds(timeout_text)
    terminators = "#"
    found = re.search(r"t(?:\(([^)]*)\))?", options)
    if found is not None:
        terminators = found.group(1) or ""
    if call.channel.state is not ChannelState.UP:
        if "s" in options:
            call.set_variable(variable, "")
            call.set_variable("READSTATUS", "SKIPPED")
            return None
        await _answer_unless(call, "n" in options)
    first_wait = timeout if timeout else call.response_timeout
    next_wait = timeout if timeout else call.digit_timeout
    digits, status = "", "TIMEOUT"
    for _ in range(attempts):
        digits, status = "", "TIMEOUT"
        pending, _ok = await play_files(call, files.split("&"), ALL_DIGITS) if files else (None, True)
        wait = first_wait
        while len(digits) < max_digits:
            digit = pending or await call.channel.wait_for_digit(wait)
            pending = None
            wait = next_wait
            if digit is None:
                break
            if digit in terminators:
                if not digits and "e" in options:
                    digits = digit
                status = "OK"
                break
            digits += digit
        else:
            status = "OK"
        if call.channel.is_hungup:
            call.set_variable("READSTATUS", "HANGUP")
            return AppResult.HANGUP
        if digits or status == "OK":
            break
    call.set_variable(variable, digits)
    call.set_variable("READSTATUS", status)
    return None


async def _say_digits(call: Call, data: str) -> AppResult | None:
    await _answer_unless(call, False)
    for name in digit_files(_args(data, 1)[0]):
        if call.channel.sound_exists(name):  # say.c skips digits without a file
            await call.channel.play(name, "")
    return AppResult.HANGUP if call.channel.is_hungup else None


async def _say_number(call: Call, data: str) -> AppResult | None:
    text = _args(data, 1)[0].strip()
    try:
        number = int(text)
    except ValueError:
        log.warning("SayNumber: '%s' is not a number", text)
        return AppResult.HANGUP
    await _answer_unless(call, False)
    await play_files(call, number_files(number), "")
    return AppResult.HANGUP if call.channel.is_hungup else None


# -- tones -------------------------------------------------------------------------------

async def _milliwatt(call: Call, data: str) -> AppResult | None:
    options = _args(data, 1)[0]
    if "o" in options:
        await _answer_unless(call, False)
        await call.channel.start_generator(milliwatt_pattern())
    else:
        spec = "1004/9000,0/1000" if "m" in options else "1004/1000"
        source = tone_source(call, spec, MILLIWATT_VOLUME)
        assert source is not None
        await call.channel.start_generator(source)
    await call.channel.wait(None)
    await call.channel.stop_generator()
    return AppResult.HANGUP


async def _playtones(call: Call, data: str) -> AppResult | None:
    source = tone_source(call, data.strip())
    if source is None:
        log.warning("Unable to start playtones")
        return AppResult.HANGUP
    await call.channel.start_generator(source)
    return None


async def _stop_playtones(call: Call, data: str) -> AppResult | None:
    await call.channel.stop_generator()
    return None


# -- recording and echo ------------------------------------------------------------------

def _record_request(call: Call, target: str, silence: float | None, max_duration: float | None,
                    options: str) -> RecordRequest | None:
    path, dot, fmt = target.rpartition(".")
    if not dot or not path or not fmt:
        log.warning("Record: no extension specified to filename (%s)", target)
        return None
    if "%d" in path:
        number = 0
        while call.channel.sound_exists(path.replace("%d", str(number), 1)):
            number += 1
        path = path.replace("%d", str(number), 1)
    if "x" in options:
        terminators = ""
    elif "y" in options:
        terminators = ALL_DIGITS
    else:
        terminators = "*" if "t" in options else "#"
    return RecordRequest(path=path, fmt=fmt, silence=silence or None,
                         max_duration=max_duration or None, terminators=terminators,
                         operator="o" in options, append="a" in options,
                         keep_on_hangup="k" in options, keep_silence="u" in options)


async def _record(call: Call, data: str) -> AppResult | None:
    target, silence_text, max_text, options = _args(data, 4)
    request = _record_request(call, target, parse_seconds(silence_text),
                              parse_seconds(max_text), options)
    if request is None:
        call.set_variable("RECORD_STATUS", RecordStatus.ERROR.value)
        return AppResult.HANGUP
    if call.channel.state is not ChannelState.UP:
        if "s" in options:
            call.set_variable("RECORD_STATUS", RecordStatus.SKIP.value)
            return None
        await _answer_unless(call, "n" in options)
    call.set_variable("RECORDED_FILE", request.path)
    if "q" not in options:
        try:
            await call.channel.play("beep", "")
        except SoundNotFound:
            # app_record ends here when the beep cannot be played (media.md §3.7).
            call.set_variable("RECORD_STATUS", RecordStatus.HANGUP.value)
            return None
    result = await call.channel.record(request)
    call.set_variable("RECORD_STATUS", result.status.value)
    return AppResult.HANGUP if call.channel.is_hungup else None


async def _send_dtmf(call: Call, data: str) -> AppResult | None:
    digits, gap_text, duration_text, _channel, options = _args(data, 5)
    if not digits:
        log.warning("SendDTMF requires an argument (digits or *#aAbBcCdD)")
        return AppResult.HANGUP
    if "a" in options:
        await _answer_unless(call, False)
    gap = int(gap_text) if gap_text.strip().isdigit() else 250
    duration = int(duration_text) if duration_text.strip().isdigit() else 100
    await call.channel.send_dtmf(digits, duration, gap)
    return AppResult.HANGUP if call.channel.is_hungup else None


async def _echo(call: Call, data: str) -> AppResult | None:
    await call.channel.echo()
    return AppResult.HANGUP if call.channel.is_hungup else None


# -- music on hold -----------------------------------------------------------------------

async def _music_on_hold(call: Call, data: str) -> AppResult | None:
    moh_class, duration = _args(data, 2)
    if not await call.channel.start_moh(moh_class or "default"):
        return AppResult.HANGUP
    try:
        await call.channel.wait(parse_seconds(duration))
    finally:
        await call.channel.stop_moh()
    return AppResult.HANGUP if call.channel.is_hungup else None


async def _start_moh(call: Call, data: str) -> AppResult | None:
    await call.channel.start_moh(_args(data, 1)[0] or "default")
    return None


async def _stop_moh(call: Call, data: str) -> AppResult | None:
    await call.channel.stop_moh()
    return None


# -- Dial --------------------------------------------------------------------------------

async def _dial(call: Call, data: str) -> AppResult | None:
    dialer = call.services.dialer
    if dialer is None:
        log.error("Dial: no dialer is configured on this node; cannot reach %s", data)
        call.set_variable("DIALSTATUS", DialStatus.CHANUNAVAIL.value)
        return AppResult.HANGUP
    target_text, timeout_text, options = _args(data, 3)
    targets = [t.strip() for t in target_text.split("&") if t.strip()]
    if not targets:
        log.warning("Dial requires an argument (technology/resource)")
        return AppResult.HANGUP
    result = await dialer.dial(call.channel, targets, parse_seconds(timeout_text), options)
    call.set_variable("DIALSTATUS", result.status.value)
    call.set_variable("DIALEDTIME", str(int(result.dialed_seconds)))
    call.set_variable("DIALEDTIME_MS", str(int(result.dialed_seconds * 1000)))
    if result.status is DialStatus.ANSWER:
        call.set_variable("ANSWEREDTIME", str(int(result.answered_seconds)))
        call.set_variable("ANSWEREDTIME_MS", str(int(result.answered_seconds * 1000)))
        if result.redirect is not None and not call.channel.is_hungup:
            # A blind transfer from the far end: the caller goes on where it was sent.
            context, exten = result.redirect
            call.goto(context, exten, 1)
            return None
        call.channel.hangup_cause = result.hangup_cause
        # After a bridged call only the 'g' option continues in the dialplan.
        return None if "g" in options and not call.channel.is_hungup else AppResult.HANGUP
    return AppResult.HANGUP if call.channel.is_hungup else None


def register_media_apps(registry: Registry[Call]) -> None:
    play, dtmf_in = Feature.PLAY, Feature.DTMF_IN
    for app in (
        _media_app("Playback", _playback, "Play a file.", play),
        _media_app("Background", _background, "Play an audio file while waiting for digits of an "
                   "extension to go to.", play, dtmf_in),
        _media_app("WaitExten", _wait_exten, "Waits for an extension to be entered.", dtmf_in),
        _media_app("Read", _read, "Read a variable.", dtmf_in),
        _media_app("SayDigits", _say_digits, "Say Digits.", play),
        _media_app("SayNumber", _say_number, "Say Number.", play),
        _media_app("Record", _record, "Record to a file.", Feature.RECORD),
        _media_app("SendDTMF", _send_dtmf, "Sends arbitrary DTMF digits", Feature.DTMF_OUT),
        _media_app("Echo", _echo, "Echo media, DTMF back to the calling party", Feature.ECHO),
        _media_app("Milliwatt", _milliwatt, "Generates a 1004 Hz test tone at 0dbm (mu-law).",
                   Feature.TONES),
        _media_app("Playtones", _playtones, "Play a tone list.", Feature.TONES),
        _media_app("StopPlaytones", _stop_playtones, "Stop playing a tone list.", Feature.TONES),
        _media_app("MusicOnHold", _music_on_hold, "Play Music On Hold indefinitely.", Feature.MOH),
        _media_app("StartMusicOnHold", _start_moh, "Play Music On Hold.", Feature.MOH),
        _media_app("StopMusicOnHold", _stop_moh, "Stop playing Music On Hold.", Feature.MOH),
        Application("Dial", _dial, "Attempt to connect to another device or endpoint and bridge "
                    "the call.", waits=True),
    ):
        registry.add_app(app)
