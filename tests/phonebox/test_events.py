"""Phone box events as a manager client reads them."""

from __future__ import annotations

from pbxedge.manager.channels import LiveChannels
from pbxedge.manager.render import render
from pbxedge.phonebox.events import AlarmStatus, PhoneBoxAlarm, PhoneBoxTest


def test_an_alarm_step_is_a_system_event_with_its_keys_in_order() -> None:
    event = PhoneBoxAlarm("lift", "42", "Building A, lift 2", AlarmStatus.NOT_ACKNOWLEDGED,
                          "IAX2/lobby/100", 2, 41.6)
    assert render(event, LiveChannels()) == (
        "Event: PhoneBoxAlarm\r\nPrivilege: system,all\r\nBox: lift\r\nBoxID: 42\r\n"
        "Location: Building A, lift 2\r\nStatus: NotAcknowledged\r\n"
        "Target: IAX2/lobby/100\r\nAttempts: 2\r\nElapsed: 42\r\n\r\n")


def test_a_self_test_says_pass_or_fail() -> None:
    passed = render(PhoneBoxTest("lift", "42", True, "test tone heard"), LiveChannels())
    failed = render(PhoneBoxTest("deaf", "43", False, "test tone not heard"), LiveChannels())
    assert passed == ("Event: PhoneBoxTest\r\nPrivilege: system,all\r\nBox: lift\r\n"
                      "BoxID: 42\r\nResult: Pass\r\nDetail: test tone heard\r\n\r\n")
    assert "Result: Fail\r\nDetail: test tone not heard\r\n" in failed
