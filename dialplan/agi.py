"""The ``AGI`` application: process AGI (a script on stdin/stdout) and FastAGI
(``agi://host[:port]/script`` over TCP, port 4573 by default).

A script that crashes, exits non-zero, cannot be reached, or stays silent longer than the
engine's ``agi_timeout`` ends the step with ``AGISTATUS=FAILURE``; the call itself goes on
(as in Asterisk, only a hangup stops the dialplan).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from dataclasses import dataclass

import trio

from dialplan.agi_commands import AgiSession, CommandOutcome, handle_command
from dialplan.agi_protocol import environment_block
from dialplan.args import separate_args
from dialplan.call import Call
from dialplan.registry import Application, AppResult, Registry
from pbxedge import __version__

__all__ = ["FASTAGI_PORT", "register_agi_app"]

log = logging.getLogger("dialplan.agi")

FASTAGI_PORT = 4573
CONNECT_TIMEOUT = 2.0  # MAX_AGI_CONNECT
MAX_LINE = 8192


class _ScriptGone(Exception):
    """The script closed its end, went silent for too long, or sent garbage."""


@dataclass
class _Status:
    value: str = "SUCCESS"


class _LineStream:
    """Lines over a pair of trio streams (one TCP socket, or a process's pipes)."""

    def __init__(self, send: trio.abc.SendStream, receive: trio.abc.ReceiveStream, timeout: float) -> None:
        self._send = send
        self._receive = receive
        self._buffer = bytearray()
        self._timeout = timeout
        self._writing = trio.Lock()  # replies and the hangup notice may race

    async def write(self, text: str) -> None:
        try:
            async with self._writing:
                await self._send.send_all(text.encode())
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            raise _ScriptGone(f"cannot write to the script: {exc}") from exc

    async def read_line(self) -> str | None:
        """The next line without its newline; None at end of stream."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise _ScriptGone("command line too long")
            with trio.move_on_after(self._timeout) as scope:
                try:
                    chunk = await self._receive.receive_some(4096)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    chunk = b""
            if scope.cancelled_caught:
                raise _ScriptGone(f"no command from the script within {self._timeout:g} s")
            if not chunk:
                if self._buffer:
                    line, self._buffer = bytes(self._buffer), bytearray()
                    return line.decode(errors="replace").rstrip("\r")
                return None
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line.decode(errors="replace").rstrip("\r")


async def _converse(call: Call, stream: _LineStream, request: str, args: list[str],
                    status: _Status, *, network_script: str | None, on_hangup: trio.Process | None) -> None:
    """Send the environment, then serve commands until the script is done."""
    header = ""
    if network_script is not None:
        header = "agi_network: yes\n" + (f"agi_network_script: {network_script}\n" if network_script else "")
    await stream.write(header + environment_block(call, request, args, __version__))
    session = AgiSession(call, stream.write)

    async def tell_script_of_hangup() -> None:
        if not session.dead and call.channel.is_hungup:
            session.dead = True
            status.value = "HANGUP"
            await _notify_hangup(stream, on_hangup)

    async def watch_channel() -> None:
        # The script hears of a hangup at once, even while it is busy or silent.
        await call.channel.wait(None)
        await tell_script_of_hangup()

    gone: _ScriptGone | None = None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_channel)
        try:
            while True:
                await tell_script_of_hangup()
                line = await stream.read_line()
                if line is None:
                    break
                if not line.strip():
                    continue
                log.debug("<%s>AGI Rx << %s", call.channel.name, line)
                if await handle_command(session, line) is CommandOutcome.FAILURE:
                    session.dead = True
                    if call.channel.is_hungup:
                        status.value = "HANGUP"
        except _ScriptGone as exc:
            gone = exc  # re-raised outside the nursery, so callers see it plainly
        nursery.cancel_scope.cancel()
    if gone is not None:
        raise gone


async def _notify_hangup(stream: _LineStream, on_hangup: trio.Process | None) -> None:
    """FastAGI gets a ``HANGUP`` line; a process gets SIGHUP."""
    if on_hangup is not None:
        if on_hangup.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                on_hangup.send_signal(signal.SIGHUP)
        return
    try:
        await stream.write("HANGUP\n")
    except _ScriptGone:
        return


def _parse_agi_url(url: str) -> tuple[str, int, str]:
    """``agi://host[:port][/script]`` (an IPv6 host goes in brackets)."""
    hostport, _, script = url[len("agi://"):].partition("/")
    port_text = ""
    if hostport.startswith("[") and "]" in hostport:
        host, _, after = hostport[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else ""
    elif hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
    else:
        host = hostport
    return host, int(port_text) if port_text.isdigit() else FASTAGI_PORT, script


async def _fast_agi(call: Call, url: str, args: list[str], status: _Status) -> None:
    host, port, script = _parse_agi_url(url)
    timeout = call.services.options.agi_timeout
    with trio.move_on_after(CONNECT_TIMEOUT) as scope:
        try:
            sock = await trio.open_tcp_stream(host, port)
        except OSError as exc:
            log.warning("Connect to '%s' failed: %s", url, exc)
            status.value = "FAILURE"
            return
    if scope.cancelled_caught:
        log.warning("FastAGI connection to '%s' timed out after %d milliseconds.", url, CONNECT_TIMEOUT * 1000)
        status.value = "FAILURE"
        return
    async with sock:
        await _converse(call, _LineStream(sock, sock, timeout), url, args, status,
                        network_script=script, on_hangup=None)


async def _process_agi(call: Call, script: str, args: list[str], status: _Status) -> None:
    path = script if os.path.isabs(script) else os.path.join(call.services.options.agi_dir, script)
    if not os.path.exists(path):
        log.warning("Failed to execute '%s': File does not exist.", path)
        status.value = "NOTFOUND"
        return
    try:
        process = await trio.lowlevel.open_process([path, *args], stdin=subprocess.PIPE,
                                                   stdout=subprocess.PIPE)
    except OSError as exc:
        log.warning("Failed to execute '%s': %s", path, exc)
        status.value = "FAILURE"
        return
    assert process.stdin is not None and process.stdout is not None
    stream = _LineStream(process.stdin, process.stdout, call.services.options.agi_timeout)
    log.info("Launched AGI Script %s", path)
    try:
        await _converse(call, stream, path, args, status, network_script=None, on_hangup=process)
    finally:
        await process.stdin.aclose()
        if process.returncode is None:
            with trio.move_on_after(1):
                await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0 and status.value == "SUCCESS":
        log.warning("AGI script %s exited with status %s", path, process.returncode)
        status.value = "FAILURE"


async def _agi(call: Call, data: str) -> AppResult | None:
    args = separate_args(data)
    if not args or not args[0].strip():
        log.warning("AGI requires an argument (script)")
        return AppResult.HANGUP
    script, rest = args[0].strip(), args[1:]
    status = _Status()
    try:
        if script.lower().startswith("agi://"):
            await _fast_agi(call, script, rest, status)
        else:
            await _process_agi(call, script, rest, status)
    except _ScriptGone as exc:
        log.warning("AGI %s: %s", script, exc)
        status.value = "HANGUP" if call.channel.is_hungup else "FAILURE"
    call.set_variable("AGISTATUS", status.value)
    if status.value == "HANGUP" or call.channel.is_hungup:
        return AppResult.HANGUP
    return None


def register_agi_app(registry: Registry[Call]) -> None:
    registry.add_app(Application("AGI", _agi, "Executes an AGI compliant application.", waits=True))
