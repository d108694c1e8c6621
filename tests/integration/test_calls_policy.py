"""Call policy between two real pbxedge processes: ACLs, maxauthreq, forced encryption with
A calling B, call-token optional/auto, and unknown users that look like wrong passwords
(reference iax2.md §3.3, §4.2, §4.3, §5.5). Observed on the wire, in the logs and through
the console.

One pair serves the whole module; every test uses accounts of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pbxedge.iax2.crypto import md5_response
from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import FullFrame
from pbxedge.iax2.ies import IEList
from tests.integration.nodes import (
    Nodes,
    WireClient,
    free_udp_port,
    start_pair,
    stop,
    wait_for_log,
)

# On A (the callee of tests/integration/nodes.py): users for each policy, peers toward B.
A_EXTRA = """
[aclpeer]
type = user
secret = aclsecret
deny = 0.0.0.0/0.0.0.0
context = from-iax

[aclokay]
type = user
secret = oksecret
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
context = from-iax

[limited]
type = user
secret = limsecret
maxauthreq = 1
context = from-iax

[notoken]
type = user
requirecalltoken = no
context = from-iax

[autouser]
type = user
requirecalltoken = auto
context = from-iax

[b-enc]
type = peer
host = 127.0.0.1
port = {b_port}
username = encuser
secret = encsecret2
forceencryption = yes

[b-clear]
type = peer
host = 127.0.0.1
port = {b_port}
username = encuser
secret = encsecret2
"""

# A's guest dials 8xxx (encrypted toward B) or 9xxx (in clear toward B).
A_EXTENSIONS = """
[from-iax]
exten => _8XXX,1,Dial(IAX2/b-enc/${EXTEN:1})
 same => n,Verbose(1,TO-B-ENC ${DIALSTATUS})
 same => n,Hangup()
exten => _9XXX,1,Dial(IAX2/b-clear/${EXTEN:1})
 same => n,Verbose(1,TO-B-CLEAR ${DIALSTATUS})
 same => n,Hangup()
"""

# On B: calltokenoptional covers loopback; users reached from A or from a raw client.
B_GENERAL = "calltokenoptional = 127.0.0.0/255.0.0.0"
B_EXTRA = """
[a-acl]
type = peer
host = 127.0.0.1
port = {a_port}
username = aclpeer
secret = aclsecret

[a-aclok]
type = peer
host = 127.0.0.1
port = {a_port}
username = aclokay
secret = oksecret

[a-auto]
type = peer
host = 127.0.0.1
port = {a_port}
username = autouser

[encuser]
type = user
secret = encsecret2
forceencryption = yes
context = out

[rangeuser]
type = user
context = out

[strict]
type = user
requirecalltoken = yes
context = out
"""

B_EXTENSIONS = """exten => _8XXX,1,Dial(IAX2/a-acl/${EXTEN:1})
 same => n,Verbose(1,ACL-DENIED ${DIALSTATUS})
 same => n,Hangup()
exten => _9XXX,1,Dial(IAX2/a-aclok/${EXTEN:1})
 same => n,Verbose(1,ACL-PERMITTED ${DIALSTATUS})
 same => n,Hangup()
exten => _0XXX,1,Dial(IAX2/a-auto/${EXTEN:1})
 same => n,Verbose(1,AUTO ${DIALSTATUS})
 same => n,Hangup()
exten => 800,1,Answer()
 same => n,Hangup(21)"""


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    a_port, b_port = free_udp_port(), free_udp_port()
    pair = start_pair(tmp_path_factory.mktemp("policy"), a_port=a_port, b_port=b_port,
                      a_general="delayreject = yes",
                      a_extra=A_EXTRA.replace("{b_port}", str(b_port)),
                      a_extensions=A_EXTENSIONS, b_general=B_GENERAL,
                      b_extra=B_EXTRA.replace("{a_port}", str(a_port)),
                      b_extensions=B_EXTENSIONS)
    try:
        yield pair
    finally:
        stop(pair.b)
        stop(pair.a)


def _call(port: int, number: str, username: str | None = None, *,
          token: bool = True, host: str = "127.0.0.1") -> FullFrame:
    """A raw call to the node on *port* from *host*; returns the HANGUP or REJECT that ends
    it."""
    client = WireClient(port, host=host)
    try:
        client.new(number, username, token=token)
        return client.until(IaxSubclass.HANGUP, IaxSubclass.REJECT)
    finally:
        client.close()


def _ended_with(frame: FullFrame, subclass: IaxSubclass, cause: int) -> None:
    assert frame.iax_subclass is subclass
    assert frame.ies().get_u8(IE.CAUSECODE) == cause


def _stateless_reject(frame: FullFrame) -> None:
    assert frame.iax_subclass is IaxSubclass.REJECT and frame.source_call == 1


# -- §4.2: ACLs ---------------------------------------------------------------------------


def test_acl_denial_refuses_the_user_and_a_permit_rule_lets_it_in(nodes: Nodes) -> None:
    # B → A as aclpeer (deny all): challenged like anyone, then refused with cause 50.
    _call(nodes.b.port, "8600")
    wait_for_log(nodes.b, "ACL-DENIED CHANUNAVAIL")
    assert wait_for_log(nodes.b, "Dial(IAX2/a-acl/600)").endswith(
        "DIALSTATUS CHANUNAVAIL (cause 50)")
    wait_for_log(nodes.a, "failed to authenticate as aclpeer")
    wait_for_log(nodes.a, "decoy challenge (user 'aclpeer' does not permit 127.0.0.1)")
    # aclokay: deny all, then permit loopback; the later rule wins and the call goes in.
    _ended_with(_call(nodes.b.port, "9607"), IaxSubclass.HANGUP, 21)
    wait_for_log(nodes.a, "authenticated as 'aclokay' (MD5)")
    assert wait_for_log(nodes.b, "Dial(IAX2/a-aclok/607)").endswith(
        "DIALSTATUS ANSWER (cause 21)")


# -- §4.3: maxauthreq ---------------------------------------------------------------------


def test_maxauthreq_refuses_challenges_beyond_the_limit_until_one_is_answered(
    nodes: Nodes,
) -> None:
    first, second, third = (WireClient(nodes.a.port, scall) for scall in (200, 201, 202))
    try:
        first.new("607", "limited")
        authreq = first.until(IaxSubclass.AUTHREQ, IaxSubclass.REJECT)
        assert authreq.iax_subclass is IaxSubclass.AUTHREQ  # left unanswered for now
        second.new("607", "limited")
        refused = second.until(IaxSubclass.AUTHREQ, IaxSubclass.REJECT)
        _ended_with(refused, IaxSubclass.REJECT, 21)
        assert refused.ies().get_str(IE.CAUSE) == "Unauthenticated call limit reached"
        wait_for_log(nodes.a, "(maxauthreq=1)")
        # Answering the first challenge lets that call in…
        challenge = authreq.ies().get_str(IE.CHALLENGE) or ""
        first.send(IaxSubclass.AUTHREP,
                   IEList().add_str(IE.MD5_RESULT, md5_response(challenge, "limsecret")), 100)
        _ended_with(first.until(IaxSubclass.HANGUP, IaxSubclass.REJECT), IaxSubclass.HANGUP, 21)
        wait_for_log(nodes.a, "authenticated as 'limited' (MD5)")
        # …and frees its place: the next caller is challenged again.
        third.new("607", "limited")
        assert third.until(IaxSubclass.AUTHREQ, IaxSubclass.REJECT).iax_subclass is (
            IaxSubclass.AUTHREQ)
        third.hangup(16)
        third.until(IaxSubclass.ACK)
    finally:
        for client in (first, second, third):
            client.close()


# -- §5.5: forced encryption, A calling B -------------------------------------------------


def test_b_forcing_encryption_accepts_an_encrypted_call_from_a(nodes: Nodes) -> None:
    # Raw guest → A 8800 → A dials B's encuser (forceencryption on both ends) → Hangup(21).
    _ended_with(_call(nodes.a.port, "8800"), IaxSubclass.HANGUP, 21)
    wait_for_log(nodes.b, "authenticated as 'encuser' (MD5, encrypted)")
    assert wait_for_log(nodes.a, "Dial(IAX2/b-enc/800)").endswith(
        "DIALSTATUS ANSWER (cause 21)")
    assert wait_for_log(nodes.b, "Hungup 'IAX2/encuser-").endswith("(cause 21)")


def test_b_forcing_encryption_refuses_a_clear_call_from_a(nodes: Nodes) -> None:
    # A's b-clear offers no encryption; B's encuser forces it: "No authority found", 50.
    end = _call(nodes.a.port, "9800")
    assert end.iax_subclass is IaxSubclass.HANGUP
    wait_for_log(nodes.a, "TO-B-CLEAR CHANUNAVAIL")
    assert wait_for_log(nodes.a, "Dial(IAX2/b-clear/800)").endswith(
        "DIALSTATUS CHANUNAVAIL (cause 50)")
    wait_for_log(nodes.b, "failed to authenticate as encuser")
    wait_for_log(nodes.b, "incoming call is unencrypted while forceencryption is enabled")


# -- §3.3: call tokens optional and auto --------------------------------------------------


def test_calltokenoptional_range_and_requirecalltoken_no_admit_tokenless_news(
    nodes: Nodes,
) -> None:
    # B: loopback is in calltokenoptional; rangeuser left requirecalltoken at its default.
    _ended_with(_call(nodes.b.port, "1607", "rangeuser", token=False), IaxSubclass.HANGUP, 21)
    # An explicit requirecalltoken=yes wins over the range.
    _stateless_reject(_call(nodes.b.port, "1607", "strict", token=False))
    wait_for_log(nodes.b, "CallToken Support required. If unexpected, resolve by placing "
                 "address 127.0.0.1:")
    wait_for_log(nodes.b, "setting user strict requirecalltoken=no")
    # A: no range; requirecalltoken=no admits, the default refuses.
    _ended_with(_call(nodes.a.port, "607", "notoken", token=False), IaxSubclass.HANGUP, 21)
    _stateless_reject(_call(nodes.a.port, "607", "md5peer", token=False))
    wait_for_log(nodes.a, "setting user md5peer requirecalltoken=no")
    usage = nodes.a.pbxedge("-rx", "iax2 show callnumber usage").stdout
    (used,) = [line.split(":")[1] for line in usage.splitlines()
               if line.startswith("Non-CallToken Validated Callno Used:")]
    assert int(used) >= 1  # notoken's call, held for a while after it ended


def test_requirecalltoken_auto_requires_tokens_after_a_validated_call(nodes: Nodes) -> None:
    # Before any validated exchange a tokenless NEW is admitted…
    _ended_with(_call(nodes.a.port, "607", "autouser", token=False), IaxSubclass.HANGUP, 21)
    # …then B calls A as autouser, with the token exchange (a real node always offers one)…
    _ended_with(_call(nodes.b.port, "0607"), IaxSubclass.HANGUP, 21)
    # A accepts at once, answers and hangs up: ACCEPT, ANSWER and HANGUP reach B together.
    assert "ERROR[" not in nodes.b.stderr()
    # …and from now on autouser must present a token. (From an address of its own: token-less
    # NEWs repeated from one address within 10 s are summarised, not logged one by one.)
    _stateless_reject(_call(nodes.a.port, "607", "autouser", token=False, host="127.0.0.5"))
    wait_for_log(nodes.a, "setting user autouser requirecalltoken=no")


# -- §4.2 item 5: unknown users look like wrong passwords ---------------------------------


def _refused_exchange(port: int, username: str, scall: int, host: str) -> list[FullFrame]:
    """NEW (with token) as *username* from *host*, a wrong MD5 answer; every frame after the
    token."""
    client = WireClient(port, scall, host)
    try:
        client.new("600", username)
        authreq = client.until(IaxSubclass.AUTHREQ, IaxSubclass.REJECT)
        assert authreq.iax_subclass is IaxSubclass.AUTHREQ
        challenge = authreq.ies().get_str(IE.CHALLENGE) or ""
        client.send(IaxSubclass.AUTHREP,
                    IEList().add_str(IE.MD5_RESULT, md5_response(challenge, "wrong")), 100)
        client.until(IaxSubclass.REJECT)
        return client.frames[1:]  # frames[0] is the CALLTOKEN
    finally:
        client.close()


def _shape(frame: FullFrame) -> tuple[int, int, int, int]:
    return frame.frametype, frame.subclass, frame.oseqno, frame.iseqno


def test_unknown_and_acl_denied_users_look_like_a_wrong_password(nodes: Nodes) -> None:
    # Names of the same length: the AUTHREQ echoes USERNAME. One address each, so that each
    # failure has its own log line (repeats from one address within 10 s are summarised).
    wrong = _refused_exchange(nodes.a.port, "md5peer", 300, "127.0.0.6")
    unknown = _refused_exchange(nodes.a.port, "unknown", 300, "127.0.0.7")
    denied = _refused_exchange(nodes.a.port, "aclpeer", 300, "127.0.0.8")
    expected = [(FrameType.IAX, IaxSubclass.AUTHREQ), (FrameType.IAX, IaxSubclass.ACK),
                (FrameType.IAX, IaxSubclass.REJECT)]
    for frames, name, host in ((wrong, "md5peer", "127.0.0.6"), (unknown, "unknown", "127.0.0.7"),
                               (denied, "aclpeer", "127.0.0.8")):
        # delayreject: the AUTHREP is ACKed at once, the REJECT comes later.
        assert [(f.frametype, f.subclass) for f in frames] == expected
        assert frames[0].ies().get_str(IE.USERNAME) == name
        assert frames[2].ies().get_u8(IE.CAUSECODE) == 50
        wait_for_log(nodes.a, f"Host {host} failed to authenticate as {name}")
    for other in (unknown, denied):
        assert [_shape(f) for f in other] == [_shape(f) for f in wrong]
        assert [(ie, len(data)) for ie, data in other[0].ies()] == [
            (ie, len(data)) for ie, data in wrong[0].ies()]
        assert other[0].ies().get_u16(IE.AUTHMETHODS) == wrong[0].ies().get_u16(
            IE.AUTHMETHODS)
        assert other[2].payload == wrong[2].payload  # the same REJECT, byte for byte
