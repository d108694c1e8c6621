"""A phone box proving that it can still be heard and can still hear.

1. *Acoustic loop*: a 1400 Hz tone plays through the loudspeaker for a second while the
   microphone listens (:class:`~pbxedge.media.dsp.ToneDetector`, 20 ms blocks). In a real
   box the loudspeaker reaches the microphone through the air; the test passes when the
   tone fills at least :data:`MIN_TONE_MS` of what the microphone hears.
2. *Report*: the box calls ``test_target`` and, once answered, sends ``*<box_id>#<1|0>#``
   as DTMF (1 = passed) and the same as TEXT with the details, then hangs up.

The test fails when the tone is not heard, or when the report call is not answered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import trio

from pbxedge.iax2.enums import Cause
from pbxedge.media.dsp import ToneDetector
from pbxedge.phonebox.parts import BoxParts
from pbxedge.phones.phone import send_keys
from pbxedge.phones.speaker import Samples

__all__ = ["MIN_TONE_MS", "TEST_TONE_HZ", "SelfTestResult", "run_self_test"]

logger = logging.getLogger("pbxedge.phonebox")

TEST_TONE_HZ = 1400.0
TEST_TONE_SECONDS = 1.0
TEST_TONE_AMPLITUDE = 8000  # about -12 dBFS
LISTEN_AFTER_SECONDS = 0.5  # what the loop delays may still bring
MIN_TONE_MS = 200
_REPORT_GRACE_SECONDS = 0.5


@dataclass(frozen=True)
class SelfTestResult:
    at: float
    passed: bool
    loop_ok: bool
    reported: bool
    detail: str


async def acoustic_loop(parts: BoxParts) -> tuple[bool, str]:
    phone = parts.phone
    if not phone.ready.is_set():
        return False, f"sound device not available ({phone.failure})"
    rate = phone.native.sample_rate
    block = rate // 50
    detector = ToneDetector(TEST_TONE_HZ, rate)
    pending: list[Samples] = []
    heard_blocks = 0
    first_heard: float | None = None

    def listen(pcm: Samples) -> None:
        nonlocal heard_blocks, first_heard
        pending.append(pcm)
        samples = np.concatenate(pending)
        pending.clear()
        whole = len(samples) // block * block
        for start in range(0, whole, block):
            if detector.present(samples[start:start + block]):
                heard_blocks += 1
                if first_heard is None:
                    first_heard = trio.current_time()
        if whole < len(samples):
            pending.append(samples[whole:])

    t = np.arange(int(rate * TEST_TONE_SECONDS)) / rate
    tone = np.rint(np.sin(2 * np.pi * TEST_TONE_HZ * t) * TEST_TONE_AMPLITUDE).astype(np.int16)
    stop_listening = phone.listen(listen)
    try:
        started = trio.current_time()
        await phone.play_samples_to_speaker(tone)
        await trio.sleep(LISTEN_AFTER_SECONDS)
    finally:
        stop_listening()
    heard_ms = heard_blocks * 20
    if heard_ms >= MIN_TONE_MS and first_heard is not None:
        return True, (f"test tone heard on the microphone ({heard_ms} ms, "
                      f"{(first_heard - started) * 1000:.0f} ms after it started)")
    return False, f"test tone not heard on the microphone ({heard_ms} ms of tone)"


async def report(parts: BoxParts, passed: bool, detail: str) -> tuple[bool, str]:
    """Call the receiver with the result; (reported, why not)."""
    config = parts.config
    phone = parts.phone
    if phone.call is not None:
        return False, "the phone is in a call"
    channel = phone.outgoing_channel(parts.caller_name, parts.caller_num)
    reported = False

    async def send() -> None:
        nonlocal reported
        await channel.joined.wait()
        await send_keys(channel, f"*{config.box_id}#{1 if passed else 0}#")
        channel.receive_text(f"TEST {config.box_id} {'PASS' if passed else 'FAIL'}: {detail}")
        await trio.sleep(_REPORT_GRACE_SECONDS)
        reported = not channel.is_hungup
        channel.end(Cause.NORMAL_CLEARING)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send)
            result = await parts.dialer.dial(channel, [config.test_target],
                                             config.alarm_ring_timeout, "")
            nursery.cancel_scope.cancel()
    finally:
        channel.end(Cause.NORMAL_CLEARING)
    if reported:
        return True, ""
    return False, f"report call to {config.test_target}: {result.status.value}"


async def run_self_test(parts: BoxParts) -> SelfTestResult:
    at = parts.clock()
    loop_ok, detail = await acoustic_loop(parts)
    reported, problem = await report(parts, loop_ok, detail)
    if problem:
        detail = f"{detail}; {problem}"
    return SelfTestResult(at, loop_ok and reported, loop_ok, reported, detail)
