"""Applications that need media or another leg.

Each checks the channel's capabilities first; when something is missing the call fails
with a log line naming the application, never a silent success.
"""

from __future__ import annotations

import logging

from dialplan.apps_basic import parse_seconds
from dialplan.args import separate_args
from dialplan.call import Call
from dialplan.channel import ChannelState, Feature
from dialplan.dialer import DialStatus
from dialplan.digits import collect_extension, goto_collected
from dialplan.registry import AppHandler, Application, AppResult, Registry

__all__ = ["register_media_apps"]

log = logging.getLogger("dialplan")
_ALL_DIGITS = "0123456789*#"


def _requires(app_name: str, handler: AppHandler[Call], *features: Feature) -> AppHandler[Call]:
    """Wrap *handler* so a channel lacking a feature fails the call clearly."""

    async def checked(call: Call, data: str) -> AppResult | None:
        missing = [f for f in features if not call.channel.supports(f)]
        if missing:
            log.error("%s: media is not available on this node yet (channel %s lacks %s)",
                      app_name, call.channel.name, ", ".join(f.value for f in missing))
            return AppResult.HANGUP
        return await handler(call, data)

    return checked


def _media_app(name: str, handler: AppHandler[Call], synopsis: str,
               *features: Feature) -> Application[Call]:
    return Application(name, _requires(name, handler, *features), synopsis, waits=True)


async def _answer_unless(call: Call, skip: bool) -> None:
    if not skip and call.channel.state is not ChannelState.UP:
        await call.channel.answer()


async def _playback(call: Call, data: str) -> AppResult | None:
    parts = [*separate_args(data), ""]
    await _answer_unless(call, "noanswer" in parts[1])
    for filename in parts[0].split("&"):
        await call.channel.play(filename, "")
        if call.channel.is_hungup:
            call.set_variable("PLAYBACKSTATUS", "FAILED")
            return AppResult.HANGUP
    call.set_variable("PLAYBACKSTATUS", "SUCCESS")
    return None


async def _background(call: Call, data: str) -> AppResult | None:
    parts = [*separate_args(data), ""]
    await _answer_unless(call, "n" in parts[1])
    for filename in parts[0].split("&"):
        digit = await call.channel.play(filename, _ALL_DIGITS)
        if call.channel.is_hungup:
            return AppResult.HANGUP
        if digit:
            options = call.services.options
            digits = await collect_extension(call, 0, options.digit_timeout, initial=digit)
            return None if goto_collected(call, digits) else AppResult.HANGUP
    return None


async def _wait_exten(call: Call, data: str) -> AppResult | None:
    seconds = parse_seconds(separate_args(data)[0] if data else "")
    options = call.services.options
    digits = await collect_extension(call, seconds if seconds else options.response_timeout,
                                     options.digit_timeout)
    if call.channel.is_hungup:
        return AppResult.HANGUP
    return None if goto_collected(call, digits) else AppResult.HANGUP


async def _read(call: Call, data: str) -> AppResult | None:
    parts = [*separate_args(data), "", "", "", "", "", ""]
    variable, filename, max_text, _options, attempts_text, timeout_text = parts[:6]
    if not variable:
        log.warning("Read requires an argument (variable)")
        return AppResult.HANGUP
    if filename and not call.channel.supports(Feature.PLAY):
        log.error("Read: media is not available on this node yet (cannot play '%s')", filename)
        return AppResult.HANGUP
    max_digits = int(max_text) if max_text.strip().isdigit() and int(max_text) > 0 else 255
    attempts = int(attempts_text) if attempts_text.strip().isdigit() and int(attempts_text) > 0 else 1
    timeout = parse_seconds(timeout_text) or call.services.options.response_timeout
    await _answer_unless(call, False)
    digits, status = "", "TIMEOUT"
    for _ in range(attempts):
        digits = ""
        first = await call.channel.play(filename, _ALL_DIGITS) if filename else None
        pending = first
        while len(digits) < max_digits:
            digit = pending or await call.channel.wait_for_digit(timeout)
            pending = None
            if digit is None or digit == "#":
                break
            digits += digit
        if call.channel.is_hungup:
            call.set_variable("READSTATUS", "HANGUP")
            return AppResult.HANGUP
        if digits:
            status = "OK"
            break
    call.set_variable(variable, digits)
    call.set_variable("READSTATUS", status)
    return None


async def _record(call: Call, data: str) -> AppResult | None:
    parts = [*separate_args(data), "", "", ""]
    filename, silence_text, max_text, options = parts[:4]
    await _answer_unless(call, "n" in options)
    digit = await call.channel.record(filename, "#" if "k" not in options else "#*",
                                      parse_seconds(max_text) or None, parse_seconds(silence_text) or None)
    if call.channel.is_hungup:
        call.set_variable("RECORD_STATUS", "HANGUP")
        return AppResult.HANGUP
    call.set_variable("RECORD_STATUS", "DTMF" if digit else "SUCCESS")
    return None


async def _send_dtmf(call: Call, data: str) -> AppResult | None:
    digits = separate_args(data)[0] if data else ""
    if digits:
        await call.channel.send_dtmf(digits)
    return None


async def _echo(call: Call, data: str) -> AppResult | None:
    await call.channel.echo()
    return AppResult.HANGUP if call.channel.is_hungup else None


async def _milliwatt(call: Call, data: str) -> AppResult | None:
    await _answer_unless(call, False)
    await call.channel.play_tones("1004/1000", None)
    await call.channel.wait(None)
    return AppResult.HANGUP


async def _playtones(call: Call, data: str) -> AppResult | None:
    await call.channel.play_tones(data, None)
    return None


async def _music_on_hold(call: Call, data: str) -> AppResult | None:
    parts = [*separate_args(data), "", ""]
    await call.channel.music_on_hold(parts[0] or "default", parse_seconds(parts[1]))
    return AppResult.HANGUP if call.channel.is_hungup else None


async def _dial(call: Call, data: str) -> AppResult | None:
    dialer = call.services.dialer
    if dialer is None:
        log.error("Dial: no dialer is configured on this node; cannot reach %s", data)
        call.set_variable("DIALSTATUS", DialStatus.CHANUNAVAIL.value)
        return AppResult.HANGUP
    parts = [*separate_args(data), "", ""]
    targets = [t.strip() for t in parts[0].split("&") if t.strip()]
    if not targets:
        log.warning("Dial requires an argument (technology/resource)")
        return AppResult.HANGUP
    timeout = parse_seconds(parts[1])
    result = await dialer.dial(call.channel, targets, timeout, parts[2])
    call.set_variable("DIALSTATUS", result.status.value)
    if result.status is DialStatus.ANSWER:
        call.channel.hangup_cause = result.hangup_cause
        # After a bridged call only the 'g' option continues in the dialplan.
        return None if "g" in parts[2] and not call.channel.is_hungup else AppResult.HANGUP
    return AppResult.HANGUP if call.channel.is_hungup else None


def register_media_apps(registry: Registry[Call]) -> None:
    for app in (
        _media_app("Playback", _playback, "Play a file.", Feature.PLAY),
        _media_app("Background", _background, "Play an audio file while waiting for digits of an "
                   "extension to go to.", Feature.PLAY, Feature.DTMF_IN),
        _media_app("WaitExten", _wait_exten, "Waits for an extension to be entered.", Feature.DTMF_IN),
        _media_app("Read", _read, "Read a variable.", Feature.DTMF_IN),
        _media_app("Record", _record, "Record to a file.", Feature.RECORD),
        _media_app("SendDTMF", _send_dtmf, "Sends arbitrary DTMF digits", Feature.DTMF_OUT),
        _media_app("Echo", _echo, "Echo media, DTMF back to the calling party", Feature.ECHO),
        _media_app("Milliwatt", _milliwatt, "Generates a 1004 Hz test tone at 0dbm (mu-law).",
                   Feature.TONES),
        _media_app("Playtones", _playtones, "Play a tone list.", Feature.TONES),
        _media_app("MusicOnHold", _music_on_hold, "Play Music On Hold indefinitely.", Feature.MOH),
        Application("Dial", _dial, "Attempt to connect to another device or endpoint and bridge "
                    "the call.", waits=True),
    ):
        registry.add_app(app)
