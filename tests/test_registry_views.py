"""Console layouts, compared byte for byte with Asterisk 22's output (asterisk-cli-outputs.txt)."""

from __future__ import annotations

import random
import re

import pytest

from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.enums import AuthMethod, EncryptionMethod
from pbxedge.iax2.ies import IEList
from pbxedge.iax2.qualify import PeerStatus, Qualifier, Reachability
from pbxedge.iax2.regclient import RegistrationClient, RegistryRow, RegState
from pbxedge.registry_views import (
    PeerDetail,
    PeerRow,
    peer_not_found,
    show_peer,
    show_peers,
    show_registry,
)
from tests.vectors import cli_output

B = ("127.0.0.1", 4571)
MODEM = ("127.0.0.1", 4590)
A_CODECS = [Codec.ULAW, Codec.ALAW, Codec.GSM, Codec.SLIN, Codec.G722, Codec.G726, Codec.ADPCM]


def qualified(name: str, addr: tuple[str, int] | None, rtt: int | None) -> PeerStatus:
    """A qualify=yes peer's status after one POKE answered in *rtt* ms."""
    q = Qualifier(name, 2000, 0.0)
    if addr is not None:
        q.on_address_changed(addr, 0.0)
    if rtt is not None:
        q.on_pong(rtt, 0.0)
    return q.status()


def test_show_peers_matches_instance_a() -> None:
    seen = [
        ("notokenpeer", None, None, False),
        ("plainpeer", B, 1, False),
        ("rsapeer", B, 3, False),
        ("encpeer", B, 3, True),
        ("iaxmodem", MODEM, 1, False),
        ("md5peer", B, 1, False),
    ]
    rows = [
        PeerRow(name, addr, True, qualified(name, addr, rtt), encryption=encrypted)
        for name, addr, rtt, encrypted in seen
    ]
    assert show_peers(rows) == cli_output("A: iax2 show peers")


def test_show_peers_registered_only_filters_and_counts() -> None:
    rows = [
        PeerRow("notokenpeer", None, True, qualified("notokenpeer", None, None)),
        PeerRow("md5peer", B, True, qualified("md5peer", B, 1)),
    ]
    text = show_peers(rows, registered_only=True)
    assert "notokenpeer" not in text
    assert text.endswith("1 iax2 peers [1 online, 0 offline, 0 unmonitored]\n")


def test_show_peers_like_regex_static_trunk_username_and_unmonitored() -> None:
    unmonitored = PeerStatus("Unmonitored", Reachability.UNMONITORED)
    rows = [
        PeerRow(
            "a-md5",
            ("127.0.0.1", 4570),
            False,
            unmonitored,
            username="md5peer",
            mask="255.255.255.255",
            trunk=True,
            description="to A",
        ),
        PeerRow("b-md5", ("127.0.0.1", 4570), False, unmonitored),
    ]
    text = show_peers(rows, like="^a-")
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[1] == (
        "a-md5/md5peer    127.0.0.1                                (S)  255.255.255.255"
        "                           4570  (T)      Unmonitored to A" + " " * 28
    )
    assert lines[2] == "1 iax2 peers [0 online, 0 offline, 1 unmonitored]"
    with pytest.raises(re.error):
        show_peers(rows, like="(")


def test_show_peers_long_status_is_not_truncated() -> None:
    q = Qualifier("slow", 2000, 0.0)
    q.on_address_changed(B, 0.0)
    q.on_pong(12345, 0.0)
    text = show_peers([PeerRow("slow", B, True, q.status())])
    assert "LAGGED (12345 ms) " in text
    assert text.endswith("1 iax2 peers [1 online, 0 offline, 0 unmonitored]\n")


def registered_client(username: str) -> RegistrationClient:
    c = RegistrationClient(
        username,
        "127.0.0.1",
        0.0,
        answer=lambda methods, challenge: IEList(),
        rng=random.Random(0),
        port=4570,
    )
    c.tick(0.0)
    c.on_resolved([("127.0.0.1", 4570)], 0.0)
    c.on_regauth(AuthMethod.MD5, "1", 0.0)
    c.on_regack(60, B, None, 0.0)
    return c


def test_show_registry_matches_instance_b() -> None:
    clients = [registered_client(u) for u in ("plainpeer", "encpeer", "rsapeer", "md5peer")]
    assert show_registry(c.registry_row() for c in clients) == cli_output("B: iax2 show registry")


def test_show_registry_empty_matches_instance_a() -> None:
    assert show_registry([]) == cli_output("A: iax2 show registry")


def test_show_registry_unregistered_and_named_host() -> None:
    row = RegistryRow(None, True, "md5peer", None, 60, RegState.TIMEOUT)
    line = show_registry([row]).splitlines()[1]
    assert line.split() == ["(null)", "Y", "md5peer", "<Unregistered>", "60", "Timeout"]


def md5peer_detail(expire_seconds: int | None) -> PeerDetail:
    return PeerDetail(
        name="md5peer",
        status=qualified("md5peer", B, 1).text,
        secret_set=True,
        context="from-iax",
        dynamic=True,
        calltoken_required="No",  # what Asterisk printed for its default (iax2.md §15.1)
        callerid_name="MD5 Peer",
        callerid_number="1001",
        expire_seconds=expire_seconds,
        addr=B,
        codecs=sum(A_CODECS),
        codec_order=A_CODECS,
    )


def without_expire(text: str) -> list[str]:
    return [line for line in text.split("\n") if not line.startswith("  Expire       :")]


def test_show_peer_matches_md5peer_except_expire() -> None:
    expected = cli_output("A: iax2 show peer md5peer")
    ours = show_peer(md5peer_detail(37))
    assert without_expire(ours) == without_expire(expected)
    # Asterisk printed a scheduler id there; pbxedge prints the seconds left.
    assert "  Expire       : 37\n" in ours


def test_show_peer_matches_iaxmodem_except_expire() -> None:
    modem_codecs = [Codec.SLIN, Codec.ULAW, Codec.ALAW]
    detail = PeerDetail(
        name="iaxmodem",
        status=qualified("iaxmodem", MODEM, 1).text,
        secret_set=True,
        context="from-iax",
        dynamic=True,
        calltoken_required="No",
        callerid_name="IAX Modem",
        callerid_number="8005551212",
        expire_seconds=52,
        addr=MODEM,
        codecs=sum(modem_codecs),
        codec_order=modem_codecs,
    )
    expected = cli_output("A: iax2 show peer iaxmodem")
    assert without_expire(show_peer(detail)) == without_expire(expected)


def test_show_peer_unregistered_static_and_encrypted() -> None:
    text = show_peer(
        PeerDetail(
            name="a-enc",
            status="Unmonitored",
            secret_set=False,
            encryption=EncryptionMethod.AES128 | EncryptionMethod.KEYROTATE,
            defaddr=("127.0.0.1", 4570),
        )
    )
    assert "  Secret       : <Not set>\n" in text
    assert "  Encryption   : (aes128,keyrotate)\n" in text
    assert "  Expire       : -1\n" in text
    assert "  Addr->IP     : (null) Port (null)\n" in text
    assert "  Defaddr->IP  : 127.0.0.1 Port 4570\n" in text
    assert '  Callerid     : "" <>\n' in text
    assert "  Codecs       : (nothing)\n" in text
    assert "  Codec Order  : ()\n" in text


def test_show_peer_never_prints_the_secret_and_escapes_callerid() -> None:
    text = show_peer(
        PeerDetail(
            name="x",
            status="UNKNOWN",
            secret_set=True,
            callerid_name='Say "hi"',
            qualify_smoothing=True,
        )
    )
    assert '  Callerid     : "Say \\"hi\\"" <>\n' in text
    assert "(sample smoothing On)" in text


def test_peer_not_found() -> None:
    assert peer_not_found("ghost") == "Peer ghost not found.\n\n"
