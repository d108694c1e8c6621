"""NEW building (byte-exact against Asterisk 22) and reading."""

from __future__ import annotations

from datetime import datetime

import pytest

from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.enums import IE
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.newcall import build_new, parse_new, shrink_phone_number

# asterisk-b-to-a-calls.pcapng frame 1 (README §5.5): B's NEW as md5peer to 600.
CALLS_FRAME_1 = bytes.fromhex(
    "ae88000000000002000006010b02000201033630302d0448444543260143270100280200003904000000000a02"
    "656e06076d643570656572090400000040380900000000000000004008040000004e370900000000000000004e"
    "0c0200021f04357b2b0c3600"
)
_HEADER = 12
B_PREFS = [Codec.SLIN, Codec.ULAW, Codec.ALAW, Codec.GSM]


def test_rebuilds_captured_new_byte_for_byte() -> None:
    captured = IEList.parse(CALLS_FRAME_1[_HEADER:])
    frame_datetime = captured.get_datetime(IE.DATETIME)
    assert frame_datetime == datetime(2026, 11, 27, 5, 24, 24)
    built = build_new(
        "600",
        prefs=B_PREFS,
        capability=0x4E,
        format=Codec.SLIN,
        username="md5peer",
        language="en",
        now_datetime=frame_datetime,
    )
    built.add_empty(IE.CALLTOKEN)  # the endpoint's job; added here to compare whole frames
    assert built.encode() == CALLS_FRAME_1[_HEADER:]


def _ids(ies: IEList) -> list[int]:
    return [ie for ie, _ in ies]


def test_every_optional_ie_lands_in_asterisk_order() -> None:
    ies = build_new(
        "100",
        prefs=[Codec.ULAW],
        capability=Codec.ULAW | Codec.OPUS,
        format=Codec.ULAW,
        username="u",
        calling_number="1001",
        calling_name="Name",
        ani="1001",
        language="en",
        dnid="100",
        rdnis="200",
        context="ctx",
        encryption=0x8001,
        autoanswer=True,
        variables={"A": "1", "B": "2"},
        now_datetime=datetime(2026, 8, 6, 15, 45, 48),
    )
    assert _ids(ies) == [
        IE.VERSION,
        IE.CALLED_NUMBER,
        IE.AUTOANSWER,
        IE.CODEC_PREFS,
        IE.CALLING_NUMBER,
        IE.CALLINGPRES,
        IE.CALLINGTON,
        IE.CALLINGTNS,
        IE.CALLINGANI2,
        IE.CALLING_NAME,
        IE.CALLING_ANI,
        IE.LANGUAGE,
        IE.DNID,
        IE.RDNIS,
        IE.CALLED_CONTEXT,
        IE.USERNAME,
        IE.ENCRYPTION,
        IE.FORMAT,
        IE.FORMAT2,
        IE.CAPABILITY,
        IE.CAPABILITY2,
        IE.ADSICPE,
        IE.DATETIME,
        IE.VARIABLE,
        IE.VARIABLE,
    ]
    assert ies.get_u8(IE.CALLINGPRES) == 0x01
    assert ies.get_u16(IE.ENCRYPTION) == 0x8001
    # opus (bit 34) only fits the 64-bit IE
    assert ies.get_u32(IE.CAPABILITY) == Codec.ULAW
    assert ies.get_u64_versioned(IE.CAPABILITY2) == Codec.ULAW | Codec.OPUS
    assert ies.get_u32(IE.DATETIME) == 0x35067DB8  # iax2.md §13 vector


def test_minimal_new_has_no_optional_ies_and_pres_0x43() -> None:
    ies = build_new(
        "",
        prefs=[],
        capability=4,
        format=4,
        now_datetime=datetime(2026, 1, 1),
        language="",
        username="",
    )
    assert _ids(ies) == [
        IE.VERSION,
        IE.CALLED_NUMBER,
        IE.CODEC_PREFS,
        IE.CALLINGPRES,
        IE.CALLINGTON,
        IE.CALLINGTNS,
        IE.CALLINGANI2,
        IE.FORMAT,
        IE.FORMAT2,
        IE.CAPABILITY,
        IE.CAPABILITY2,
        IE.ADSICPE,
        IE.DATETIME,
    ]
    assert ies.get_str(IE.CALLED_NUMBER) == "s"
    assert ies.get_u8(IE.CALLINGPRES) == 0x43


def test_parse_captured_new() -> None:
    request = parse_new(IEList.parse(CALLS_FRAME_1[_HEADER:]))
    assert request.version == 2 and request.version_supported
    assert request.exten == "600"
    assert request.username == "md5peer"
    assert request.language == "en"
    assert request.format == Codec.SLIN
    assert request.capability == 0x4E
    assert request.prefs == tuple(B_PREFS)
    assert request.encryption == 0
    assert request.calling_number is None
    assert request.calling_pres == 0x43
    assert request.adsicpe == 2
    assert request.called_context is None
    assert not request.autoanswer


@pytest.mark.parametrize(
    ("ies", "fmt", "cap"),
    [
        # 64-bit IEs win over the 32-bit ones
        (
            IEList()
            .add_u32(IE.FORMAT, 4)
            .add_u64_versioned(IE.FORMAT2, 1 << 34)
            .add_u32(IE.CAPABILITY, 4)
            .add_u64_versioned(IE.CAPABILITY2, (1 << 34) | 4),
            1 << 34,
            (1 << 34) | 4,
        ),
        # no capability at all: falls back to the format
        (IEList().add_u32(IE.FORMAT, 8), 8, 8),
        # 32-bit only
        (IEList().add_u32(IE.FORMAT, 4).add_u32(IE.CAPABILITY, 0x4E), 4, 0x4E),
    ],
)
def test_parse_format_and_capability(ies: IEList, fmt: int, cap: int) -> None:
    request = parse_new(ies)
    assert (request.format, request.capability) == (fmt, cap)


def test_parse_defaults_and_extras() -> None:
    ies = (
        IEList()
        .add_u16(IE.VERSION, 3)
        .add_str(IE.CALLING_NUMBER, "(555) 123-45.67.")
        .add_str(IE.CALLED_CONTEXT, "ctx")
        .add_u16(IE.ENCRYPTION, 0x8001)
        .add_empty(IE.AUTOANSWER)
        .add_variable("FOO", "bar")
    )
    request = parse_new(ies)
    assert not request.version_supported
    assert request.exten == "s"
    assert request.calling_number == "5551234567."
    assert request.called_context == "ctx"
    assert request.encryption == 0x8001
    assert request.autoanswer
    assert request.variables == {"FOO": "bar"}
    assert parse_new(ies, shrink_callerid=False).calling_number == "(555) 123-45.67."


@pytest.mark.parametrize(
    ("raw", "shrunk"),
    [
        ("(555) 123-4567", "5551234567"),
        ("555.123.4567", "5551234567"),
        ("1234.", "1234."),
        ("12[3-5]-6", "12[3-5]6"),
        ("+1 (800) FLOWERS", "+1800FLOWERS"),
        ("", ""),
    ],
)
def test_shrink_phone_number(raw: str, shrunk: str) -> None:
    assert shrink_phone_number(raw) == shrunk
