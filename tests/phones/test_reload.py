"""A reloaded console.conf on running phones: what applies at once, what waits for a start."""

from __future__ import annotations

from pathlib import Path

from dialplan.engine import Engine
from dialplan.plan import Dialplan
from pbxedge.channels.dial import Dialer
from pbxedge.phones.config import ConsoleConfig, parse_console_config
from pbxedge.phones.service import PhoneService
from pbxedge.store import Store

LIFT = """[lift]
input_device = mic
output_device = speaker
callerid = "Lift 2" <42>
alarm_targets = IAX2/lobby/100
location = Building A, lift 2
"""


def _config(text: str) -> ConsoleConfig:
    config, problems = parse_console_config(text)
    assert problems == []
    return config


def test_what_a_running_phone_can_take_applies_and_the_rest_is_said(tmp_path: Path) -> None:
    store, _ = Store.open(tmp_path / "state.db")
    service = PhoneService(_config(LIFT), engine=Engine(Dialplan()), dialer=Dialer(),
                           store=store, state_dir=tmp_path)
    lift = service.phones["lift"]
    changed = LIFT.replace("<42>", "<43>").replace("mic", "usb-mic").replace(
        "IAX2/lobby/100", "IAX2/lobby/100, IAX2/trunk/0612345678").replace(
        "lift 2", "lift 3") + "autoanswer = yes\n\n[hall]\ninput_device = a\noutput_device = b\n"
    assert service.reconfigure(_config(changed)) == [
        "console: 'lift': box or location, input_device change at the next start",
        "console: phone 'hall' is added at the next start",
        "local phones: 1"]
    assert (lift.config.callerid_num, lift.autoanswer) == ("43", True)
    assert lift.config.input_device == "mic"  # the open device stays
    box = service.boxes["lift"].parts.config
    assert box.alarm_targets == ("IAX2/lobby/100", "IAX2/trunk/0612345678")
    assert box.location == "Building A, lift 2"  # its prompt was made at start
    assert service.reconfigure(_config("")) == [
        "console: phone 'lift' is removed at the next start", "local phones: 1"]
    store.close()
