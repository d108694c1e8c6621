"""Codec negotiation (iax2.md §7.5) including the captured B→A calls."""

from __future__ import annotations

import pytest

from pbxedge.iax2.codecs import Codec, codec_prefs_decode
from pbxedge.iax2.negotiate import (
    CodecOffer,
    NoCommonCodec,
    PriorityFlags,
    accept_format_ok,
    negotiate_codec,
    priority_flags,
)

U, A, G, S, G722 = Codec.ULAW, Codec.ALAW, Codec.GSM, Codec.SLIN, Codec.G722
A_PREFS = codec_prefs_decode("DECHOFG")  # instance A's allow= order
A_CAP = 0x186E
B_OFFER = CodecOffer(format=S, capability=0x4E, prefs=tuple(codec_prefs_decode("HDEC")))

HOST = priority_flags("host")
CALLER = priority_flags("caller")
DISABLED = priority_flags("disabled")
REQONLY = priority_flags("reqonly")


def test_captured_call_a_as_host_accepts_ulaw() -> None:
    # §15.4: "requested format = slin ... actual format = ulaw ... priority = mine"
    assert negotiate_codec(B_OFFER, prefs=A_PREFS, capability=A_CAP, flags=HOST) == U


@pytest.mark.parametrize(
    ("offer", "prefs", "cap", "flags", "expected"),
    [
        # caller priority: the caller's own order (slin first) wins
        (B_OFFER, A_PREFS, A_CAP, CALLER, S),
        # caller priority but no CODEC_PREFS: falls back to ours
        (CodecOffer(S, 0x4E), A_PREFS, A_CAP, CALLER, U),
        # disabled: the requested FORMAT if we support it
        (B_OFFER, A_PREFS, A_CAP, DISABLED, S),
        # disabled, FORMAT unsupported: best of the common capability (fixed order: ulaw)
        (CodecOffer(Codec.G729, 0x10C), A_PREFS, A_CAP, DISABLED, U),
        # reqonly: FORMAT or nothing
        (B_OFFER, A_PREFS, A_CAP, REQONLY, S),
        (CodecOffer(Codec.G729, 0x10C), A_PREFS, A_CAP, REQONLY, None),
        # host prefs share nothing with the offer: "do the opposite" -> the caller's order
        (CodecOffer(G722, G722 | G, (G722, G)), [U, A], A_CAP, HOST, G722),
        # ... and with caller priority the opposite is our order
        (CodecOffer(G722, G722 | G, (Codec.ILBC,)), [G, G722], A_CAP, CALLER, G),
        # no prefs anywhere that match and no CODEC_PREFS: fixed best order
        (CodecOffer(G, G | G722), [U], A_CAP, HOST, G722),
        # nothing in common at all
        (CodecOffer(Codec.G729, Codec.G729), A_PREFS, A_CAP, HOST, None),
        # video bits never become the format
        (CodecOffer(Codec.H264, Codec.H264 | G), [Codec.H264, G], Codec.H264 | G, HOST, G),
        # 64-bit capability (opus) is honoured
        (CodecOffer(Codec.OPUS, Codec.OPUS), [Codec.OPUS], Codec.OPUS | U, HOST, Codec.OPUS),
    ],
)
def test_negotiation_table(
    offer: CodecOffer, prefs: list[Codec], cap: int, flags: PriorityFlags, expected: Codec | None
) -> None:
    result = negotiate_codec(offer, prefs=prefs, capability=cap, flags=flags)
    if expected is None:
        assert isinstance(result, NoCommonCodec)
        assert int(result.cause) == 58
        assert result.text == "Unable to negotiate codec"
    else:
        assert result == expected


def test_priority_flags_only_accumulate() -> None:
    # a user's "host" cannot undo a global "caller" (iax2.md §7.5)
    assert priority_flags("caller", "host") == PriorityFlags(user_first=True)
    assert priority_flags("reqonly") == PriorityFlags(no_prefs=True, no_cap=True)
    with pytest.raises(ValueError):
        priority_flags("loudest")


@pytest.mark.parametrize(
    ("fmt", "cap", "ok"), [(U, 0x4E, True), (G722, 0x4E, False), (0, 0x4E, False)]
)
def test_accept_format_check(fmt: int, cap: int, ok: bool) -> None:
    assert accept_format_ok(fmt, cap) is ok
