"""RegistrationClient: the outbound `register =>` state machine (iax2.md §6.1, §10 row 3)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from pbxedge import log
from pbxedge.iax2.crypto import md5_response
from pbxedge.iax2.enums import IE, AuthMethod
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.qualify import Log
from pbxedge.iax2.regclient import (
    Answerer,
    RegClientAction,
    RegistrationClient,
    RegistryRow,
    RegState,
    Resolve,
    SendAuthReply,
    SendRegReq,
    SendReject,
)

SERVER = ("127.0.0.1", 4570)
US = ("127.0.0.1", 4571)

# README §5.5 frame 1 and §5.1 frame 20, without the trailing empty CALLTOKEN IE (36 00)
# that the endpoint appends.
REGREQ_PLAINPEER_IES = bytes.fromhex("0609706c61696e706565721302003c")
AUTH_REGREQ_MD5PEER_IES = (
    bytes.fromhex("06076d64357065657213 02003c 1020".replace(" ", ""))
    + b"997be43b51a86b7f4015e9ea534f2c30"
)


def md5_answerer(secret: str) -> Answerer:
    def answer(methods: AuthMethod, challenge: str) -> IEList | None:
        if methods & AuthMethod.MD5 and challenge:
            return IEList().add_str(IE.MD5_RESULT, md5_response(challenge, secret))
        if methods & AuthMethod.PLAINTEXT:
            return IEList().add_str(IE.PASSWORD, secret)
        return None

    return answer


def no_credentials(methods: AuthMethod, challenge: str) -> IEList | None:
    return None


def make(
    username: str = "md5peer",
    host: str = "127.0.0.1",
    *,
    answer: Answerer | None = None,
    seed: int = 1,
    **kwargs: object,
) -> RegistrationClient:
    return RegistrationClient(
        username,
        host,
        0.0,
        answer=answer or md5_answerer("md5secret"),
        rng=random.Random(seed),
        port=4570,
        **kwargs,  # type: ignore[arg-type]
    )


def drain(c: RegistrationClient) -> list[RegClientAction]:
    out = []
    while (action := c.next_action()) is not None:
        out.append(action)
    return out


def shown(c: RegistrationClient) -> RegState:
    """The displayed state (a function, so mypy does not carry narrowing across inputs)."""
    return c.state


def logs(actions: list[RegClientAction]) -> list[str]:
    return [a.message for a in actions if isinstance(a, Log)]


# -- driving the client into each state ------------------------------------------------
def to_resolving(c: RegistrationClient) -> None:
    c.tick(0.0)


def to_request_sent(c: RegistrationClient) -> None:
    to_resolving(c)
    c.on_resolved([SERVER], 0.0)


def to_auth_sent(c: RegistrationClient) -> None:
    to_request_sent(c)
    c.on_regauth(AuthMethod.MD5, "976170687", 0.0)


def to_registered(c: RegistrationClient) -> None:
    to_auth_sent(c)
    c.on_regack(60, US, None, 0.0)


def to_rejected(c: RegistrationClient) -> None:
    to_request_sent(c)
    c.on_regrej("Registration Refused", 0.0)


def to_timeout(c: RegistrationClient) -> None:
    to_request_sent(c)
    c.on_timeout(0.0)


def to_no_auth(c: RegistrationClient) -> None:
    to_request_sent(c)
    c.on_regauth(AuthMethod.RSA, "1", 0.0)  # we hold a secret, not a key


SETUPS: dict[str, Callable[[RegistrationClient], None]] = {
    "unregistered": lambda c: None,
    "resolving": to_resolving,
    "request-sent": to_request_sent,
    "auth-sent": to_auth_sent,
    "registered": to_registered,
    "rejected": to_rejected,
    "timeout": to_timeout,
    "no-auth": to_no_auth,
}

# Every input, applied at t=1 (before any timer of the set-up states runs out) except
# "due", which jumps to the state's own deadline.
INPUTS: dict[str, Callable[[RegistrationClient], None]] = {
    "due": lambda c: c.tick(c.get_timer() or 0.0),
    "force": lambda c: c.force(1.0),
    "local-address-changed": lambda c: c.on_local_address_changed(1.0),
    "peer-restarted": lambda c: c.on_peer_restarted(1.0),
    "resolved": lambda c: c.on_resolved([SERVER], 1.0),
    "resolve-failed": lambda c: c.on_resolve_failed(1.0),
    "regauth": lambda c: c.on_regauth(AuthMethod.MD5, "123", 1.0),
    "regauth-unanswerable": lambda c: c.on_regauth(AuthMethod.RSA, "123", 1.0),
    "regack": lambda c: c.on_regack(60, US, 0, 1.0),
    "regrej": lambda c: c.on_regrej("Registration Refused", 1.0),
    "timeout": lambda c: c.on_timeout(1.0),
}

RQ, AS, RG = RegState.REQUEST_SENT, RegState.AUTH_SENT, RegState.REGISTERED
RJ, TO, NA, UN = RegState.REJECTED, RegState.TIMEOUT, RegState.NO_AUTH, RegState.UNREGISTERED
START = {
    "unregistered": UN,
    "resolving": RQ,
    "request-sent": RQ,
    "auth-sent": AS,
    "registered": RG,
    "rejected": RJ,
    "timeout": TO,
    "no-auth": NA,
}
RESOLVE = (RQ, ("Resolve",))
IGNORED = None  # state unchanged, no action

# (state, input) -> (shown state, action types) or IGNORED.
EXPECTED: dict[tuple[str, str], tuple[RegState, tuple[str, ...]] | None] = {}
for idle in ("unregistered", "registered", "rejected", "timeout", "no-auth"):
    for name in INPUTS:
        EXPECTED[idle, name] = IGNORED
    EXPECTED[idle, "due"] = RESOLVE
    EXPECTED[idle, "force"] = RESOLVE
    EXPECTED[idle, "local-address-changed"] = RESOLVE
EXPECTED["registered", "peer-restarted"] = RESOLVE
for name in INPUTS:
    EXPECTED["resolving", name] = IGNORED
EXPECTED["resolving", "due"] = (TO, ("Log",))
EXPECTED["resolving", "resolved"] = (RQ, ("SendRegReq",))
EXPECTED["resolving", "resolve-failed"] = (TO, ("Log", "Log"))
for waiting in ("request-sent", "auth-sent"):
    for name in INPUTS:
        EXPECTED[waiting, name] = IGNORED
    EXPECTED[waiting, "due"] = (TO, ("Log", "Log"))
    EXPECTED[waiting, "timeout"] = (TO, ("Log", "Log"))
    EXPECTED[waiting, "force"] = RESOLVE
    EXPECTED[waiting, "local-address-changed"] = RESOLVE
    EXPECTED[waiting, "peer-restarted"] = RESOLVE
    EXPECTED[waiting, "regack"] = (RG, ("Log",))
    EXPECTED[waiting, "regrej"] = (RJ, ("Log", "Log"))
EXPECTED["request-sent", "regauth"] = (AS, ("SendAuthReply",))
EXPECTED["request-sent", "regauth-unanswerable"] = (NA, ("Log", "SendReject", "Log"))


@pytest.mark.parametrize(("state", "event"), sorted(EXPECTED))
def test_state_table(state: str, event: str) -> None:
    c = make()
    SETUPS[state](c)
    drain(c)
    assert c.state is START[state]
    INPUTS[event](c)
    expected = EXPECTED[state, event]
    actions = [type(a).__name__ for a in drain(c)]
    if expected is None:
        assert (c.state, actions) == (START[state], [])
    else:
        assert (c.state, tuple(actions)) == expected


def test_every_state_has_a_timer() -> None:
    # Nothing but a timer is needed to leave any state: no state only a restart clears.
    for setup in SETUPS.values():
        c = make()
        setup(c)
        assert c.get_timer() is not None


# -- a whole registration ------------------------------------------------------------
def test_md5_registration_like_asterisk_b() -> None:
    c = make()
    assert shown(c) is RegState.UNREGISTERED
    assert c.get_timer() == 0.0
    c.tick(0.0)
    assert drain(c) == [Resolve("127.0.0.1", 4570, False)]
    c.on_resolved([SERVER], 0.01)
    [req] = drain(c)
    assert isinstance(req, SendRegReq) and req.addr == SERVER
    assert req.ies.get_str(IE.USERNAME) == "md5peer"
    assert req.ies.get_u16(IE.REFRESH) == 60
    assert shown(c) is RegState.REQUEST_SENT
    c.on_regauth(AuthMethod.MD5, "976170687", 0.02)
    [reply] = drain(c)
    assert isinstance(reply, SendAuthReply)
    assert reply.ies.encode() == AUTH_REGREQ_MD5PEER_IES
    assert shown(c) is RegState.AUTH_SENT
    c.on_regack(60, US, None, 0.03)
    assert logs(drain(c)) == [
        "Registered IAX2 to '127.0.0.1:4570', who sees us as 127.0.0.1:4571 "
        "with no messages waiting"
    ]
    assert shown(c) is RegState.REGISTERED
    assert c.registry_row() == RegistryRow(SERVER, False, "md5peer", US, 60, RG)


def test_regreq_bytes_match_asterisk_frame_1() -> None:
    c = make("plainpeer", answer=md5_answerer("plainsecret"))
    to_request_sent(c)
    req = drain(c)[-1]
    assert isinstance(req, SendRegReq)
    assert req.ies.encode() == REGREQ_PLAINPEER_IES


def test_plaintext_challenge_without_challenge_ie() -> None:
    c = make("plainpeer", answer=md5_answerer("plainsecret"))
    to_request_sent(c)
    drain(c)
    c.on_regauth(AuthMethod.PLAINTEXT, None, 0.0)
    [reply] = drain(c)
    assert isinstance(reply, SendAuthReply)
    assert reply.ies.get_str(IE.PASSWORD) == "plainsecret"


def test_registration_without_challenge() -> None:
    c = make()
    to_request_sent(c)
    c.on_regack(60, US, None, 0.0)
    assert shown(c) is RegState.REGISTERED


def test_unanswerable_challenge_rejects_the_call() -> None:
    c = make(answer=no_credentials)
    to_request_sent(c)
    drain(c)
    c.on_regauth(AuthMethod.RSA, "348815818", 0.0)
    actions = drain(c)
    rejects = [a for a in actions if isinstance(a, SendReject)]
    assert [r.ies.get_str(IE.CAUSE) for r in rejects] == ["No authority found"]
    assert shown(c) is RegState.NO_AUTH
    assert any(a.level == log.WARNING for a in actions if isinstance(a, Log))


# -- refresh --------------------------------------------------------------------------
@pytest.mark.parametrize(("granted", "after"), [(60, 50), (3600, 3000), (61, 50), (None, 50)])
def test_reregisters_at_five_sixths_of_the_grant(granted: int | None, after: int) -> None:
    c = make()
    to_request_sent(c)
    c.on_regack(granted, US, None, 100.0)
    drain(c)
    assert c.get_timer() == 100.0 + after
    c.tick(100.0 + after - 0.001)
    assert drain(c) == []
    c.tick(100.0 + after)
    assert drain(c) == [Resolve("127.0.0.1", 4570, False)]


def test_refresh_asks_for_the_last_grant_and_logs_only_changes() -> None:
    c = make()
    to_request_sent(c)
    c.on_regack(120, US, None, 0.0)
    drain(c)
    c.tick(100.0)
    c.on_resolved([SERVER], 100.0)
    req = drain(c)[-1]
    assert isinstance(req, SendRegReq) and req.ies.get_u16(IE.REFRESH) == 120
    c.on_regack(120, US, None, 100.0)
    assert logs(drain(c)) == []  # same apparent address, same messages
    c.tick(200.0)
    c.on_resolved([SERVER], 200.0)
    c.on_regack(120, US, 0x0203, 200.0)
    assert logs(drain(c))[-1].endswith("with 3 new and 2 old messages waiting")


@pytest.mark.parametrize(
    ("msgcount", "tail"),
    [
        (0, "with no messages waiting"),
        (1, "with 1 new message waiting"),
        (7, "with 7 new messages waiting"),
        (0x0100, "with 0 new and 1 old messages waiting"),
    ],
)
def test_message_count_wording(msgcount: int, tail: str) -> None:
    c = make()
    to_request_sent(c)
    c.on_regack(60, US, msgcount, 0.0)
    assert logs(drain(c))[-1].endswith(tail)


# -- resolution -----------------------------------------------------------------------
def test_resolves_before_every_attempt_and_follows_a_moved_server() -> None:
    c = make("md5peer", "pbx.example.net", srv=True)
    resolves = 0
    now = 0.0
    servers = [("192.0.2.1", 4569), ("192.0.2.1", 4569), ("198.51.100.9", 4569)]
    for server in servers:
        c.tick(now)
        actions = drain(c)
        assert actions == [Resolve("pbx.example.net", 4570, True)]
        resolves += 1
        c.on_resolved([server], now)
        [req] = drain(c)
        assert isinstance(req, SendRegReq) and req.addr == server
        c.on_regack(60, US, None, now)
        drain(c)
        now = c.get_timer() or 0.0
    assert resolves == 3
    assert c.registry_row().dnsmgr
    assert c.registry_row().addr == ("198.51.100.9", 4569)


def test_round_robin_keeps_the_current_server() -> None:
    c = make("md5peer", "pbx.example.net")
    to_resolving(c)
    c.on_resolved([("192.0.2.1", 4569), ("192.0.2.2", 4569)], 0.0)
    c.on_regack(60, US, None, 0.0)
    c.tick(50.0)
    c.on_resolved([("192.0.2.2", 4569), ("192.0.2.1", 4569)], 50.0)
    req = drain(c)[-1]
    assert isinstance(req, SendRegReq) and req.addr == ("192.0.2.1", 4569)


def test_empty_resolution_is_a_failure() -> None:
    c = make("md5peer", "nowhere.invalid")
    to_resolving(c)
    c.on_resolved([], 0.0)
    assert shown(c) is RegState.TIMEOUT
    assert "Unable to resolve 'nowhere.invalid'" in logs(drain(c))[0]


def test_registry_row_before_resolution() -> None:
    row = make("md5peer", "pbx.example.net").registry_row()
    assert row == RegistryRow(None, True, "md5peer", None, 60, UN)


# -- self-healing ---------------------------------------------------------------------
def fail_by_timeout(c: RegistrationClient) -> float:
    """Run one attempt that times out; returns the delay until the next one."""
    now = c.get_timer() or 0.0
    c.tick(now)
    c.on_resolved([SERVER], now)
    c.on_timeout(now + 1.0)
    drain(c)
    return (c.get_timer() or 0.0) - (now + 1.0)


def test_backoff_doubles_up_to_the_refresh_with_bounded_jitter() -> None:
    c = make(seed=7)
    delays = [fail_by_timeout(c) for _ in range(9)]
    nominal = [2, 4, 8, 16, 32, 60, 60, 60, 60]
    for delay, base in zip(delays, nominal, strict=True):
        assert 0.8 * base <= delay <= 1.2 * base
    assert len({round(d, 6) for d in delays[-4:]}) > 1  # jittered, not a fixed period
    assert shown(c) is RegState.TIMEOUT
    assert c.registry_row().perceived is None
    # The server comes back: the very next attempt registers, no restart needed.
    now = c.get_timer() or 0.0
    c.tick(now)
    c.on_resolved([SERVER], now)
    c.on_regack(60, US, None, now)
    assert shown(c) is RegState.REGISTERED
    assert c.get_timer() == now + 50


def test_backoff_is_reproducible_with_the_same_seed() -> None:
    first = [fail_by_timeout(c) for c in [make(seed=3)] for _ in range(5)]
    again = [fail_by_timeout(c) for c in [make(seed=3)] for _ in range(5)]
    assert first == again


def test_recovers_after_rejections_and_resets_the_backoff() -> None:
    c = make(seed=5)
    now = 0.0
    for _ in range(4):
        c.tick(now)
        c.on_resolved([SERVER], now)
        c.on_regrej("Registration Refused", now)
        assert shown(c) is RegState.REJECTED
        now = c.get_timer() or 0.0
    assert now <= 1.2 * (2 + 4 + 8 + 16)  # four retries before Asterisk's first (50 s)
    log_lines = logs(drain(c))
    assert (
        "Registration of 'md5peer' rejected: 'Registration Refused' from: '127.0.0.1:4570'"
        in log_lines
    )
    # The server is fixed: the next attempt registers, and the backoff starts over.
    c.tick(now)
    c.on_resolved([SERVER], now)
    c.on_regack(60, US, None, now)
    assert shown(c) is RegState.REGISTERED
    assert fail_by_timeout(c) <= 2 * 1.2


def test_watchdog_times_out_an_attempt_without_any_outcome() -> None:
    c = make(attempt_timeout=30.0)
    to_request_sent(c)
    drain(c)
    c.tick(29.9)
    assert shown(c) is RegState.REQUEST_SENT
    c.tick(30.0)
    assert shown(c) is RegState.TIMEOUT


def test_timeout_resets_the_requested_refresh() -> None:
    c = make()
    to_request_sent(c)
    c.on_regack(300, US, None, 0.0)
    assert c.registry_row().refresh == 300
    c.tick(250.0)
    c.on_resolved([SERVER], 250.0)
    c.on_timeout(260.0)
    assert c.registry_row().refresh == 60


def test_local_address_change_reregisters_at_once_and_resets_backoff() -> None:
    c = make(seed=2)
    for _ in range(5):
        fail_by_timeout(c)
    c.on_local_address_changed(5000.0)
    assert drain(c) == [Resolve("127.0.0.1", 4570, False)]
    c.on_resolved([SERVER], 5000.0)
    c.on_timeout(5001.0)
    assert c.get_timer() is not None and c.get_timer() - 5001.0 <= 2.4  # type: ignore[operator]


def test_force_starts_over_even_while_waiting() -> None:
    c = make()
    to_auth_sent(c)
    drain(c)
    c.force(3.0)
    assert drain(c) == [Resolve("127.0.0.1", 4570, False)]
    c.on_resolved([SERVER], 3.0)
    assert isinstance(drain(c)[0], SendRegReq)  # the glue starts a new call for it


def test_peer_restart_starts_over_once_then_backs_off() -> None:
    c = make()
    to_request_sent(c)
    drain(c)
    c.on_peer_restarted(1.0)
    assert drain(c) == [Resolve("127.0.0.1", 4570, False)]
    c.on_resolved([SERVER], 1.0)
    drain(c)
    c.on_peer_restarted(2.0)  # again: do not loop, back off
    assert shown(c) is RegState.TIMEOUT
    assert c.get_timer() is not None and c.get_timer() > 2.0  # type: ignore[operator]


def test_peer_restart_while_registered_reregisters_now() -> None:
    c = make()
    to_registered(c)
    drain(c)
    c.on_peer_restarted(10.0)
    assert drain(c) == [Resolve("127.0.0.1", 4570, False)]


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        make(refresh=0)
