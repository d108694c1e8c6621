"""The ``pbxedge`` command line: --check, -rx without a node, subcommands, paths."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pbxedge.cli import main
from pbxedge.paths import resolve_paths

DATA = Path(__file__).parent / "control" / "data"


@pytest.fixture
def confdir(tmp_path: Path) -> Path:
    folder = tmp_path / "configs"
    folder.mkdir()
    shutil.copy(DATA / "iax.conf", folder / "iax.conf")
    shutil.copy(DATA / "extensions.conf", folder / "extensions.conf")
    return folder


def test_check_good_config_exits_0_and_prints_warnings_with_file_line(
    confdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(confdir / "iax.conf"), "--check"]) == 0
    out = capsys.readouterr().out
    # plainpeer uses the deprecated plaintext auth on line 43 of the fixture.
    assert f"{confdir / 'iax.conf'}:43: warning: " in out
    # rsapeer's inkeys/outkey are not in a key directory.
    assert "inkeys 'iaxpeer' has no iaxpeer.pub" in out


def test_check_broken_config_exits_1_naming_file_and_line(
    confdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = confdir / "iax.conf"
    conf.write_text("[general]\nbindport = 4570\n[broken\nsecret = x\n")
    assert main(["-c", str(conf), "--check"]) == 1
    out = capsys.readouterr().out
    assert f"{conf}:3: error: " in out


def test_check_broken_dialplan_exits_1(
    confdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dialplan = confdir / "extensions.conf"
    dialplan.write_text("[from-iax]\nexten => 100,1,Answer()\nexten => 100,1,Hangup()\n")
    assert main(["-c", str(confdir / "iax.conf"), "--check"]) == 1
    assert f"{dialplan}:3: error: " in capsys.readouterr().out


def test_check_reads_console_conf(confdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    console = confdir / "console.conf"
    console.write_text("[lift]\ninput_device = default\noutput_device = default\n"
                       "ack_digit = 55\nalarm_targets = IAX2/desk/100\n")
    assert main(["-c", str(confdir / "iax.conf"), "--check"]) == 1
    assert f"{console}:4: error: ack_digit: '55' is not valid" in capsys.readouterr().out


def test_check_reads_the_extensions_option(
    confdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.conf"
    other.write_text("[x]\nexten => ,1,Foo\n")
    assert main(["-c", str(confdir / "iax.conf"), "--extensions", str(other), "--check"]) == 1
    assert f"{other}:2: error: " in capsys.readouterr().out


def test_check_missing_config_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "iax.conf"
    assert main(["-c", str(missing), "--check"]) == 1
    assert str(missing) in capsys.readouterr().out


def test_check_uses_keys_beside_the_config_dir(
    confdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = confdir.parent / "keys"
    assert main(["keygen", "--dir", str(keys), "iaxpeer"]) == 0
    assert main(["keygen", "--dir", str(keys), "iaxtest"]) == 0
    capsys.readouterr()
    assert main(["-c", str(confdir / "iax.conf"), "--check"]) == 0
    assert "iaxpeer" not in capsys.readouterr().out


def test_rx_without_a_running_node_exits_1(
    confdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-c", str(confdir / "iax.conf"), "-rx", "core show version"]) == 1
    socket = confdir / "var" / "pbxedge.ctl"
    assert capsys.readouterr().err == (
        f"Unable to connect to remote pbxedge (does {socket} exist?)\n"
    )


def test_x_needs_r(confdir: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["-c", str(confdir / "iax.conf"), "-x", "help"])
    assert exited.value.code == 2


@pytest.mark.parametrize(("option", "value"), [
    ("--console-max-clients", "0"), ("--console-max-clients", "1.5"),
    ("--console-idle-timeout", "-1"), ("--console-idle-timeout", "nan"),
])
def test_console_limits_must_be_positive_numbers(
    confdir: Path, option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["-c", str(confdir / "iax.conf"), option, value])
    assert exited.value.code == 2
    assert f"argument {option}: " in capsys.readouterr().err


def test_decode_subcommand_is_dispatched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", str(tmp_path / "missing.pcap")]) != 0
    assert "pbxedge decode:" in capsys.readouterr().err


def test_help_documents_the_key_lookup(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "<confdir>/keys, or <confdir>/../keys" in out
    assert "-rx" in out
    assert "PBXEDGE_CONFIG_MAX_BYTES" in out


def test_paths_default_beside_the_config(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "configs" / "iax.conf")
    assert paths.extensions == tmp_path / "configs" / "extensions.conf"
    assert paths.keys == tmp_path / "configs" / "keys"
    assert paths.state == tmp_path / "configs" / "var"
    assert paths.control_socket == tmp_path / "configs" / "var" / "pbxedge.ctl"
    assert paths.agi_bin == tmp_path / "configs" / "agi-bin"


def test_keys_fall_back_to_the_parent_folder_only_when_that_exists(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    assert resolve_paths(tmp_path / "configs" / "iax.conf").keys == tmp_path / "keys"
    (tmp_path / "configs" / "keys").mkdir(parents=True)
    assert resolve_paths(tmp_path / "configs" / "iax.conf").keys == tmp_path / "configs" / "keys"


def test_explicit_paths_win(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "iax.conf", tmp_path / "x.conf", tmp_path / "k",
                          tmp_path / "s")
    assert (paths.extensions, paths.keys, paths.state) == (
        tmp_path / "x.conf", tmp_path / "k", tmp_path / "s")


def test_check_accepts_the_admins_annotated_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The seed notes' iax.conf (tests/data/admin-iax.conf): warnings only, exit 0."""
    admin = Path(__file__).parent / "data" / "admin-iax.conf"
    shutil.copy(admin, tmp_path / "iax.conf")
    assert main(["-c", str(tmp_path / "iax.conf"), "--check"]) == 0
    out = capsys.readouterr()
    lines = [line for line in (out.out + out.err).splitlines() if line.strip()]
    assert lines, "the missing inkeys files and extensions.conf are reported"
    assert all(": warning: " in line for line in lines), lines


# ------------------------------------------- --check on includes that name no config file ---

MARKER = "MARKER-51c0de"
# Generous: a node's --check takes about a second; the limit only turns a hang into a failure.
CHECK_LIMIT_S = 60


def run_check(confdir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command, as an admin runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pbxedge", "-c", str(confdir / "iax.conf"), "--check"],
        capture_output=True, text=True, timeout=CHECK_LIMIT_S, check=False,
        env={**os.environ, **env},
    )


def append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


def test_check_never_prints_the_lines_of_an_included_secret_file(confdir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text(f"root:$6${MARKER}${MARKER}:19700:0:99999:7:::\nTOKEN={MARKER}\n")
    append(confdir / "iax.conf", f"#include {secret}\n")
    append(confdir / "extensions.conf", f"#include {secret}\n")
    result = run_check(confdir)
    assert MARKER not in result.stdout + result.stderr
    assert f"{secret}:1: warning: no '=' (equal sign) in line\n" in result.stdout
    assert f"{secret}:2: warning: unknown option 'TOKEN' in a type=user section ([guest]) (ignored)\n" \
        in result.stdout
    assert f"{secret}:2: warning: Unknown directive 'TOKEN' in context 'from-trunk', ignored\n" in result.stdout


def test_check_refuses_devices_and_fifos_with_the_include_line(confdir: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.conf"
    os.mkfifo(fifo)
    iax, extensions = confdir / "iax.conf", confdir / "extensions.conf"
    iax_line, extensions_line = (f.read_text().count("\n") + 1 for f in (iax, extensions))
    append(iax, f"#include /dev/zero\n#tryinclude {fifo}\n")
    append(extensions, f"#include {fifo}\n")
    # The limit keeps a regression that reads /dev/zero from eating the machine's memory.
    result = run_check(confdir, PBXEDGE_CONFIG_MAX_BYTES="1000000")
    assert result.returncode == 1
    assert result.stderr == ""
    refused = "is not a regular file (it is {}); not included\n"
    for where, path, kind in ((f"{iax}:{iax_line}", "/dev/zero", "a character device"),
                              (f"{iax}:{iax_line + 1}", fifo, "a named pipe"),
                              (f"{extensions}:{extensions_line}", fifo, "a named pipe")):
        assert f"{where}: error: included file {path} " + refused.format(kind) in result.stdout


def test_check_stops_files_that_each_include_the_next_twice(confdir: Path) -> None:
    for n in range(1, 26):
        (confdir / f"f{n}.conf").write_text(f"#include f{n + 1}.conf\n#include f{n + 1}.conf\n")
    (confdir / "f26.conf").write_text("")
    append(confdir / "extensions.conf", "#include f1.conf\n")
    result = run_check(confdir)
    assert result.returncode == 1
    assert result.stderr == ""
    assert result.stdout.count("files included in one load") == 1


def test_check_refuses_a_config_over_the_size_limit(confdir: Path) -> None:
    users = confdir / "users.conf"
    users.write_text("[bulk]\ntype=user\n" + "allow=ulaw\n" * 100)
    append(confdir / "iax.conf", "#include users.conf\n")
    iax = confdir / "iax.conf"
    size, included, line = iax.stat().st_size, users.stat().st_size, iax.read_text().count("\n")
    result = run_check(confdir, PBXEDGE_CONFIG_MAX_BYTES=str(size + 100))
    assert result.returncode == 1
    assert (f"{iax}:{line}: error: included file {users} "
            f"is too large: {included} bytes, and a config with its includes may hold {size + 100} bytes "
            f"({size} bytes were read before it); PBXEDGE_CONFIG_MAX_BYTES sets the limit; not included\n"
            ) in result.stdout
    assert run_check(confdir, PBXEDGE_CONFIG_MAX_BYTES=str(size + included)).returncode == 0
