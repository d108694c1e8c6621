"""iaxfriends rows read as iax.conf lines, as chan_iax2 reads them."""

from __future__ import annotations

from pbxedge.config.iax_models import General
from pbxedge.iax2.codecs import Codec
from pbxedge.iax2.enums import AuthMethod
from pbxedge.realtime.friends import decode_value, location_of, row_accounts


def test_values_split_at_semicolons_and_escapes_decoded() -> None:
    assert decode_value("ulaw;alaw") == ["ulaw", "alaw"]
    assert decode_value("a^3Bb^5E^zz") == ["a;b^^zz"]


def test_a_friend_row_gives_both_halves_with_asterisk_columns() -> None:
    row = {"id": 7, "name": "box", "type": "friend", "host": "dynamic", "secret": "pw",
           "context": "calls", "auth": "md5,rsa", "inkeys": "k1:k2", "disallow": "all",
           "allow": "alaw;ulaw", "ipaddr": "127.0.0.1", "port": 40000, "regseconds": 5,
           "regserver": "edge2", "callerid": '"Box" <100>', "mailbox": None, "language": ""}
    built = row_accounts("iaxfriends", row, General(), want="peer")
    assert built.problems == ()
    peer = built.peer
    assert peer is not None and built.user is None
    assert (peer.dynamic, peer.secret, peer.auth, peer.inkeys) == (
        True, "pw", AuthMethod.MD5 | AuthMethod.RSA, ("k1", "k2"))
    assert peer.prefs == (Codec.ALAW, Codec.ULAW)
    assert peer.port == 4569  # a dynamic row's port is where it registered, not an option
    assert (peer.callerid_name, peer.callerid_number) == ("Box", "100")
    user = row_accounts("iaxfriends", row, General(), want="user").user
    assert user is not None and user.contexts == ("calls",) and user.secrets == ("pw",)
    where = location_of(row)
    assert where is not None and (where.addr, where.regserver) == (("127.0.0.1", 40000), "edge2")


def test_type_decides_which_half_exists_and_bad_values_are_reported() -> None:
    row = {"id": 3, "name": "u", "type": "user", "host": "10.0.0.1", "port": 4600,
           "maxauthreq": "lots"}
    assert row_accounts("iaxfriends", row, General(), want="peer").peer is None
    built = row_accounts("iaxfriends", row, General(), want="user")
    assert built.user is not None
    assert [str(p) for p in built.problems] == [
        "realtime iaxfriends:3: error: maxauthreq: 'lots' is not valid; accepted: a whole "
        "number >= 0"]
    static = row_accounts("iaxfriends", {**row, "type": "peer"}, General(), want="peer").peer
    assert static is not None and (static.host, static.port) == ("10.0.0.1", 4600)
    assert location_of({"ipaddr": "", "port": None, "regseconds": 0}) is None
