"""Call-token policy (iax2.md §3.3, §15.1, §15.2)."""

from __future__ import annotations

import ipaddress

import pytest

from pbxedge.acl import IPNetwork
from pbxedge.iax2.enums import IaxSubclass
from pbxedge.iax2.tokenpolicy import CallTokenRule, TokenPolicyDecider

NEW, REGREQ, REGREL = IaxSubclass.NEW, IaxSubclass.REGREQ, IaxSubclass.REGREL
DEFAULT, YES, NO, AUTO = CallTokenRule.DEFAULT, CallTokenRule.YES, CallTokenRule.NO, CallTokenRule.AUTO
LOCAL = ("127.0.0.1", 4591)
LAN = ("10.1.2.3", 4569)


def policy(optional: tuple[IPNetwork, ...] = ()) -> TokenPolicyDecider:
    return TokenPolicyDecider(
        users={"md5peer": DEFAULT, "plain": NO, "strict": YES, "learner": AUTO, "guest": NO},
        peers={"md5peer": DEFAULT, "iaxmodem": NO, "learner": AUTO, "strict": YES},
        optional=optional,
    )


OPTIONAL_LAN = (ipaddress.ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize(
    ("optional", "subclass", "username", "addr", "required"),
    [
        ((), NEW, "md5peer", LOCAL, True),
        ((), NEW, "plain", LOCAL, False),
        ((), NEW, "learner", LOCAL, False),
        ((), NEW, "strict", LOCAL, True),
        # no USERNAME: [guest] decides (here requirecalltoken=no)
        ((), NEW, None, LOCAL, False),
        ((), NEW, "", LOCAL, False),
        # unknown names act like a section left at the default
        ((), NEW, "nosuch", LOCAL, True),
        (OPTIONAL_LAN, NEW, "nosuch", LAN, False),
        # the calltokenoptional range only helps sections left at the default
        (OPTIONAL_LAN, NEW, "md5peer", LAN, False),
        (OPTIONAL_LAN, NEW, "md5peer", LOCAL, True),
        (OPTIONAL_LAN, NEW, "strict", LAN, True),
        # registrations consult [peer]s, not [user]s (§10 row 1)
        ((), REGREQ, "plain", LOCAL, True),
        ((), REGREQ, "iaxmodem", LOCAL, False),
        ((), REGREL, "iaxmodem", LOCAL, False),
        ((), REGREQ, "md5peer", LOCAL, True),
        (OPTIONAL_LAN, REGREQ, "md5peer", LAN, False),
        ((), REGREQ, None, LOCAL, True),  # no [guest] peer
    ],
)
def test_required(
    optional: tuple[IPNetwork, ...],
    subclass: IaxSubclass,
    username: str | None,
    addr: tuple[str, int],
    required: bool,
) -> None:
    assert policy(optional).required(subclass, username, addr) is required


def test_auto_learns_yes_per_kind() -> None:
    decider = policy()
    assert not decider.required(NEW, "learner", LOCAL)
    decider.mark_validated(REGREQ, "learner")  # only the [peer] learns
    assert not decider.required(NEW, "learner", LOCAL)
    assert decider.required(REGREQ, "learner", LOCAL)
    decider.mark_validated(NEW, "learner")
    assert decider.required(NEW, "learner", LOCAL)
    # "no" and "default" sections learn nothing; a fresh decider starts over
    decider.mark_validated(NEW, "plain")
    assert not decider.required(NEW, "plain", LOCAL)
    assert not policy().required(NEW, "learner", LOCAL)


def test_explain_names_the_section_kind() -> None:
    decider = policy()
    # iaxmodem-register.pcapng frame 3: Asterisk's line, but saying "peer" for a REGREQ
    assert decider.explain(REGREQ, "md5peer", LOCAL) == (
        "Call rejected, CallToken Support required. If unexpected, resolve by placing address "
        "127.0.0.1:4591 in the calltokenoptional list or setting peer md5peer requirecalltoken=no"
    )
    assert decider.explain(NEW, "md5peer", LOCAL).endswith(
        "setting user md5peer requirecalltoken=no"
    )
    assert decider.explain(NEW, None, ("2001:db8::1", 4569)) == (
        "Call rejected, CallToken Support required. If unexpected, resolve by placing address "
        "[2001:db8::1]:4569 in the calltokenoptional list or setting user guest requirecalltoken=no"
    )
