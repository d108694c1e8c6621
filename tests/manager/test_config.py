"""manager.conf: defaults, users, classes, ACLs, filters, and file:line problems."""

from __future__ import annotations

from pathlib import Path

from pbxedge.events import Category
from pbxedge.manager.config import load_manager_config
from pbxedge.manager.filters import allowed, parse_filter
from pbxedge.manager.permissions import ALL, bit

NEWCHANNEL = "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: IAX2/phone-1\r\n\r\n"
VARSET = "Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: Console/dsp\r\n\r\n"


def test_no_file_means_no_manager(tmp_path: Path) -> None:
    config, problems = load_manager_config(tmp_path / "manager.conf")
    assert not config.enabled and problems == []


def test_general_and_users(tmp_path: Path) -> None:
    path = tmp_path / "manager.conf"
    path.write_text("""[general]
enabled = yes
port = 25038
bindaddr = 127.0.0.1
timestampevents = yes
channelvars = FOO, BAR

[Admin]
secret = amipass
read = system,call
write = all
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
writetimeout = 250
setvar = ORIGIN=ami

[nobody]
""")
    config, problems = load_manager_config(path)
    assert problems == []
    assert (config.enabled, config.port, config.bindaddr) == (True, 25038, "127.0.0.1")
    assert config.timestampevents and config.channelvars == ("FOO", "BAR")
    admin = config.user("admin")
    assert admin is not None and admin.name == "Admin" and admin.secret == "amipass"
    assert admin.read == bit(Category.SYSTEM) | bit(Category.CALL) and admin.write == ALL
    assert admin.acl.permits("127.0.0.1") and not admin.acl.permits("127.0.0.2")
    assert admin.writetimeout_ms == 250 and admin.setvars == (("ORIGIN", "ami"),)
    nobody = config.user("nobody")
    assert nobody is not None and (nobody.read, nobody.write, nobody.secret) == (0, 0, None)


def test_problems_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "manager.conf"
    path.write_text("""[general]
enabled = maybe
webenabled = yes
frobnicate = 1

[admin]
read = call,bogus
permit = 300.1.1.1
writetimeout = 20
eventfilter = ([unclosed
""")
    config, problems = load_manager_config(path)
    texts = [str(p) for p in problems]
    assert texts[0].startswith(f"{path}:2: error: enabled:")
    assert texts[1] == f"{path}:3: warning: webenabled: AMI over HTTP is not supported; ignored"
    assert texts[2] == f"{path}:4: warning: unknown option 'frobnicate' in [general]"
    assert texts[3] == f"{path}:7: warning: read: 'bogus' is no manager class; ignored"
    assert texts[4].startswith(f"{path}:8: error: permit:")
    assert texts[5] == f"{path}:9: warning: writetimeout 20 is below 100 ms; 100 is used"
    assert texts[6].startswith(f"{path}:10: error: eventfilter: invalid regular expression")
    assert config.user("admin") is not None and config.user("admin").writetimeout_ms == 100


def test_legacy_filters_include_and_exclude_by_regex() -> None:
    include = parse_filter("eventfilter", "Event: Newchannel")
    exclude = parse_filter("eventfilter", "!Channel: Console/")
    assert allowed([], "VarSet", VARSET)
    assert allowed([include], "Newchannel", NEWCHANNEL)
    assert not allowed([include], "VarSet", VARSET)
    assert not allowed([exclude], "VarSet", VARSET) and allowed([exclude], "Newchannel",
                                                                NEWCHANNEL)
    both = [include, parse_filter("eventfilter", "!IAX2/phone")]
    assert not allowed(both, "Newchannel", NEWCHANNEL)


def test_advanced_filters_by_name_header_and_method() -> None:
    by_header = parse_filter(
        "eventfilter(action(include),name(Newchannel),header(Channel),method(starts_with))",
        "IAX2/")
    assert allowed([by_header], "Newchannel", NEWCHANNEL)
    assert not allowed([by_header], "VarSet", VARSET)
    by_name = parse_filter("eventfilter(action(exclude),name(VarSet))", "")
    assert by_name.method == "none"
    assert not allowed([by_name], "VarSet", VARSET) and allowed([by_name], "Newchannel",
                                                                NEWCHANNEL)
    exact = parse_filter("eventfilter(header(channel),method(exact))", "Console/dsp")
    assert allowed([exact], "VarSet", VARSET) and not allowed([exact], "Newchannel", NEWCHANNEL)
