"""The classic two-way trunk mistakes: one file alone, and two files side by side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pbxedge.config.iax_models import IaxConfig
from pbxedge.config.trunk_check import check_trunk_pair, check_trunk_setup
from tests.config.test_iax import build, warnings


def _office(me: str, other: str, my_secret: str, other_secret: str, *, port: int,
            other_port: int, trunk: str = "yes", extra: str = "") -> str:
    """One office of the reference setup: registers to the other, lists it as a friend."""
    return f"""[general]
bindport = {port}
register => {me}:{my_secret}@127.0.0.1:{other_port}
[{other}]
type = friend
host = dynamic
trunk = {trunk}
secret = {other_secret}
context = from-{other}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
{extra}"""


def _pair(a_text: str, b_text: str) -> tuple[IaxConfig, IaxConfig]:
    a, a_diags = build(a_text)
    b, b_diags = build(b_text)
    assert warnings(a_diags) == warnings(b_diags) == []
    return a, b


GOOD_A = _office("north", "south", "nsecret", "ssecret", port=4600, other_port=4601)
GOOD_B = _office("south", "north", "ssecret", "nsecret", port=4601, other_port=4600)


def test_the_reference_two_way_trunk_has_nothing_to_report() -> None:
    a, b = _pair(GOOD_A, GOOD_B)
    assert check_trunk_setup(a) == check_trunk_setup(b) == []
    assert check_trunk_pair(a, b, "b.conf") == check_trunk_pair(b, a, "a.conf") == []


def _messages(a_text: str, b_text: str) -> list[str]:
    a, b = _pair(a_text, b_text)
    return [str(d) for d in check_trunk_pair(a, b, "b.conf")]


def test_trunk_on_one_side_only() -> None:
    one_sided = _office("south", "north", "ssecret", "nsecret", port=4601, other_port=4600,
                        trunk="no")
    [message] = _messages(GOOD_A, one_sided)
    assert message == ("iax.conf:4: warning: trunk=yes on one side only: 'south' here and "
                       "'north' in b.conf disagree; calls placed by the node configured here "
                       "are trunked, those placed by the node configured in b.conf are not")


def test_register_without_a_matching_peer_on_the_far_side() -> None:
    # The far side calls its entry for us "northern", not "north".
    far = _office("south", "northern", "ssecret", "nsecret", port=4601, other_port=4600)
    messages = _messages(GOOD_A, far)
    assert any("register => north@127.0.0.1: b.conf has no type=peer or type=friend 'north'"
               in m for m in messages)


def test_register_with_another_secret_than_the_far_peer() -> None:
    far = _office("south", "north", "ssecret", "other", port=4601, other_port=4600)
    [message] = _messages(GOOD_A, far)
    assert "the secret differs from the one 'north' has in b.conf" in message


def test_register_to_a_peer_that_is_not_dynamic() -> None:
    far = GOOD_B.replace("host = dynamic", "host = 127.0.0.1")
    [message] = _messages(GOOD_A, far)
    assert "'north' in b.conf is not host=dynamic" in message


def test_user_with_host_dynamic_can_never_register() -> None:
    _, diags = build("[north]\ntype=user\nhost=dynamic\nsecret=s\n")
    [message] = warnings(diags)
    assert message == ("iax.conf:3: warning: host=dynamic in a type=user section ([north]): "
                       "a type=user can never register (a registration looks for a peer); "
                       "use type=friend for an entry that registers and calls")


def test_requirecalltoken_differs_between_a_user_and_a_peer_of_one_name() -> None:
    config, diags = build("[north]\ntype=user\nsecret=s\nrequirecalltoken=no\n"
                          "[north]\ntype=peer\nhost=dynamic\nsecret=s\n")
    assert warnings(diags) == []
    [found] = check_trunk_setup(config)
    assert str(found).startswith("iax.conf:5: warning: user 'north' (requirecalltoken=no, "
                                 "at iax.conf:1) and peer 'north' (requirecalltoken=default)")


@pytest.mark.parametrize(("far", "expected"), [
    (GOOD_B, None),
    (GOOD_B.replace("trunk = yes", "trunk = no"), "trunk=yes on one side only"),
])
def test_check_with_the_far_nodes_file(tmp_path: Path, far: str, expected: str | None) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "iax.conf").write_text(GOOD_A)
    (tmp_path / "a" / "extensions.conf").write_text("[from-south]\n")
    (tmp_path / "b.conf").write_text(far)
    done = subprocess.run(
        [sys.executable, "-m", "pbxedge", "-c", str(tmp_path / "a" / "iax.conf"), "--check",
         "--trunk-peer", str(tmp_path / "b.conf")],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0  # warnings only
    trunk_lines = [line for line in done.stdout.splitlines() if "trunk" in line]
    if expected is None:
        assert trunk_lines == []
    else:
        [line] = trunk_lines
        assert expected in line and str(tmp_path / "b.conf") in line
