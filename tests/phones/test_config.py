"""console.conf: chan_console's keys and defaults, pbxedge's keys, the phone-box keys."""

from __future__ import annotations

from pathlib import Path

from pbxedge.config.diagnostics import Severity
from pbxedge.phones.config import (
    MAX_TEST_INTERVAL_HOURS,
    BoxConfig,
    load_console_config,
    parse_console_config,
)

SAMPLE = """[general]
context = from-console
callerid = "Console Phone" <200>
autoanswer = yes
jbmaxsize = 300

[dev1]
input_device = default
output_device = default
active = yes

[dev2]
input_device = 3
output_device = speaker
context = other
extension = 100
autoanswer = no
overridecontext = yes
immediate = yes
samplerate = 48000
frame_ms = 40
rx_gain = -6
tx_gain = 3.5
ringtone = 440/500,0/500
early_media = yes
button = /dev/input/by-path/platform-gpio-keys-event:KEY_PROG1
"""


def test_general_keys_are_every_phone_s_defaults_and_a_phone_overrides_them() -> None:
    config, problems = parse_console_config(SAMPLE)
    assert problems == []
    dev1, dev2 = config.phones["dev1"], config.phones["dev2"]
    assert (dev1.context, dev1.extension, dev1.autoanswer) == ("from-console", "s", True)
    assert (dev1.callerid_name, dev1.callerid_num) == ("Console Phone", "200")
    assert dev1.jitterbuffer.maxjitterbuffer == 300 and dev1.box is None
    assert (dev2.context, dev2.extension, dev2.autoanswer) == ("other", "100", False)
    assert dev2.overridecontext and dev2.immediate and dev2.early_media
    assert (dev2.samplerate, dev2.frame_ms, dev2.rx_gain, dev2.tx_gain) == (48000, 40, -6, 3.5)
    assert dev2.ringtone == "440/500,0/500"
    assert dev2.button.endswith(":KEY_PROG1")
    assert config.active is dev1
    # chan_console's defaults
    bare, _ = parse_console_config("[p]\ninput_device=a\noutput_device=b\n")
    phone = bare.phones["p"]
    assert (phone.context, phone.extension, phone.mohinterpret) == ("default", "s", "default")
    assert not phone.autoanswer and not phone.active and bare.active is None


def test_problems_name_file_and_line() -> None:
    config, problems = parse_console_config("""[general]
active = yes
volume = 11

[p]
input_device = default
frame_ms = 25
rx_gain = loud
button = F1

[q]
output_device = default
""", "console.conf")
    texts = [str(p) for p in problems]
    assert texts == [
        "console.conf:2: warning: Unknown option 'active'",
        "console.conf:3: warning: Unknown option 'volume'",
        "console.conf:7: error: frame_ms: '25' is not valid; accepted: 10, 20, 30, 40, 50 or 60",
        "console.conf:8: error: rx_gain: 'loud' is not valid; accepted: decibels from -30 to 30",
        "console.conf:9: error: button: 'F1' is not valid; accepted: /dev/input/<device>:"
        "KEY_<NAME> (or BTN_<NAME>)",
        "console.conf:5: error: phone 'p': output_device is required (a device name or "
        "number, or 'default')",
        "console.conf:11: error: phone 'q': input_device is required (a device name or "
        "number, or 'default')",
    ]
    assert config.phones["p"].frame_ms == 20  # a bad value keeps the default


def test_a_phone_box_section() -> None:
    config, problems = parse_console_config("""[lift]
input_device = default
output_device = default
alarm_targets = IAX2/lobby/100, IAX2/trunk/0612345678
location = Building A, lift 2
box_id = 42
test_target = IAX2/receiver/200
test_interval = 24
alarm_give_up = 30
""")
    assert problems == []
    box = config.phones["lift"].box
    assert box == BoxConfig(alarm_targets=("IAX2/lobby/100", "IAX2/trunk/0612345678"),
                            location="Building A, lift 2", box_id="42",
                            test_target="IAX2/receiver/200", test_interval=24 * 3600.0,
                            alarm_give_up=1800.0)
    assert (box.alarm_ring_timeout, box.ack_digit, box.ack_timeout) == (30.0, "5", 30.0)


def test_a_box_never_tests_less_often_than_every_72_hours_and_needs_an_id() -> None:
    config, problems = parse_console_config("""[lift]
input_device = default
output_device = default
test_target = IAX2/receiver/200
test_interval = 200
ack_digit = 55
alarm_targets = lobby
""", "console.conf")
    assert [str(p) for p in problems] == [
        "console.conf:6: error: ack_digit: '55' is not valid; accepted: one DTMF digit "
        "(0123456789*#ABCD)",
        "console.conf:7: error: alarm_targets: 'lobby' is not valid; accepted: dial strings "
        "TECH/resource separated by commas",
        "console.conf:1: error: phone box 'lift': test_target needs a box_id (digits) for "
        "the test report",
        "console.conf:1: warning: phone box 'lift': test_interval is longer than 72 h; "
        "testing every 72 h",
    ]
    box = config.phones["lift"].box
    assert box is not None and box.test_interval == MAX_TEST_INTERVAL_HOURS * 3600.0
    assert problems[0].severity is Severity.ERROR


def test_no_file_means_no_phones(tmp_path: Path) -> None:
    config, problems = load_console_config(tmp_path / "console.conf")
    assert config.phones == {} and problems == []
