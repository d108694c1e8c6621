"""Qualifier: POKE scheduling, status text and transitions (iax2.md §6.5, §6.6)."""

from __future__ import annotations

import pytest

from pbxedge import log
from pbxedge.iax2.qualify import (
    AbandonPoke,
    Log,
    Qualifier,
    QualifyAction,
    Reachability,
    SendPoke,
    StatusChange,
)

ADDR = ("127.0.0.1", 4571)
OTHER = ("10.0.0.7", 4569)


def drain(q: Qualifier) -> list[QualifyAction]:
    out = []
    while (action := q.next_action()) is not None:
        out.append(action)
    return out


def logs(actions: list[QualifyAction]) -> list[str]:
    return [a.message for a in actions if isinstance(a, Log)]


def registered(maxms: int = 2000, **kwargs: object) -> Qualifier:
    """A dynamic peer that just registered at t=0: one POKE in flight."""
    q = Qualifier("md5peer", maxms, 0.0, **kwargs)  # type: ignore[arg-type]
    q.on_address_changed(ADDR, 0.0)
    assert drain(q) == [SendPoke("md5peer", ADDR)]
    return q


def test_dynamic_peer_waits_for_an_address() -> None:
    q = Qualifier("md5peer", 2000, 0.0)
    assert q.get_timer() is None
    q.tick(1000.0)
    assert drain(q) == []
    assert q.status_text() == "UNKNOWN"
    assert q.status().reachability is Reachability.OFFLINE
    assert q.dialable()


def test_static_peer_is_poked_at_once() -> None:
    q = Qualifier("a-md5", 2000, 5.0, addr=OTHER)
    assert q.get_timer() == 5.0
    q.tick(5.0)
    assert drain(q) == [SendPoke("a-md5", OTHER)]


def test_unmonitored_peer_is_never_poked() -> None:
    q = Qualifier("quiet", 0, 0.0, addr=OTHER)
    assert q.get_timer() is None
    q.on_address_changed(ADDR, 1.0)
    assert drain(q) == []
    assert q.status_text() == "Unmonitored"
    assert q.status().reachability is Reachability.UNMONITORED
    assert q.dialable() and not q.is_online()


def test_first_pong_is_ok_without_a_log_and_next_poke_after_freqok() -> None:
    q = registered()
    q.on_pong(1, 0.01)
    assert logs(drain(q)) == []  # UNKNOWN -> OK is silent in Asterisk
    assert q.status_text() == "OK (1 ms)"
    assert q.is_online() and q.dialable()
    assert q.get_timer() == pytest.approx(60.01)
    q.tick(60.0)
    assert drain(q) == []
    q.tick(60.01)
    assert drain(q) == [SendPoke("md5peer", ADDR)]


def test_no_answer_timer_while_reachable_is_22_s() -> None:
    q = registered()
    # min(2 * 10 s + maxms, freqok * 5/6) = min(22 s, 50 s)
    assert q.get_timer() == pytest.approx(22.0)
    q.tick(21.9)
    assert drain(q) == []


def test_no_answer_timer_is_capped_by_freqok() -> None:
    q = registered(freq_ok_ms=12_000)
    assert q.get_timer() == pytest.approx(10.0)


def test_unanswered_poke_makes_peer_unreachable_and_retries_after_freqnotok() -> None:
    q = registered()
    q.on_pong(3, 0.0)
    drain(q)
    q.tick(60.0)  # next poke
    drain(q)
    q.tick(82.0)  # 22 s later, no PONG
    actions = drain(q)
    assert AbandonPoke("md5peer") in actions
    assert logs(actions) == ["Peer 'md5peer' is now UNREACHABLE! Time: 3"]
    assert [a.level for a in actions if isinstance(a, Log)] == [log.NOTICE]
    assert q.status_text() == "UNREACHABLE"
    assert not q.dialable() and not q.is_online()
    assert q.get_timer() == pytest.approx(92.0)
    q.tick(92.0)
    assert drain(q) == [SendPoke("md5peer", ADDR)]
    # While unreachable the no-answer wait is freqnotok * 5/6.
    assert q.get_timer() == pytest.approx(92.0 + 10 * 5 / 6)


def test_unreachable_logged_once_only() -> None:
    q = registered()
    q.on_no_answer(1.0)
    assert logs(drain(q)) == ["Peer 'md5peer' is now UNREACHABLE! Time: 0"]
    q.tick(11.0)
    drain(q)
    q.on_no_answer(12.0)
    assert logs(drain(q)) == []


def test_reachable_again_logs_and_uses_freqok() -> None:
    q = registered()
    q.on_no_answer(1.0)
    q.tick(11.0)
    drain(q)
    q.on_pong(2, 11.5)
    assert logs(drain(q)) == ["Peer 'md5peer' is now REACHABLE! Time: 2"]
    assert q.status_text() == "OK (2 ms)"
    assert q.get_timer() == pytest.approx(71.5)


def test_too_lagged_from_ok_then_reachable() -> None:
    q = registered()
    q.on_pong(5, 0.0)
    drain(q)
    q.tick(60.0)
    drain(q)
    q.on_pong(2500, 60.0)
    assert logs(drain(q)) == ["Peer 'md5peer' is now TOO LAGGED (2500 ms)!"]
    assert q.status_text() == "LAGGED (2500 ms)"
    assert q.is_online() and q.dialable() and q.is_lagged()  # pbxedge still dials it
    assert q.get_timer() == pytest.approx(70.0)  # freqnotok while lagged
    q.tick(70.0)
    drain(q)
    q.on_pong(4, 70.0)
    assert logs(drain(q)) == ["Peer 'md5peer' is now REACHABLE! Time: 4"]
    assert q.get_timer() == pytest.approx(130.0)


def test_lagged_first_sample_after_boot_is_silent() -> None:
    # B's registrations showed LAGGED (5499 ms) right after boot (iax2.md §15.6).
    q = registered()
    q.on_pong(5499, 0.0)
    assert logs(drain(q)) == []
    assert q.status_text() == "LAGGED (5499 ms)"
    assert q.status().reachability is Reachability.ONLINE


def test_smoothing_averages_the_last_two_samples() -> None:
    q = registered(smoothing=True)
    q.on_pong(1000, 0.0)
    assert q.historicms == 500  # (1000 + 0) // 2
    q.tick(60.0)
    q.on_pong(3000, 60.0)
    assert logs(drain(q)) == ["Peer 'md5peer' is now TOO LAGGED (3000 ms)!"]
    assert q.historicms == 1750
    assert q.status_text() == "LAGGED (3000 ms)"  # the text shows the last sample
    assert q.get_timer() == pytest.approx(120.0)  # average within maxms: still freqok
    q.tick(120.0)
    q.on_pong(3000, 120.0)
    assert q.historicms == 2375  # now the average is over maxms: poke after freqnotok
    assert q.get_timer() == pytest.approx(130.0)
    q.tick(130.0)
    q.on_pong(10, 130.0)
    assert q.historicms == 1192
    assert "REACHABLE! Time: 10" in logs(drain(q))[-1]


def test_late_pong_after_no_answer_is_ignored() -> None:
    q = registered()
    q.on_no_answer(22.0)
    drain(q)
    q.on_pong(1, 23.0)
    assert q.status_text() == "UNREACHABLE"


def test_new_address_abandons_the_poke_in_flight_and_pokes_there() -> None:
    q = registered()
    q.on_address_changed(OTHER, 1.0)
    assert drain(q) == [AbandonPoke("md5peer"), SendPoke("md5peer", OTHER)]


def test_address_lost_stops_pokes_and_resets_status() -> None:
    q = registered()
    q.on_pong(1, 0.0)
    q.address_lost(5.0)
    assert q.status_text() == "UNKNOWN"
    assert q.get_timer() is None
    q.tick(1000.0)
    assert drain(q) == []


def test_address_lost_with_poke_in_flight_abandons_it() -> None:
    q = registered()
    q.address_lost(5.0)
    assert drain(q) == [AbandonPoke("md5peer")]


def test_custom_frequencies() -> None:
    q = registered(freq_ok_ms=30_000, freq_notok_ms=5_000)
    q.on_pong(1, 0.0)
    assert q.get_timer() == pytest.approx(30.0)
    q.tick(30.0)
    q.on_no_answer(31.0)
    assert q.get_timer() == pytest.approx(36.0)


def test_invalid_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        Qualifier("x", -1, 0.0)
    with pytest.raises(ValueError):
        Qualifier("x", 2000, 0.0, freq_ok_ms=0)


def statuses(actions: list[QualifyAction]) -> list[str]:
    return [a.status for a in actions if isinstance(a, StatusChange)]


def test_status_changes_come_with_their_log_lines() -> None:
    # The manager's PeerStatus: Reachable, Lagged, Unreachable, exactly when Asterisk logs.
    q = registered()
    q.on_pong(5, 0.0)
    assert statuses(drain(q)) == []  # UNKNOWN -> OK is silent
    q.tick(60.0)
    drain(q)
    q.on_pong(2500, 60.0)
    assert statuses(drain(q)) == ["Lagged"]
    q.tick(70.0)
    drain(q)
    q.on_pong(4, 70.0)
    assert statuses(drain(q)) == ["Reachable"]
    q.on_no_answer(71.0)  # no POKE in flight: nothing happens
    q.tick(130.0)
    drain(q)
    q.tick(200.0)
    actions = drain(q)
    assert statuses(actions) == ["Unreachable"]
    assert logs(actions) == ["Peer 'md5peer' is now UNREACHABLE! Time: 4"]
