from __future__ import annotations

import pytest

from pbxedge.config.codec_lists import CodecSelection, apply_codec_list
from pbxedge.config.values import ValueFormError
from pbxedge.iax2.codecs import AUDIO_MASK, BANDWIDTH_HIGH, BEST_ORDER, Codec


def run(*lines: tuple[bool, str], mask: Codec = BANDWIDTH_HIGH) -> CodecSelection:
    selection = CodecSelection(mask, [])
    for allowing, value in lines:
        apply_codec_list(selection, value, allowing=allowing)
    return selection


def test_disallow_all_then_allow_in_order() -> None:
    sel = run((False, "all"), (True, "ulaw"), (True, "alaw,gsm"), (True, "ulaw"))
    assert sel.mask == Codec.ULAW | Codec.ALAW | Codec.GSM
    assert sel.prefs == [Codec.ULAW, Codec.ALAW, Codec.GSM]


def test_disallow_removes_from_mask_and_prefs() -> None:
    sel = run((False, "all"), (True, "ulaw|alaw|g722"), (False, "alaw"))
    assert sel.mask == Codec.ULAW | Codec.G722
    assert sel.prefs == [Codec.ULAW, Codec.G722]


def test_allow_all_adds_every_audio_codec_in_fallback_order() -> None:
    sel = run((False, "all"), (True, "gsm"), (True, "all"))
    assert sel.mask == AUDIO_MASK
    assert sel.prefs[0] == Codec.GSM
    assert sel.prefs[1:] == [c for c in BEST_ORDER if c != Codec.GSM]


def test_bang_inverts_and_aliases_work() -> None:
    sel = run((False, "all"), (True, "g723.1,mulaw,!gsm"))
    assert sel.prefs == [Codec.G723, Codec.ULAW]


def test_disallow_on_default_mask_keeps_the_rest() -> None:
    sel = run((False, "lpc10"))
    assert sel.mask == BANDWIDTH_HIGH & ~Codec.LPC10
    assert sel.prefs == []


def test_framing_is_noted_not_applied() -> None:
    sel = run((False, "all"), (True, "ulaw:20"))
    assert sel.prefs == [Codec.ULAW]
    assert sel.notes == ["packetization ':20' for 'ulaw' is not implemented by pbxedge yet"]


@pytest.mark.parametrize("value", ["nosuch", "ulaw,bogus", "", " , ", "alaw:20,bogus"])
def test_unknown_codec_changes_nothing(value: str) -> None:
    sel = run((False, "all"), (True, "ulaw"))
    with pytest.raises(ValueFormError, match="codec names"):
        apply_codec_list(sel, value, allowing=True)
    # Not even a remark, which would otherwise be reported at the next allow= line.
    assert sel.prefs == [Codec.ULAW] and sel.mask == Codec.ULAW and sel.notes == []
