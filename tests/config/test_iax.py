from __future__ import annotations

import dataclasses
import gc
import ipaddress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbxedge.acl import Acl
from pbxedge.config.diagnostics import ConfigError, Diagnostic, Origin, Severity
from pbxedge.config.iax import (
    AuthMethods,
    BindAddr,
    IaxConfig,
    Registration,
    build_iax_config,
    load_iax_config,
)
from pbxedge.config.loader import parse_config_text
from pbxedge.iax2.codecs import BANDWIDTH_HIGH, BANDWIDTH_LOW, BANDWIDTH_MEDIUM, Codec

REPO = Path(__file__).resolve().parents[2]


def build(text: str) -> tuple[IaxConfig, list[Diagnostic]]:
    return build_iax_config(parse_config_text(text, "iax.conf"))


def errors(diags: list[Diagnostic]) -> list[str]:
    return [str(d) for d in diags if d.severity is Severity.ERROR]


def warnings(diags: list[Diagnostic]) -> list[str]:
    return [str(d) for d in diags if d.severity is Severity.WARNING]


# ------------------------------------------------------------------ [general] ---


def test_general_defaults_are_asterisks() -> None:
    cfg, diags = build("[general]\n")
    g = cfg.general
    assert diags == []
    assert g.bindport == 4569 and g.bindaddrs == [BindAddr(host="0.0.0.0", port=4569)]
    assert (g.minregexpire, g.maxregexpire) == (60, 60)
    assert (g.maxcallnumbers, g.maxcallnumbers_nonvalidated, g.calltokenexpiration) == (2048, 8192, 10)
    assert (g.trunkfreq, g.trunkmtu, g.trunkmaxsize, g.trunktimestamps) == (20, 1240, 128000, False)
    assert (g.pingtime, g.lagrqtime, g.autokill_ms) == (21, 10, 0)
    assert (g.jitterbuffer, g.maxjitterbuffer, g.resyncthreshold, g.maxjitterinterps, g.jittertargetextra) == (
        False, 1000, 1000, 10, 40,
    )
    assert g.maxauthreq == 3 and g.auth is None and g.shrinkcallerid is True
    assert g.capability == BANDWIDTH_HIGH and g.prefs == []
    # transfer is Asterisk's "yes" for answering TXREQs; "default" also means pbxedge starts
    # no native transfer of its own unless yes/mediaonly is written.
    assert (g.codecpriority, g.transfer, g.amaflags, g.context) == ("host", "default", "default", "default")
    assert cfg.users == {} and cfg.peers == {} and cfg.registrations == [] and cfg.callnumberlimits == []


def test_empty_file_still_has_general_defaults() -> None:
    cfg, diags = build("")
    assert cfg.general.bindport == 4569 and diags == []


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("bindport=4570", "bindport", 4570),
        ("tos=ef", "tos", 0xB8),
        ("tos=0x18", "tos", 0x18),
        ("pingtime=5", "pingtime", 5),
        ("lagrqtime=3", "lagrqtime", 3),
        ("autokill=yes", "autokill_ms", 2000),
        ("autokill=1500", "autokill_ms", 1500),
        ("autokill=no", "autokill_ms", 0),
        ("jitterbuffer=YES", "jitterbuffer", True),
        ("maxjitterbuffer=500", "maxjitterbuffer", 500),
        ("resyncthreshold=-1", "resyncthreshold", -1),
        ("maxjitterinterps=5", "maxjitterinterps", 5),
        ("jittertargetextra=60", "jittertargetextra", 60),
        ("maxregexpire=3600", "maxregexpire", 3600),
        ("regcontext=iaxregistrations", "regcontext", "iaxregistrations"),
        ("auth=md5,rsa", "auth", AuthMethods.MD5 | AuthMethods.RSA),
        ("authdebug=on", "authdebug", True),
        ("encryption=aes128", "encryption", True),
        ("encryption=no", "encryption", False),
        ("delayreject=true", "delayreject", True),
        ("maxauthreq=10", "maxauthreq", 10),
        ("bandwidth=low", "capability", BANDWIDTH_LOW),
        ("bandwidth=Medium", "capability", BANDWIDTH_MEDIUM),
        ("codecpriority=reqonly", "codecpriority", "reqonly"),
        ("transfer=mediaonly", "transfer", "mediaonly"),
        ("transfer=no", "transfer", "no"),
        ("trunkfreq=10", "trunkfreq", 10),
        ("trunkmtu=0", "trunkmtu", 0),
        ("trunkmtu=172", "trunkmtu", 172),
        ("trunkmaxsize=64000", "trunkmaxsize", 64000),
        ("trunktimestamps=yes", "trunktimestamps", True),
        ("calltokenexpiration=20", "calltokenexpiration", 20),
        ("maxcallnumbers=512", "maxcallnumbers", 512),
        ("maxcallnumbers_nonvalidated=1024", "maxcallnumbers_nonvalidated", 1024),
        ("context=from-iax", "context", "from-iax"),
        ("language=fr", "language", "fr"),
        ("accountcode=lss0101", "accountcode", "lss0101"),
        ("amaflags=Billing", "amaflags", "billing"),
        ("srvlookup=yes", "srvlookup", True),
        ("shrinkcallerid=no", "shrinkcallerid", False),
        ("iaxcompat=yes", "iaxcompat", True),
        ("subscribe_network_change_event=no", "subscribe_network_change_event", False),
        ("connectedline=send", "connectedline", "send"),
    ],
)
def test_general_option_good_values(line: str, field: str, expected: Any) -> None:
    cfg, diags = build(f"[general]\n{line}\n")
    assert errors(diags) == []
    assert getattr(cfg.general, field) == expected


@pytest.mark.parametrize(
    ("line", "accepted"),
    [
        ("bindport=abc", "a whole number from 1 to 65535"),
        ("bindport=70000", "a whole number from 1 to 65535"),
        ("bindaddr=a b", "ip:port"),
        ("bindaddr=localhost", "no host names"),
        ("bindaddr=127.0.0.1:0", "[ipv6]:port"),
        ("tos=lowdelay", "DSCP name"),
        ("autokill=maybe", "milliseconds"),
        ("jitterbuffer=sometimes", "yes/no"),
        ("auth=digest", "md5, rsa and plaintext"),
        ("encryption=des", "aes128"),
        ("forceencryption=maybe", "aes128"),
        ("bandwidth=huge", "low, medium, high"),
        ("allow=ulaw,nosuch", "codec names"),
        ("codecpriority=me", "host, caller, disabled, reqonly"),
        ("transfer=later", "mediaonly"),
        ("trunkfreq=5", "from 10 to 1000"),
        ("trunkmtu=100", "172 to 3999"),
        ("calltokenoptional=10.0.0.0/99", "ip/prefix"),
        ("amaflags=sometimes", "default, omit, billing, documentation"),
        ("maxcallnumbers=many", "a whole number"),
        ("register => nohost", "user[:secret]@host[:port]"),
    ],
)
def test_general_option_bad_values_are_errors_naming_file_line(line: str, accepted: str) -> None:
    _, diags = build(f"[general]\n{line}\n")
    found = errors(diags)
    assert len(found) == 1, diags
    name = line.split("=")[0].strip()
    assert found[0].startswith(f"iax.conf:2: error: {name}: ")
    assert accepted in found[0]


def test_bad_value_keeps_default() -> None:
    cfg, _ = build("[general]\nbindport=abc\n")
    assert cfg.general.bindport == 4569


def test_bindaddr_forms_and_bindport_order() -> None:
    text = "[general]\nbindport=4570\nbindaddr=127.0.0.1\nbindaddr=127.0.0.2:4580\nbindaddr=[::1]:4590\nbindaddr=::1\n"
    cfg, diags = build(text)
    assert diags == []
    assert cfg.general.bindaddrs == [
        BindAddr(host="127.0.0.1", port=4570),
        BindAddr(host="127.0.0.2", port=4580),
        BindAddr(host="::1", port=4590),
        BindAddr(host="::1", port=4570),
    ]


def test_bindport_after_bindaddr_warns() -> None:
    cfg, diags = build("[general]\nbindaddr=127.0.0.1\nbindport=4570\n")
    assert cfg.general.bindaddrs == [BindAddr(host="127.0.0.1", port=4569)]
    assert warnings(diags) == [
        "iax.conf:3: warning: bindport after bindaddr does not change the port of the earlier bindaddr lines"
    ]


def test_bandwidth_then_allow_disallow_build_mask_and_prefs() -> None:
    cfg, _ = build("[general]\nbandwidth=low\ndisallow=lpc10\n")
    assert cfg.general.capability == BANDWIDTH_LOW & ~Codec.LPC10
    cfg, _ = build("[general]\ndisallow=all\nallow=alaw\nallow=ulaw,gsm\n")
    assert cfg.general.prefs == [Codec.ALAW, Codec.ULAW, Codec.GSM]
    assert cfg.general.capability == Codec.ALAW | Codec.ULAW | Codec.GSM


def test_calltokenoptional_repeats() -> None:
    cfg, _ = build("[general]\ncalltokenoptional=209.16.236.73/255.255.255.0\ncalltokenoptional=2001:db8::/32\n")
    assert cfg.general.calltokenoptional == [
        ipaddress.ip_network("209.16.236.0/24"),
        ipaddress.ip_network("2001:db8::/32"),
    ]


def test_min_regexpire_above_max_is_clamped_with_warning() -> None:
    cfg, diags = build("[general]\nminregexpire=120\nmaxregexpire=60\n")
    assert (cfg.general.minregexpire, cfg.general.maxregexpire) == (60, 60)
    assert warnings(diags)[0].startswith("iax.conf:2: warning: minregexpire (120) is more than maxregexpire")


def test_registrations() -> None:
    text = (
        "[general]\nregister => marko:secret@tormenta.example\nregister => joe@remotehost:5656\n"
        "register = marko:[torkey]@[2001:db8::7]:4570\n"
    )
    cfg, diags = build(text)
    assert diags == []
    assert cfg.registrations == [
        Registration(username="marko", secret="secret", host="tormenta.example", port=4569, origin=Origin("iax.conf", 2)),
        Registration(username="joe", host="remotehost", port=5656, origin=Origin("iax.conf", 3)),
        Registration(username="marko", key="torkey", host="2001:db8::7", port=4570, origin=Origin("iax.conf", 4)),
    ]


def test_general_plus_append_and_second_general_merge() -> None:
    cfg, _ = build("[general]\nbindport=4570\n[x](!)\n[general](+)\nlanguage=de\n")
    assert cfg.general.bindport == 4570 and cfg.general.language == "de"


def test_second_general_section_is_merged_with_a_warning() -> None:
    cfg, diags = build("[general]\nbindport=4570\n[general]\nlanguage=de\n")
    assert cfg.general.bindport == 4570 and cfg.general.language == "de"
    assert [d.origin for d in diags] == [Origin("iax.conf", 3)]
    assert "Asterisk would ignore it" in diags[0].message


def test_callnumberlimits() -> None:
    text = "[callnumberlimits]\n10.1.1.0/255.255.255.0 = 24\n10.1.2.0/24 = 32\nbogus = 3\n10.1.3.0/24 = many\n"
    cfg, diags = build(text)
    assert [(str(limit.network), limit.limit, limit.origin.line) for limit in cfg.callnumberlimits] == [
        ("10.1.1.0/24", 24, 2),
        ("10.1.2.0/24", 32, 3),
    ]
    assert [d.origin.line for d in diags if d.origin] == [4, 5]
    assert all(d.severity is Severity.ERROR for d in diags)


# ------------------------------------------------------------------ users and peers ---


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("context=a", "contexts", ("a",)),
        ("permit=10.0.0.0/8", "acl", Acl().extended("10.0.0.0/8", permit=True)),
        ("setvar=A=1", "setvars", (("A", "1"),)),
        ("trunk=yes", "trunk", True),
        ("immediate=yes", "immediate", True),
        ("auth=rsa", "auth", AuthMethods.RSA),
        ("codecpriority=caller", "codecpriority", "caller"),
        ("transfer=mediaonly", "transfer", "mediaonly"),
        ("dbsecret=mysecrets/place", "dbsecret", "mysecrets/place"),
        ("callerid=\"Mark\" <123>", "callerid_name", "Mark"),
        ("fullname=Mark S", "callerid_name", "Mark S"),
        ("cid_number=555", "callerid_number", "555"),
        ("accountcode=acct", "accountcode", "acct"),
        ("language=de", "language", "de"),
        ("amaflags=omit", "amaflags", "omit"),
        ("inkeys=key1:key2", "inkeys", ("key1", "key2")),
        ("maxauthreq=10", "maxauthreq", 10),
        ("requirecalltoken=no", "requirecalltoken", "no"),
        ("requirecalltoken=yes", "requirecalltoken", "yes"),
        ("requirecalltoken=auto", "requirecalltoken", "auto"),
        ("jitterbuffer=yes", "jitterbuffer", True),
        ("encryption=yes", "encryption", True),
    ],
)
def test_user_option_good_values(line: str, field: str, expected: Any) -> None:
    cfg, diags = build(f"[u]\ntype=user\n{line}\n")
    assert errors(diags) == []
    assert getattr(cfg.users["u"], field) == expected


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        ("host=dynamic", "dynamic", True),
        ("host=192.168.10.10", "host", "192.168.10.10"),
        ("defaultip=216.207.245.34", "defaultip", "216.207.245.34"),
        ("port=5036", "port", 5036),
        ("mask=255.255.255.0", "mask", "255.255.255.0"),
        ("username=asterisk", "username", "asterisk"),
        ("outkey=mykey", "outkey", "mykey"),
        ("peercontext=local", "peercontext", "local"),
        ("context=transfers", "context", "transfers"),
        ("regexten=1234&_12XX", "regexten", "1234&_12XX"),
        ("mailbox=1234@default", "mailbox", "1234@default"),
        ("description=My IAX2 Peer", "description", "My IAX2 Peer"),
        ("trunk=yes", "trunk", True),
        ("qualify=yes", "qualify_ms", 2000),
        ("qualify=no", "qualify_ms", 0),
        ("qualify=1500", "qualify_ms", 1500),
        ("qualifysmoothing=yes", "qualifysmoothing", True),
        ("qualifyfreqok=30000", "qualifyfreqok", 30000),
        ("qualifyfreqnotok=5000", "qualifyfreqnotok", 5000),
        ("timezone=America/New_York", "timezone", "America/New_York"),
        ("sendani=yes", "sendani", True),
        ("maxcallnumbers=10", "maxcallnumbers", 10),
        ("deny=0.0.0.0/0.0.0.0", "acl", Acl().extended("0.0.0.0/0", permit=False)),
        ("requirecalltoken=no", "requirecalltoken", "no"),
        ("forceencryption=yes", "encryption", True),
    ],
)
def test_peer_option_good_values(line: str, field: str, expected: Any) -> None:
    cfg, diags = build(f"[p]\ntype=peer\nhost=127.0.0.1\nsecret=s\n{line}\n")
    assert errors(diags) == []
    assert getattr(cfg.peers["p"], field) == expected


@pytest.mark.parametrize(
    ("line", "accepted"),
    [
        ("qualify=maybe", "milliseconds"),
        ("port=abc", "from 1 to 65535"),
        ("host=two words", "dynamic, a host name or an IP address"),
        ("defaultip=not.an.ip", "an IPv4 or IPv6 address"),
        ("mask=255.0.255.0", "netmask"),
        ("permit=10.0.0.0/40", "ip/prefix"),
        ("trunk=perhaps", "yes/no"),
        ("requirecalltoken=sometimes", "auto or yes/no"),
        ("setvar=NOVALUE", "NAME=value"),
        ("qualifyfreqok=fast", "a whole number"),
        ("disallow=nosuch", "codec names"),
    ],
)
def test_entry_bad_values_are_errors_naming_file_line(line: str, accepted: str) -> None:
    _, diags = build(f"[f]\ntype=friend\nhost=dynamic\nsecret=s\n{line}\n")
    found = errors(diags)
    assert len(found) == 1, diags  # a friend reports a bad line once, not per half
    assert found[0].startswith(f"iax.conf:5: error: {line.split('=')[0]}: ")
    assert accepted in found[0]


def test_friend_split_secrets_and_contexts() -> None:
    text = (
        "[marko]\ntype=friend\nhost=dynamic\nregexten=1234\nsecret=moofoo\nsecret=foomoo\nsecret=shazbot\n"
        "context=default\ncontext=local\npermit=0.0.0.0/0.0.0.0\n"
    )
    cfg, diags = build(text)
    assert diags == []
    user, peer = cfg.users["marko"], cfg.peers["marko"]
    assert user.secrets == ("moofoo", "foomoo", "shazbot")
    assert peer.secret == "shazbot"
    assert user.contexts == ("default", "local")
    assert peer.context == "local"
    assert peer.dynamic and peer.host is None and peer.regexten == "1234"
    assert user.acl == peer.acl and user.acl.permits("192.0.2.1")
    assert user.origin == peer.origin == Origin("iax.conf", 1)


def test_user_and_peer_only_options_are_not_crossed() -> None:
    cfg, diags = build("[u]\ntype=user\nhost=1.2.3.4\nqualify=yes\n[p]\ntype=peer\nhost=h\nimmediate=yes\n")
    assert [d.origin.line for d in diags if d.origin] == [3, 4, 8]
    assert all("has no effect in a type=" in d.message for d in diags)
    assert not hasattr(cfg.users["u"], "qualify_ms")


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ("secret=s", AuthMethods.MD5),
        ("secret=s\ninkeys=k", AuthMethods.MD5 | AuthMethods.RSA),
        ("inkeys=k", AuthMethods.RSA),
        ("", AuthMethods.MD5),
        ("secret=s\nauth=plaintext,md5", AuthMethods.PLAINTEXT | AuthMethods.MD5),
    ],
)
def test_user_auth_defaults(lines: str, expected: AuthMethods) -> None:
    cfg, _ = build(f"[u]\ntype=user\n{lines}\n")
    assert cfg.users["u"].auth == expected


def test_peer_auth_default_is_md5_and_global_auth_is_the_default() -> None:
    cfg, _ = build("[p]\ntype=peer\nhost=h\ninkeys=k\n")
    assert cfg.peers["p"].auth == AuthMethods.MD5
    cfg, _ = build("[general]\nauth=rsa\n[u]\ntype=user\nsecret=s\n[p]\ntype=peer\nhost=h\n")
    assert cfg.users["u"].auth == AuthMethods.RSA and cfg.peers["p"].auth == AuthMethods.RSA


def test_plaintext_is_a_deprecation_warning_like_asterisk() -> None:
    _, diags = build("[x]\ntype=user\nsecret=s\nauth=plaintext\n")
    assert warnings(diags) == [
        "iax.conf:4: warning: Auth method for user 'x' is set to deprecated 'plaintext'"
    ]


def test_requirecalltoken_default_stays_distinct_from_yes() -> None:
    cfg, _ = build("[a]\ntype=user\n[b]\ntype=user\nrequirecalltoken=yes\n")
    assert cfg.users["a"].requirecalltoken == "default"
    assert cfg.users["b"].requirecalltoken == "yes"


def test_callerid_asreceived_and_fullname_overrides() -> None:
    cfg, _ = build('[u]\ntype=user\ncallerid="A" <1>\ncallerid=asreceived\n[v]\ntype=user\ncallerid="A" <1>\nfullname=B\n')
    assert (cfg.users["u"].callerid_name, cfg.users["u"].callerid_number) == (None, None)
    assert (cfg.users["v"].callerid_name, cfg.users["v"].callerid_number) == ("B", "1")


def test_entries_inherit_general_codecs_and_edit_their_own_copy() -> None:
    text = "[general]\ndisallow=all\nallow=ulaw\nallow=alaw\n[u]\ntype=user\nallow=gsm\n[p]\ntype=peer\nhost=h\n"
    cfg, _ = build(text)
    assert cfg.users["u"].prefs == (Codec.ULAW, Codec.ALAW, Codec.GSM)
    assert cfg.peers["p"].prefs == (Codec.ULAW, Codec.ALAW)
    assert cfg.general.prefs == [Codec.ULAW, Codec.ALAW]


def test_entries_inherit_general_channel_defaults() -> None:
    cfg, _ = build("[general]\nlanguage=fr\ntransfer=no\ncontext=lobby\n[u]\ntype=user\n")
    user = cfg.users["u"]
    assert (user.language, user.transfer, user.contexts) == ("fr", "no", ("lobby",))


def test_forceencryption_without_secret_is_an_error() -> None:
    cfg, diags = build("[u]\ntype=user\nforceencryption=yes\n")
    assert errors(diags)[0].startswith("iax.conf:3: error: 'u' forces encryption but has no secret")
    assert cfg.users["u"].forceencryption and cfg.users["u"].encryption


def test_global_forceencryption_names_the_section_and_general() -> None:
    _, diags = build("[general]\nforceencryption=yes\n[guest]\ntype=user\n[m]\ntype=friend\nhost=dynamic\nsecret=s\n")
    found = errors(diags)
    assert len(found) == 1
    assert found[0].startswith("iax.conf:3: error: 'guest' forces encryption")
    assert "comes from [general]" in found[0]


def test_forceencryption_no_keeps_encryption() -> None:
    cfg, diags = build("[p]\ntype=peer\nhost=h\nsecret=s\nencryption=yes\nforceencryption=no\n")
    assert diags == []
    assert cfg.peers["p"].encryption and not cfg.peers["p"].forceencryption


def test_trunk_with_forceencryption_is_refused() -> None:
    _, diags = build("[t]\ntype=friend\nhost=dynamic\nsecret=s\ntrunk=yes\nforceencryption=yes\n")
    [error] = errors(diags)
    assert error.startswith("iax.conf:5: error: 't' has trunk=yes with forceencryption")
    assert "never encrypts trunked audio" in error


def test_section_without_type_is_skipped_like_asterisk() -> None:
    cfg, diags = build("[dynamichost]\nhost=dynamic\nsecret=mysecret\n")
    assert [str(d) for d in diags] == ["iax.conf:1: warning: Section 'dynamichost' lacks type"]
    assert cfg.users == {} and cfg.peers == {}


def test_unknown_type_is_an_error() -> None:
    cfg, diags = build("[x]\ntype=phone\n")
    assert errors(diags)[0].startswith("iax.conf:2: error: type: 'phone' is not valid; accepted: user, peer, friend")
    assert cfg.users == {} and cfg.peers == {}


def test_obsolete_not_implemented_and_unknown_options() -> None:
    text = "[general]\nkeyrotate=off\nmohinterpret=default\nfrobnicate=1\niaxthreadcount=10\nqualify=yes\n"
    cfg, diags = build(text)
    assert errors(diags) == []
    found = warnings(diags)
    assert found[0].startswith("iax.conf:2: warning: option 'keyrotate' is obsolete")
    assert found[1] == "iax.conf:3: warning: option 'mohinterpret' is not implemented by pbxedge yet"
    assert found[2] == "iax.conf:4: warning: unknown option 'frobnicate' in [general] (ignored)"
    assert found[3].startswith("iax.conf:5: warning: option 'iaxthreadcount' is obsolete")
    assert found[4].startswith("iax.conf:6: warning: option 'qualify' has no effect in [general]")
    assert cfg.general.mohinterpret == "default"


def test_users_and_peers_keep_file_order_and_duplicates_warn() -> None:
    text = "[c]\ntype=user\n[a]\ntype=friend\nhost=dynamic\n[b]\ntype=peer\nhost=h\n[c]\ntype=user\ncontext=x\n"
    cfg, diags = build(text)
    assert list(cfg.users) == ["c", "a"] and list(cfg.peers) == ["a", "b"]
    assert cfg.users["c"].contexts == ("x",)
    assert warnings(diags) == [
        "iax.conf:9: warning: user 'c' is defined again; this definition replaces the one at iax.conf:1"
    ]


def test_peer_without_host_warns() -> None:
    _, diags = build("[p]\ntype=peer\nsecret=s\n")
    assert warnings(diags)[0].startswith("iax.conf:1: warning: peer 'p' has no host=")


def test_templates_feed_users(tmp_path: Path) -> None:
    (tmp_path / "phones.conf").write_text("[phone](office)\ntype=friend\nsecret=s\n", encoding="utf-8")
    top = tmp_path / "iax.conf"
    top.write_text("[office](!)\nhost=dynamic\ncontext=from-internal\nqualify=maybe\n#include phones.conf\n", encoding="utf-8")
    cfg, diags = load_iax_config(top)
    assert cfg.users["phone"].contexts == ("from-internal",) and cfg.peers["phone"].dynamic
    # The bad value is reported where it was written, inside the template.
    assert errors(diags) == [f"{top}:4: error: qualify: 'maybe' is not valid; accepted: "
                             f"yes/no, true/false, on/off, 1/0 (any case) (yes = 2000 ms), or milliseconds"]
    assert cfg.peers["phone"].origin == Origin(str(tmp_path / "phones.conf"), 1)


PHONE_TEMPLATE = (
    "[phone](!)\ntype=friend\nhost=dynamic\ncontext=from-internal\npermit=127.0.0.0/8\n"
    "disallow=all\nallow=ulaw,gsm\ninkeys=k1\n"
)


def test_entries_made_from_one_template_share_equal_values() -> None:
    text = PHONE_TEMPLATE + '[a](phone)\nsecret=sa\ncallerid="Ann" <201>\n[b](phone)\nsecret=sb\n'
    cfg, diags = build(text)
    assert diags == []
    a, b, peer_a = cfg.users["a"], cfg.users["b"], cfg.peers["a"]
    assert (a.prefs, a.contexts, a.inkeys, a.secrets) == ((Codec.ULAW, Codec.GSM), ("from-internal",), ("k1",), ("sa",))
    for field in ("prefs", "contexts", "inkeys", "acl"):
        assert getattr(a, field) is getattr(b, field), field
    assert peer_a.prefs is a.prefs and peer_a.acl is a.acl
    # The two halves of a friend read the caller ID once.
    assert a.callerid_name == "Ann" and peer_a.callerid_name is a.callerid_name
    assert not hasattr(a, "__dict__") and not hasattr(peer_a, "__dict__")


def test_sections_made_from_one_template_keep_their_own_lines() -> None:
    text = (
        PHONE_TEMPLATE
        + "[a](phone)\nallow=g722\n[b](phone)\nallow+=,alaw\n[c](phone)\n"
        + "[phone](+)\ncontext=later\n[d](phone)\n"
    )
    cfg, diags = build(text)
    assert diags == []
    assert cfg.users["a"].prefs == (Codec.ULAW, Codec.GSM, Codec.G722)
    assert cfg.users["b"].prefs == cfg.peers["b"].prefs == (Codec.ULAW, Codec.GSM, Codec.ALAW)
    assert cfg.users["c"].prefs == (Codec.ULAW, Codec.GSM)
    # A base is copied as it is when the section is written (Asterisk's inheritance).
    assert cfg.users["c"].contexts == ("from-internal",)
    assert cfg.users["d"].contexts == ("from-internal", "later") and cfg.peers["d"].context == "later"


def test_a_problem_in_a_template_is_reported_for_each_section_made_from_it() -> None:
    text = "[phone](!)\ntype=peer\nhost=dynamic\nfrobnicate=1\nqualify=maybe\n[a](phone)\n[b](phone)\n"
    cfg, diags = build(text)
    assert [str(d).split(": ")[0:3] for d in diags] == [
        ["iax.conf:4", "warning", "unknown option 'frobnicate' in a type=peer section ([a]) (ignored)"],
        ["iax.conf:5", "error", "qualify"],
        ["iax.conf:4", "warning", "unknown option 'frobnicate' in a type=peer section ([b]) (ignored)"],
        ["iax.conf:5", "error", "qualify"],
    ]
    assert cfg.peers["a"].qualify_ms == cfg.peers["b"].qualify_ms == 0


ENTRY_LINES = [
    "host=dynamic", "host=10.0.0.1", "context=a", "context=b", "secret=x", "secret=y", "disallow=all",
    "allow=gsm", "allow=ulaw,alaw", "allow+=,g722", "permit=10.0.0.0/8", "deny=0.0.0.0/0", "inkeys=k",
    'callerid="N" <1>', "qualify=yes", "trunk=yes", "setvar=A=1", "auth=rsa", "forceencryption=yes",
    "requirecalltoken=auto", "transfer=no", "type=user", "qualify=maybe", "frobnicate=1",
]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(ENTRY_LINES), max_size=6),
    st.lists(st.lists(st.sampled_from(ENTRY_LINES), max_size=3), min_size=1, max_size=4),
)
def test_sections_made_from_a_template_build_as_if_written_out(template: list[str], own: list[list[str]]) -> None:
    head = "[general]\ndisallow=all\nallow=alaw\n"
    templated = head + "[t](!)\ntype=friend\n" + "".join(f"{line}\n" for line in template)
    written_out = head
    for number, lines in enumerate(own):
        templated += f"[c{number}](t)\n" + "".join(f"{line}\n" for line in lines)
        written_out += f"[c{number}]\ntype=friend\n" + "".join(f"{line}\n" for line in [*template, *lines])
    (cfg, diags), (expected, expected_diags) = build(templated), build(written_out)
    assert [d.message for d in diags] == [d.message for d in expected_diags]
    for mine, theirs in ((cfg.users, expected.users), (cfg.peers, expected.peers)):
        assert list(mine) == list(theirs)
        for name, entry in mine.items():
            assert dataclasses.replace(entry, origin=theirs[name].origin) == theirs[name]


# ------------------------------------------------------------------ shipped files ---


def test_admin_file_loads_with_warnings_only() -> None:
    cfg, diags = load_iax_config(REPO / "tests" / "data" / "admin-iax.conf")
    assert errors(diags) == []
    for diag in diags:
        assert "obsolete" in diag.message or "not implemented by pbxedge yet" in diag.message, diag
    assert cfg.general.bindport == 4569
    assert cfg.general.capability == BANDWIDTH_LOW & ~Codec.LPC10
    assert cfg.general.autokill_ms == 2000 and cfg.general.jitterbuffer is False
    assert list(cfg.users) == ["guest", "iaxtel", "iaxfwd"]
    assert cfg.users["guest"].callerid_name == "Guest IAX User"
    assert cfg.users["iaxtel"].auth == AuthMethods.RSA and cfg.users["iaxtel"].inkeys == ("iaxtel",)


def test_admin_file_keeps_chinese_comments() -> None:
    text = (REPO / "tests" / "data" / "admin-iax.conf").read_text(encoding="utf-8")
    assert text.startswith("[general]\n") and "; 配置需要在 bindaddr 之前" in text
    assert text.rstrip().endswith(";context=dundi-e164-local")


def test_sample_config_runs_on_loopback() -> None:
    cfg, diags = load_iax_config(REPO / "configs" / "iax.conf")
    assert errors(diags) == []
    assert all("deprecated 'plaintext'" in d.message for d in diags), diags
    g = cfg.general
    assert g.bindaddrs == [BindAddr(host="127.0.0.1", port=4569)]
    assert g.regcontext == "iaxregistrations" and g.autokill_ms == 2000
    assert cfg.users["guest"].contexts == ("public",)
    assert cfg.users["alice"].auth == AuthMethods.MD5 and len(cfg.users["alice"].secrets) == 2
    assert cfg.users["bob"].auth == AuthMethods.RSA and cfg.users["bob"].inkeys == ("pbxedge-demo",)
    assert cfg.users["legacy"].auth == AuthMethods.PLAINTEXT
    assert cfg.peers["carol"].dynamic and cfg.peers["carol"].encryption
    gateway = cfg.peers["gateway"]
    assert (gateway.host, gateway.port, gateway.qualify_ms, gateway.outkey) == ("127.0.0.1", 4599, 2000, "pbxedge-demo")
    assert cfg.peers["branch-north"].trunk and cfg.peers["branch-south"].trunk
    assert cfg.users["lobby"].immediate and cfg.users["lobby"].contexts == ("hotline",)
    contexts = {c for u in cfg.users.values() for c in u.contexts}
    assert contexts <= {"from-internal", "from-trunk", "public", "hotline"}
    for peer in cfg.peers.values():
        assert peer.host in (None, "127.0.0.1")


def test_loading_restores_the_garbage_collector(tmp_path: Path) -> None:
    path = tmp_path / "iax.conf"
    path.write_text("[general]\n", encoding="utf-8")
    assert gc.isenabled()
    load_iax_config(path)
    assert gc.isenabled()
    with pytest.raises(ConfigError):
        load_iax_config(tmp_path / "missing.conf")
    assert gc.isenabled()


OPTION_NAMES = sorted(
    {"type", "host", "secret", "auth", "allow", "disallow", "qualify", "permit", "deny", "context",
     "callerid", "register", "bindaddr", "bindport", "tos", "trunk", "forceencryption", "encryption",
     "inkeys", "setvar", "requirecalltoken", "transfer", "port", "defaultip", "mask", "keyrotate",
     "autokill", "trunkmtu", "calltokenoptional", "bandwidth", "nonsense"}
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["[general]", "[callnumberlimits]", "[x]", "[y](x)", "[t](!)"]),
            st.lists(
                st.tuples(st.sampled_from(OPTION_NAMES), st.text(alphabet="abc019:@[]/.,<>\" =-!", max_size=12)),
                max_size=6,
            ),
        ),
        max_size=5,
    )
)
def test_any_option_soup_builds_without_raising(sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
    lines: list[str] = []
    for header, options in sections:
        lines.append(header)
        lines.extend(f"{name}={value}" for name, value in options)
    cfg, diags = build("\n".join(lines))
    assert all(isinstance(d, Diagnostic) for d in diags)
    assert cfg.general.bindaddrs


def test_realtime_options_and_systemname() -> None:
    cfg, diags = build("[general]\nsystemname=edge1\nrtcachefriends=yes\nrtupdate=no\n"
                       "rtsavesysname=yes\nrtautoclear=yes\nrtignoreregexpire=yes\nrtreach=regserver\n")
    assert diags == []
    general = cfg.general
    assert (general.systemname, general.rtcachefriends, general.rtupdate, general.rtsavesysname,
            general.rtautoclear, general.rtignoreregexpire, general.rtreach) == (
        "edge1", True, False, True, 120, True, "regserver")
    assert build("[general]\nrtautoclear=45\n")[0].general.rtautoclear == 45
    assert build("[general]\nrtautoclear=no\n")[0].general.rtautoclear == 0
    assert build("[general]\n")[0].general.rtupdate is True
    _, diags = build("[general]\nsystemname=edge 1\nrtreach=maybe\n")
    assert [d.split(":")[1] for d in errors(diags)] == ["2", "3"]
