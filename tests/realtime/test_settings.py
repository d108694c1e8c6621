"""extconfig.conf, res_pgsql.conf and cdr_pgsql.conf as Asterisk reads them."""

from __future__ import annotations

from pathlib import Path

from pbxedge.realtime.settings import load_realtime_settings


def _write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        (folder / f"{name}.conf").write_text(text)
    return folder


def test_no_files_means_no_realtime(tmp_path: Path) -> None:
    settings = load_realtime_settings(tmp_path)
    assert not settings.enabled and settings.problems == []


def test_bindings_defaults_and_legacy_names(tmp_path: Path) -> None:
    folder = _write(tmp_path, extconfig="[settings]\niaxusers => pgsql,general,iaxfriends\n"
                    "iaxpeers => pgsql,general\nextensions => pgsql,general,extensions\n",
                    res_pgsql="[general]\ndbhost=127.0.0.1\ndbport=25432\ndbname=pbx\n"
                    "dbuser=u\ndbpass=p\nrequirements=createclose\n")
    settings = load_realtime_settings(folder)
    assert settings.problems == []
    assert settings.table("iaxusers") == "iaxfriends"
    assert settings.table("iaxpeers") == "iaxpeers"  # the table defaults to the family
    assert settings.pgsql.conninfo() == {"host": "127.0.0.1", "port": "25432", "dbname": "pbx",
                                         "user": "u", "password": "p"}
    assert settings.pgsql.requirements == "createclose"
    assert settings.cdr is None


def test_new_names_win_and_the_socket_is_used_without_hostname(tmp_path: Path) -> None:
    folder = _write(tmp_path, extconfig="[settings]\niaxpeers => pgsql,general,iaxfriends\n",
                    res_pgsql="[general]\nport=5433\ndbport=1\nsocket=/run/pg\npassword=\n",
                    cdr_pgsql="[global]\nhostname=db\ntable=calls\n")
    settings = load_realtime_settings(folder)
    assert settings.pgsql.conninfo() == {"host": "/run/pg", "port": "5433",
                                         "dbname": "asterisk", "user": "asterisk"}
    assert settings.cdr is not None
    assert (settings.cdr.dbname, settings.cdr.table, settings.cdr.password) == (
        "asteriskcdrdb", "calls", "")


def test_problems_name_file_and_line(tmp_path: Path) -> None:
    folder = _write(tmp_path, extconfig="[settings]\niaxpeers => pgsql,general,iaxfriends\n"
                    "iaxpeers => pgsql,backup,iaxfriends,2\nsippeers => pgsql,general\n"
                    "iaxusers => odbc,general\nsip.conf => pgsql,general\nextensions => pgsql\n",
                    res_pgsql="[general]\nport=abc\nfrobnicate=1\n")
    lines = [str(d).replace(str(folder) + "/", "") for d in
             load_realtime_settings(folder).problems]
    assert lines == [
        "extconfig.conf:3: warning: iaxpeers: failover to a second database is not supported; "
        "this line is ignored",
        "extconfig.conf:4: warning: family 'sippeers' is not used by pbxedge (it reads iaxusers, "
        "iaxpeers, extensions); ignored",
        "extconfig.conf:5: warning: iaxusers: driver 'odbc' is not available; pbxedge speaks "
        "only pgsql",
        "extconfig.conf:6: warning: 'sip.conf': static realtime files are not supported by "
        "pbxedge; ignored",
        "extconfig.conf:7: error: extensions => expects driver,database[,table[,priority]]",
        "res_pgsql.conf:3: warning: unknown option 'frobnicate' in [general]",
        "res_pgsql.conf:2: error: port: 'abc' is not valid; accepted: a whole number from 1 "
        "to 65535",
    ]
