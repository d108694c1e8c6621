"""Registrar: grants, expiry, restore, regcontext, REGACK/REGREJ IEs (iax2.md §6.2-§6.4)."""

from __future__ import annotations

from datetime import datetime

import pytest

from pbxedge import log
from pbxedge.iax2.enums import IE, Cause, IaxSubclass
from pbxedge.iax2.frames import iax_frame
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.qualify import Log
from pbxedge.iax2.registrar import (
    CALLTOKEN_REQUIRED,
    EXPIRY_GRACE,
    AddExtension,
    DeleteRegistration,
    Registrar,
    RegistrarAction,
    RegistrarPeer,
    Registration,
    RemoveExtension,
    StoreRegistration,
    local_datetime,
    msgcount_value,
    regack_ies,
    regrej_ies,
)

ADDR = ("127.0.0.1", 4571)
MOVED = ("127.0.0.1", 4590)
PEERS = [RegistrarPeer("md5peer"), RegistrarPeer("rsapeer"), RegistrarPeer("phone", "1001&_12XX")]

# asterisk-b-to-a.pcapng frame 24, README §5.5: A's REGACK to B for encpeer.
REGACK_FRAME_24 = bytes.fromhex(
    "b4022188000000110102060f0607656e63706565721f04357b2aeb1302003c1210020011db7f00000100"
    "000000000000000204313030340408456e632050656572"
)


def drain(r: Registrar) -> list[RegistrarAction]:
    out = []
    while (action := r.next_action()) is not None:
        out.append(action)
    return out


def logs(actions: list[RegistrarAction]) -> list[str]:
    return [a.message for a in actions if isinstance(a, Log)]


def make(**kwargs: object) -> Registrar:
    return Registrar(PEERS, **kwargs)  # type: ignore[arg-type]


# -- grants ---------------------------------------------------------------------------
def test_first_registration_is_stored_logged_and_changes_address() -> None:
    r = make(min_expire=60, max_expire=3600)
    grant = r.register("md5peer", ADDR, 60, 100.0, authenticated=True)
    assert grant.refresh == 60
    assert grant.expires_at == 160.0
    assert grant.address_changed
    actions = drain(r)
    assert StoreRegistration("md5peer", ADDR, 160.0) in actions
    assert logs(actions) == ["Registered IAX2 'md5peer' (AUTHENTICATED) at 127.0.0.1:4571"]
    assert [a.level for a in actions if isinstance(a, Log)] == [log.VERBOSE]
    assert r.address_of("md5peer") == ADDR
    assert r.address_of("rsapeer") is None
    assert r.expires_in("md5peer", 130.0) == 30
    assert r.expires_in("rsapeer", 130.0) is None


def test_unauthenticated_wording() -> None:
    r = make()
    r.register("md5peer", ADDR, 60, 0.0, authenticated=False)
    assert logs(drain(r)) == ["Registered IAX2 'md5peer' (UNAUTHENTICATED) at 127.0.0.1:4571"]


def test_refresh_from_same_address_is_quiet_but_stored() -> None:
    r = make()
    r.register("md5peer", ADDR, 60, 0.0, authenticated=True)
    drain(r)
    grant = r.register("md5peer", ADDR, 60, 50.0, authenticated=True)
    assert not grant.address_changed
    # The absolute expiry moves on, so the store is written every time.
    assert drain(r) == [StoreRegistration("md5peer", ADDR, 110.0)]


def test_move_to_new_address_is_a_change() -> None:
    r = make()
    r.register("md5peer", ADDR, 60, 0.0, authenticated=True)
    drain(r)
    grant = r.register("md5peer", MOVED, 60, 10.0, authenticated=True)
    assert grant.address_changed
    assert logs(drain(r)) == ["Registered IAX2 'md5peer' (AUTHENTICATED) at 127.0.0.1:4590"]
    assert r.peers_at(ADDR) == []
    assert r.peers_at(MOVED) == ["md5peer"]


@pytest.mark.parametrize(
    ("requested", "granted"),
    [(0, 60), (None, 60), (1, 60), (60, 60), (120, 120), (3600, 3600), (7200, 3600)],
)
def test_refresh_is_clamped(requested: int | None, granted: int) -> None:
    r = make(min_expire=60, max_expire=3600)
    assert r.register("md5peer", ADDR, requested, 0.0, authenticated=True).refresh == granted


def test_clamping_is_logged() -> None:
    r = make(min_expire=60, max_expire=3600)
    r.register("md5peer", ADDR, 7200, 0.0, authenticated=True)
    assert "Restricting registration for peer 'md5peer' to 3600 seconds (requested 7200)" in (
        logs(drain(r))
    )


def test_default_limits_are_both_60() -> None:
    r = make()
    assert r.register("md5peer", ADDR, 3600, 0.0, authenticated=True).refresh == 60


def test_invalid_limits_and_unknown_peer() -> None:
    with pytest.raises(ValueError):
        make(min_expire=120, max_expire=60)
    with pytest.raises(KeyError):
        make().register("nobody", ADDR, 60, 0.0, authenticated=True)


def test_several_peers_at_one_address() -> None:
    r = make()
    r.register("md5peer", ADDR, 60, 0.0, authenticated=True)
    r.register("rsapeer", ADDR, 60, 0.0, authenticated=True)
    assert r.peers_at(ADDR) == ["md5peer", "rsapeer"]


# -- expiry ---------------------------------------------------------------------------
def test_expiry_happens_ten_seconds_after_the_granted_period() -> None:
    r = make()
    r.register("md5peer", ADDR, 60, 0.0, authenticated=True)
    drain(r)
    assert r.get_timer() == 60.0 + EXPIRY_GRACE == 70.0
    assert r.tick(69.9) == []
    assert r.address_of("md5peer") == ADDR
    assert r.tick(70.0) == ["md5peer"]
    actions = drain(r)
    assert DeleteRegistration("md5peer") in actions
    assert logs(actions) == ["Expiring registration for peer 'md5peer'"]
    assert r.address_of("md5peer") is None
    assert r.get_timer() is None


def test_refresh_postpones_expiry() -> None:
    r = make()
    r.register("md5peer", ADDR, 60, 0.0, authenticated=True)
    r.register("md5peer", ADDR, 60, 50.0, authenticated=True)
    assert r.tick(70.0) == []
    assert r.get_timer() == 120.0


def test_timer_is_the_earliest_expiry() -> None:
    r = make(max_expire=3600)
    r.register("md5peer", ADDR, 600, 0.0, authenticated=True)
    r.register("rsapeer", ADDR, 60, 5.0, authenticated=True)
    assert r.get_timer() == 75.0


# -- unregister -----------------------------------------------------------------------
def test_unregister_texts() -> None:
    r = make()
    r.register("md5peer", ADDR, 60, 0.0, authenticated=True)
    drain(r)
    assert r.unregister("md5peer", 1.0) == "Peer md5peer unregistered"
    actions = drain(r)
    assert DeleteRegistration("md5peer") in actions
    assert logs(actions) == ["Unregistered IAX2 'md5peer'"]
    assert r.address_of("md5peer") is None
    assert r.unregister("md5peer", 2.0) == "Peer md5peer not registered"
    assert r.unregister("ghost", 2.0) == "Peer unknown: ghost. Not unregistered"
    assert drain(r) == []


# -- restore --------------------------------------------------------------------------
def test_restore_keeps_remaining_time_and_drops_expired() -> None:
    r = make(max_expire=3600)
    stored = [
        Registration("md5peer", ADDR, 3600, 1000.0),  # 400 s left at t=600
        Registration("rsapeer", ADDR, 60, 599.0),  # already over
        Registration("removed-from-config", ADDR, 60, 5000.0),
    ]
    kept = r.restore(stored, 600.0)
    assert kept == [stored[0]]
    actions = drain(r)
    assert DeleteRegistration("rsapeer") in actions
    assert DeleteRegistration("removed-from-config") in actions
    assert logs(actions) == ["Seeding 'md5peer' at 127.0.0.1:4571 for 400"]
    assert r.address_of("md5peer") == ADDR
    assert r.expires_in("md5peer", 600.0) == 400
    # Not a fresh full period: it runs out at the stored time (+ grace).
    assert r.get_timer() == 1010.0
    assert r.tick(1010.0) == ["md5peer"]


# -- regcontext -----------------------------------------------------------------------
def test_no_regcontext_means_no_extensions() -> None:
    r = make()
    r.register("md5peer", ADDR, 60, 0.0, authenticated=True)
    assert not any(isinstance(a, AddExtension) for a in drain(r))
    assert r.regcontext_entries("md5peer") == []


def test_regcontext_entries_with_ampersands_on_both_sides() -> None:
    r = make(regcontext="iaxregistrations&presence")
    assert r.regcontext_entries("md5peer") == [
        ("iaxregistrations", "md5peer"),
        ("presence", "md5peer"),
    ]
    assert r.regcontext_entries("phone") == [
        ("iaxregistrations", "1001"),
        ("iaxregistrations", "_12XX"),
        ("presence", "1001"),
        ("presence", "_12XX"),
    ]


def test_extensions_added_on_registration_and_removed_on_expiry() -> None:
    r = make(regcontext="regs&more")
    r.register("phone", ADDR, 60, 0.0, authenticated=True)
    added = [a for a in drain(r) if isinstance(a, AddExtension)]
    assert added == [
        AddExtension("regs", "1001", "phone"),
        AddExtension("regs", "_12XX", "phone"),
        AddExtension("more", "1001", "phone"),
        AddExtension("more", "_12XX", "phone"),
    ]
    # Refresh and move: the extensions already exist.
    r.register("phone", ADDR, 60, 50.0, authenticated=True)
    r.register("phone", MOVED, 60, 60.0, authenticated=True)
    assert not any(isinstance(a, AddExtension) for a in drain(r))
    r.tick(200.0)
    removed = [a for a in drain(r) if isinstance(a, RemoveExtension)]
    assert removed == [
        RemoveExtension("regs", "1001", "phone"),
        RemoveExtension("regs", "_12XX", "phone"),
        RemoveExtension("more", "1001", "phone"),
        RemoveExtension("more", "_12XX", "phone"),
    ]


def test_extensions_removed_on_unregister_and_added_on_restore() -> None:
    r = make(regcontext="regs")
    r.restore([Registration("md5peer", ADDR, 60, 100.0)], 50.0)
    assert AddExtension("regs", "md5peer", "md5peer") in drain(r)
    r.unregister("md5peer", 60.0)
    assert RemoveExtension("regs", "md5peer", "md5peer") in drain(r)


# -- REGACK / REGREJ ------------------------------------------------------------------
def test_regack_reproduces_asterisk_frame_24_byte_for_byte() -> None:
    sent = IEList.parse(REGACK_FRAME_24[12:]).get_datetime(IE.DATETIME)
    assert sent == datetime(2026, 11, 27, 5, 23, 22)
    ies = regack_ies(
        "encpeer",
        60,
        ("127.0.0.1", 4571),
        sent,
        callerid_number="1004",
        callerid_name="Enc Peer",
    )
    assert ies.encode() == REGACK_FRAME_24[12:]
    frame = iax_frame(13314, 8584, 17, 1, 2, IaxSubclass.REGACK, ies)
    assert frame.encode() == REGACK_FRAME_24


def test_regack_datetime_from_the_clock() -> None:
    # Frame 24 left A at 05:23:23.9 UTC (1795757003 = 05:23:23, README §5.4).
    when = local_datetime(1795757003.9, "UTC")
    assert IEList().add_datetime(IE.DATETIME, when).encode() == bytes.fromhex("1f04357b2aeb")


def test_regack_datetime_in_the_peer_timezone() -> None:
    when = local_datetime(1795757003.9, "Europe/Berlin")
    assert (when.hour, when.minute) == (6, 23)
    assert local_datetime(0.0, "No/Such_Zone") == local_datetime(0.0, None)


def test_regack_with_mailbox_and_without_callerid() -> None:
    ies = regack_ies("p", 60, ADDR, datetime(2026, 1, 1), msgcount=msgcount_value(3, 1))
    assert [ie for ie, _ in ies] == [
        IE.USERNAME,
        IE.DATETIME,
        IE.REFRESH,
        IE.APPARENT_ADDR,
        IE.MSGCOUNT,
    ]
    assert ies.get_u16(IE.MSGCOUNT) == 0x0103


def test_regack_callerid_pair_sent_together() -> None:
    ies = regack_ies("p", 60, ADDR, datetime(2026, 1, 1), callerid_number="1001")
    assert ies.get_str(IE.CALLING_NUMBER) == "1001"
    assert ies.get_str(IE.CALLING_NAME) == ""


def test_msgcount_clamps_each_half() -> None:
    assert msgcount_value(0, 0) == 0
    assert msgcount_value(300, 2) == (2 << 8) | 255
    assert msgcount_value(1, 1000) == (255 << 8) | 1


def test_regrej_always_carries_cause_and_code_29() -> None:
    ies = regrej_ies()
    assert ies.get_str(IE.CAUSE) == "Registration Refused"
    assert ies.get_u8(IE.CAUSECODE) == Cause.FACILITY_REJECTED
    token = regrej_ies(CALLTOKEN_REQUIRED)
    assert token.get_str(IE.CAUSE) == "CallToken Support required"
    assert token.get_u8(IE.CAUSECODE) == 29
