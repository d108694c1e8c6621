import pytest

from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame, MetaVideoFrame, MiniFrame, iax_frame, parse_datagram
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.showframe import show_frame, show_ies

REGACK = bytes.fromhex(
    "b4022188000000110102060f0607656e63706565721f04357b2aeb1302003c1210020011db7f000001"
    "00000000000000000204313030340408456e632050656572"
)
NEW = bytes.fromhex(
    "ae88000000000002000006010b02000201033630302d0448444543260143270100280200003904000000"
    "000a02656e06076d643570656572090400000040380900000000000000004008040000004e3709000000"
    "00000000004e0c0200021f04357b2b0c3600"
)


def test_reference_example_layout() -> None:
    """The iax2.md §9 sample, as Asterisk prints a transmitted REGAUTH."""
    ies = (
        IEList()
        .add_u16(IE.AUTHMETHODS, 2)
        .add_str(IE.CHALLENGE, "144052507")
        .add_str(IE.USERNAME, "vox")
    )
    frame = iax_frame(241, 1, 3, 0, 1, IaxSubclass.REGAUTH, ies)
    assert show_frame(frame, "Tx", ("10.0.0.25", 34966), retries=0) == (
        "Tx-Frame Retry[000] -- OSeqno: 000 ISeqno: 001 Type: IAX     Subclass: REGAUTH\n"
        "   Timestamp: 00003ms  SCall: 00241  DCall: 00001 10.0.0.25:34966\n"
        "   AUTHMETHODS     : 2\n"
        "   CHALLENGE       : \\x31\\x34\\x34\\x30\\x35\\x32\\x35\\x30\\x37\n"
        "   USERNAME        : vox\n"
        "\n"
    )


def test_received_regack() -> None:
    assert show_frame(parse_datagram(REGACK), "Rx", ("127.0.0.1", 4570)) == (
        "Rx-Frame Retry[ No] -- OSeqno: 001 ISeqno: 002 Type: IAX     Subclass: REGACK \n"
        "   Timestamp: 00017ms  SCall: 13314  DCall: 08584 127.0.0.1:4570\n"
        "   USERNAME        : encpeer\n"
        "   DATE TIME       : 2026-11-27  05:23:22\n"
        "   REFRESH         : 60\n"
        "   APPARENT ADDRES : IPV4 127.0.0.1:4571\n"
        "   CALLING NUMBER  : 1004\n"
        "   CALLING NAME    : Enc Peer\n"
        "\n"
    )


def test_new_with_codec_ies_and_truncated_names() -> None:
    text = show_frame(parse_datagram(NEW), "Rx", ("127.0.0.1", 4571))
    assert "   CODEC_PREFS     : (slin|ulaw|alaw|gsm)\n" in text
    assert "   CALLING PRESNTN : 67\n" in text
    assert "   CALLING TYPEOFN : 0\n" in text
    assert "   CALLING TRANSIT : 0\n" in text
    assert "   FORMAT          : 64\n" in text
    assert "   FORMAT2         : slin\n" in text
    # CAPABILITY2 holds several bits; Asterisk's single-format lookup says Unknown.
    assert "   CAPABILITY2     : Unknown\n" in text
    assert "   CALLTOKEN       : Present\n" in text
    assert text.startswith(
        "Rx-Frame Retry[ No] -- OSeqno: 000 ISeqno: 000 Type: IAX     Subclass: NEW    \n"
    )


def test_retransmitted_and_ipv6_address() -> None:
    frame = iax_frame(2, 3, 123456, 7, 8, IaxSubclass.CALLTOKEN, retransmitted=True)
    assert show_frame(frame, "Rx", ("::1", 4569)) == (
        "Rx-Frame Retry[Yes] -- OSeqno: 007 ISeqno: 008 Type: IAX     Subclass: CTOKEN \n"
        "   Timestamp: 123456ms  SCall: 00002  DCall: 00003 [::1]:4569\n"
    )


@pytest.mark.parametrize(
    ("frametype", "subclass", "expected"),
    [
        (FrameType.VOICE, 4, "Type: VOICE   Subclass: 4"),
        (FrameType.VOICE, 0x100, "Type: VOICE   Subclass: 136"),  # the compressed byte
        (FrameType.CONTROL, 4, "Type: CONTROL Subclass: ANSWER "),
        (FrameType.CONTROL, -1, "Type: CONTROL Subclass: (255?)"),
        (FrameType.CONTROL, 33, "Type: CONTROL Subclass: PCAUSEC"),
        (FrameType.CONTROL, 34, "Type: CONTROL Subclass: (34?)"),
        (FrameType.DTMF_END, ord("5"), "Type: DTMF_E  Subclass: 5"),
        (FrameType.DTMF_BEGIN, ord("#"), "Type: DTMF_B  Subclass: #"),
        (FrameType.IAX, 29, "Type: IAX     Subclass: UNQUELCH"),
        (FrameType.IAX, 33, "Type: IAX     Subclass: UNSPRTD"),
        (FrameType.IAX, 41, "Type: IAX     Subclass: Unknown"),
        (FrameType.TEXT, 0, "Type: TEXT    Subclass: 0"),
        (0, 0, "Type: (0?) Subclass: 0"),
        (13, 1, "Type: (13?) Subclass: 1"),
    ],
)
def test_type_and_subclass_names(frametype: int, subclass: int, expected: str) -> None:
    frame = FullFrame(1, 2, 3, 4, 5, frametype, subclass, b"")
    first_line = show_frame(frame, "Tx", ("127.0.0.1", 4569), retries=2).splitlines()[0]
    assert first_line == (
        f"Tx-Frame Retry[002] -- OSeqno: 004 ISeqno: 005 {expected}"
    )


def test_non_iax_payload_is_not_dumped_as_ies() -> None:
    frame = FullFrame(1, 2, 3, 4, 5, FrameType.TEXT, 0, b"\x06\x03abc")
    assert len(show_frame(frame, "Rx", ("127.0.0.1", 1)).splitlines()) == 2


def test_mini_and_meta_frames_print_nothing() -> None:
    assert show_frame(MiniFrame(1, 2, b"x"), "Rx", ("127.0.0.1", 1)) == ""
    assert show_frame(MetaVideoFrame(1, 2, False, b""), "Rx", ("127.0.0.1", 1)) == ""


@pytest.mark.parametrize(
    ("ie", "data", "line"),
    [
        (IE.CAUSECODE, b"\x10", "CAUSE CODE      : 16"),
        (IE.CAUSECODE, b"\x10\x00", "CAUSE CODE      : Invalid BYTE"),
        (IE.REFRESH, b"\x00", "REFRESH         : Invalid SHORT"),
        (IE.FORMAT, b"\x00", "FORMAT          : Invalid INT"),
        (IE.DATETIME, b"\x00", "DATE TIME       : Invalid DATETIME format!"),
        (IE.DATETIME, (0x35067DB8).to_bytes(4, "big"), "DATE TIME       : 2026-08-06  15:45:48"),
        (IE.FORMAT2, b"\x01" + bytes(8), "FORMAT2         : Unknown version!"),
        (IE.FORMAT2, b"\x00" + bytes(3), "FORMAT2         : Invalid length!"),
        (IE.FORMAT2, b"\x00" + (1 << 34).to_bytes(8, "big"), "FORMAT2         : opus"),
        (IE.APPARENT_ADDR, b"\x02\x00", "APPARENT ADDRES : Invalid Address"),
        (IE.SAMPLINGRATE, b"\x00\x05", "SAMPLINGRATE    : 8khz,16khz"),
        (IE.RR_OOO, bytes(4), "RR_OUTOFORDER   : 0"),
        (IE.CALLTOKEN, b"1?abc", "CALLTOKEN       : 5 bytes"),
        (IE.AUTOANSWER, b"", "AUTO ANSWER REQ : Present"),
        (IE.MUSICONHOLD, b"", "Unknown IE 026  : Present"),
        (200, b"xyz", "Unknown IE 200  : Present"),
        (IE.USERNAME, b"ab\x00cd", "USERNAME        : ab"),
        (IE.CODEC_PREFS, b"DE?C", "CODEC_PREFS     : (ulaw|alaw)"),
        (IE.CODEC_PREFS, b"DDE", "CODEC_PREFS     : (ulaw|alaw)"),
    ],
)
def test_ie_value_formats(ie: int, data: bytes, line: str) -> None:
    assert show_ies(bytes([ie, len(data)]) + data) == f"   {line}\n\n"


def test_samplingrate_none_keeps_asterisk_newline() -> None:
    assert show_ies(bytes([IE.SAMPLINGRATE, 2, 0, 0])) == "   SAMPLINGRATE    : None Specified!\n\n\n"


def test_ie_overrun_message_and_short_blocks() -> None:
    assert show_ies(bytes.fromhex("0605616263")) == (
        "Total IE length of 7 bytes exceeds remaining frame length of 5 bytes\n"
    )
    assert show_ies(b"") == ""
    assert show_ies(b"\x06") == ""
    # A trailing odd byte is ignored after the last whole IE.
    assert show_ies(bytes.fromhex("2a011006")) == "   CAUSE CODE      : 16\n\n"


def test_provisioning_ies_are_dumped_nested() -> None:
    nested = (
        bytes([1, 0])  # USEDHCP
        + bytes([2, 4, 192, 0, 2, 7])  # a 4-byte IPADDR: Asterisk wants a sockaddr image
        + bytes([12, 4, 0, 0, 0, 5])  # FLAGS register+heartbeat
        + bytes([14, 16]) + bytes(16)  # AESKEY
        + bytes([8, 1, 0])  # SERVERUSER is missing from Asterisk's table
        + bytes([6, 9]) + b"x"  # overrun
    )
    assert show_ies(bytes([IE.PROVISIONING, len(nested)]) + nested) == (
        "   PROVISIONING    : \n"
        "       USEDHCP         : Present\n"
        "       IPADDR          : Invalid IPADDR\n"
        "       FLAGS           : 5 (register,heartbeat)\n"
        "       AESKEY          : 16 bytes\n"
        "       Unknown Prov IE 008  : Present\n"
        "Total Prov IE length of 11 bytes exceeds remaining prov frame length of 3 bytes\n"
        "\n"
        "\n"
    )
