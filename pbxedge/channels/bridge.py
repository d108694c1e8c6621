"""Two channels joined: voice, DTMF, TEXT and hold cross until either side hangs up.

Two IAX2 legs of this node relay voice inside the endpoint (no frame object per packet once
the codecs agree, see :meth:`MediaChannel.relay_voice_to`); any other pair passes frames
through :meth:`MediaChannel.write`, which transcodes when the formats differ. DTMF crosses
as it came (BEGIN as BEGIN, END as END), TEXT as text, a hook flash as a flash.

Hold follows each side's ``mohinterpret``: ``passthrough`` sends HOLD/UNHOLD on to that
side's leg; any other value plays that class of music on hold to it (or the holder's
``mohsuggest``) until UNHOLD.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from pbxedge.channels.media import MediaChannel

__all__ = ["bridge"]


def _hold_for(listener: MediaChannel, holder: MediaChannel,
              nursery: trio.Nursery) -> Callable[[bool], None]:
    def on_hold(on: bool) -> None:
        if listener.mohinterpret == "passthrough":
            listener.send_hold(on)
        elif on:
            nursery.start_soon(listener.start_moh, holder.mohsuggest or listener.mohinterpret)
        else:
            nursery.start_soon(listener.stop_moh)

    return on_hold


def _join(src: MediaChannel, dst: MediaChannel, nursery: trio.Nursery) -> None:
    """Route what *src* receives to *dst*."""
    src.bridged = dst
    relayed = src.relay_voice_to(dst)
    src.use_jitterbuffer(not relayed and not dst.buffers_audio)
    src.take_audio(
        None if relayed else dst.write,
        lambda digit, begin: dst.send_digit(digit, begin=begin),
        dst.send_text_now,
        _hold_for(dst, src, nursery),
        dst.send_flash,
    )


async def bridge(caller: MediaChannel, callee: MediaChannel) -> None:
    """Join the two until one of them hangs up (the other is left to the caller of this)."""
    # The called leg's digits since its answer were queued for nobody: they go across too.
    for digit in callee.queued_digits():
        caller.send_digit(digit, begin=True)
        caller.send_digit(digit, begin=False)
    try:
        async with trio.open_nursery() as nursery:
            _join(caller, callee, nursery)
            _join(callee, caller, nursery)

            async def ends(side: MediaChannel) -> None:
                await side.wait(None)
                nursery.cancel_scope.cancel()

            nursery.start_soon(ends, caller)
            nursery.start_soon(ends, callee)
    finally:
        for side in (caller, callee):
            side.bridged = None
            side.relay_voice_to(None)
            side.use_jitterbuffer(True)
            side.take_audio(None)
            with trio.CancelScope(shield=True):
                await side.stop_moh()
