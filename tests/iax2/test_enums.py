from pbxedge.iax2.enums import (
    IE,
    AuthMethod,
    Cause,
    ControlSubclass,
    DpStatus,
    EncryptionMethod,
    FrameType,
    IaxSubclass,
)


def test_frame_types_are_asterisk_values() -> None:
    assert [t.value for t in FrameType] == list(range(1, 13))
    assert FrameType.IAX.value == 6 and FrameType.DTMF_BEGIN.value == 12


def test_iax_subclasses_cover_1_to_40() -> None:
    assert [s.value for s in IaxSubclass] == list(range(1, 41))
    assert IaxSubclass.CALLTOKEN.value == 0x28
    assert IaxSubclass.RTKEY.value == 39 and IaxSubclass.TXMEDIA.value == 38


def test_ies_cover_1_to_57_with_asterisk_names() -> None:
    assert [ie.value for ie in IE] == list(range(1, 58))
    assert IE.CALLTOKEN.value == 0x36
    assert IE.APPARENT_ADDR.value == 18 and IE.CAUSECODE.value == 42 and IE.CALLINGANI2.value == 57


def test_control_stop_sounds_is_minus_one() -> None:
    assert ControlSubclass.STOP_SOUNDS.value == -1
    assert ControlSubclass.ANSWER.value == 4 and ControlSubclass.VIDUPDATE.value == 18
    assert ControlSubclass.MCID.value == 31


def test_flags_and_causes() -> None:
    assert AuthMethod.MD5 | AuthMethod.RSA == 6
    assert EncryptionMethod.AES128 | EncryptionMethod.KEYROTATE == 0x8001
    assert DpStatus.MATCHMORE.value == 0x8000 and DpStatus.IGNOREPAT.value == 0x4000
    assert Cause.NORMAL_CLEARING.value == 16 and Cause.USER_BUSY.value == 17
    assert Cause.DESTINATION_OUT_OF_ORDER.value == 27
    assert Cause.FACILITY_NOT_SUBSCRIBED.value == 50
    assert Cause.BEARERCAPABILITY_NOTAVAIL.value == 58
    assert Cause.INTERWORKING.value == 127
