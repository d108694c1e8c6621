from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbxedge.config.diagnostics import ConfigError, Origin, Severity
from pbxedge.config.loader import (
    MAX_INCLUDE_DEPTH,
    MAX_INCLUDED_FILES,
    Category,
    ConfigFile,
    load_config,
    parse_config_text,
)
from tests.hang_guard import fails_instead_of_hanging


def values(category: Category) -> list[tuple[str, str]]:
    return [(v.name, v.value) for v in category.variables]


def only(cfg: ConfigFile, name: str) -> Category:
    found = [c for c in cfg.categories if c.name == name]
    assert len(found) == 1, found
    return found[0]


def messages(cfg: ConfigFile) -> list[str]:
    return [str(d) for d in cfg.diagnostics]


def test_sections_variables_and_origins() -> None:
    cfg = parse_config_text("[general]\nbindport = 4569\n\n[peer1]\ntype=peer\n", "iax.conf")
    assert [c.name for c in cfg.sections()] == ["general", "peer1"]
    var = cfg.sections()[0].variables[0]
    assert (var.name, var.value, var.origin, var.is_object) == ("bindport", "4569", Origin("iax.conf", 2), False)
    assert str(var.origin) == "iax.conf:2"
    assert cfg.sections()[1].origin == Origin("iax.conf", 4)
    assert cfg.diagnostics == []


def test_repeated_keys_keep_order_and_get_is_last_case_insensitive() -> None:
    cfg = parse_config_text("[u]\nsecret=a\nSECRET=b\nallow=ulaw\nsecret=c\n")
    cat = cfg.sections()[0]
    assert [v.value for v in cat.get_all("secret")] == ["a", "b", "c"]
    got = cat.get("Secret")
    assert got is not None and got.value == "c"
    assert cat.get("missing") is None


def test_object_flag_for_arrow() -> None:
    cfg = parse_config_text("[general]\nregister => u:s@h\nregister = v@h\n")
    assert [v.is_object for v in cfg.sections()[0].variables] == [True, False]


def test_append_concatenates_onto_last_same_named_variable() -> None:
    cfg = parse_config_text("[a]\nallow=ulaw\nallow=gsm\nallow+=,alaw\nallow += ,g722\nnew+= x\n")
    assert values(cfg.sections()[0]) == [("allow", "ulaw"), ("allow", "gsm,alaw ,g722"), ("new", "x")]


def test_append_matches_the_name_case_sensitively() -> None:
    cfg = parse_config_text("[a]\nallow=ulaw\nALLOW+=gsm\n")
    assert values(cfg.sections()[0]) == [("allow", "ulaw"), ("ALLOW", "gsm")]


def test_templates_are_hidden_and_inherited_first() -> None:
    text = "[base](!)\ncontext=from-internal\nqualify=yes\n[phone](base)\nsecret=s\nqualify=no\n"
    cfg = parse_config_text(text)
    assert [c.name for c in cfg.categories] == ["base", "phone"]
    assert [c.name for c in cfg.sections()] == ["phone"]
    phone = only(cfg, "phone")
    assert phone.bases == ["base"]
    assert not phone.is_template and only(cfg, "base").is_template
    assert values(phone) == [("context", "from-internal"), ("qualify", "yes"), ("secret", "s"), ("qualify", "no")]
    # Inherited values keep the file:line where they were written.
    assert phone.variables[0].origin.line == 2
    got = phone.get("qualify")
    assert got is not None and got.value == "no"


def test_multiple_bases_in_order_and_template_with_base() -> None:
    text = "[a](!)\nx=1\n[b](!)\ny=2\n[c](a,b)\nz=3\n[t](a,!)\n"
    cfg = parse_config_text(text)
    assert values(only(cfg, "c")) == [("x", "1"), ("y", "2"), ("z", "3")]
    assert only(cfg, "t").is_template and values(only(cfg, "t")) == [("x", "1")]


def test_appending_to_child_does_not_change_base() -> None:
    cfg = parse_config_text("[a](!)\nallow=ulaw\n[b](a)\nallow+=,gsm\n")
    assert values(only(cfg, "a")) == [("allow", "ulaw")]
    assert values(only(cfg, "b")) == [("allow", "ulaw,gsm")]


def test_inherited_variables_are_shared_until_appended_to() -> None:
    cfg = parse_config_text("[t](!)\nx=1\ny=2\n[c](t)\nz=3\n[d](t)\ny+=9\n")
    t, c, d = only(cfg, "t"), only(cfg, "c"), only(cfg, "d")
    assert all(mine is base for mine, base in zip(c.variables, t.variables, strict=False))
    assert c.inherited == 2 and values(c) == [("x", "1"), ("y", "2"), ("z", "3")]
    # '+=' gives the section its own copy of the line; the base keeps its value.
    assert d.inherited == 1 and d.variables[0] is t.variables[0]
    assert values(d) == [("x", "1"), ("y", "29")] and values(t) == [("x", "1"), ("y", "2")]


def test_plus_appends_to_earlier_section() -> None:
    cfg = parse_config_text("[general]\na=1\n[peer]\nb=2\n[general](+)\nc=3\n")
    assert [c.name for c in cfg.categories] == ["general", "peer"]
    assert values(only(cfg, "general")) == [("a", "1"), ("c", "3")]


def test_plus_on_missing_section_is_an_error_and_creates_it() -> None:
    cfg = parse_config_text("[nope](+)\na=1\n", "x.conf")
    assert messages(cfg) == ["x.conf:1: error: Category addition requested, but category 'nope' does not exist"]
    assert values(only(cfg, "nope")) == [("a", "1")]


def test_missing_base_is_an_error() -> None:
    cfg = parse_config_text("[p](ghost)\na=1\n", "x.conf")
    assert messages(cfg) == ["x.conf:1: error: Inheritance requested, but category 'ghost' does not exist"]
    assert values(only(cfg, "p")) == [("a", "1")]


def test_variable_before_any_category() -> None:
    cfg = parse_config_text("a=1\n[x]\n", "x.conf")
    assert cfg.diagnostics[0].severity is Severity.ERROR
    assert str(cfg.diagnostics[0]).startswith("x.conf:1: error: parse error: No category context")


def test_escapes_and_block_comment_hiding_a_fake_category() -> None:
    text = "[real]\nsetvar=A=x\\;y ; comment\n;-- disabled\n[fake]\nsecret=oops\n--;\nafter=1\n"
    cfg = parse_config_text(text)
    assert [c.name for c in cfg.categories] == ["real"]
    assert values(only(cfg, "real")) == [("setvar", "A=x;y"), ("after", "1")]
    assert only(cfg, "real").variables[1].origin.line == 7


def test_crlf_input_and_trailing_junk_lines() -> None:
    text = "[a]\r\nb = 1\r\nnot an option\r\n\x00\x01garbage\r\n[broken\r\n"
    cfg = parse_config_text(text, "j.conf")
    assert values(only(cfg, "a")) == [("b", "1")]
    assert [(d.severity, d.origin) for d in cfg.diagnostics] == [
        (Severity.WARNING, Origin("j.conf", 3)),
        (Severity.WARNING, Origin("j.conf", 4)),
        (Severity.ERROR, Origin("j.conf", 5)),
    ]
    assert "no closing ']'" in cfg.diagnostics[2].message


def test_unknown_directive_is_a_warning() -> None:
    cfg = parse_config_text("#frobnicate now\n", "x.conf")
    assert messages(cfg) == ["x.conf:1: warning: Unknown directive '#frobnicate'"]


def test_unterminated_block_comment_warns_at_opening_line() -> None:
    cfg = parse_config_text("[a]\n;-- open\n;-- inner\nb=1\n", "x.conf")
    assert messages(cfg) == [
        "x.conf:3: warning: Unterminated comment detected beginning on line 3 (';--' without '--;')"
    ]


def test_invalid_utf8_does_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "bin.conf"
    path.write_bytes(b"[a]\nb=\xff\xfe\n; \xe4\xb8\xad\xe6\x96\x87 comment\n")
    cfg = load_config(path)
    assert values(only(cfg, "a")) == [("b", "\ufffd\ufffd")]


def test_unreadable_top_level_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.conf")
    assert "cannot read config file" in str(info.value)
    assert info.value.diagnostics[0].severity is Severity.ERROR


# ------------------------------------------------------------------ includes ---


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_include_is_relative_to_including_file_and_continues_category(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "inner.conf", "secret=s\n#include more.conf\n")
    write(tmp_path / "sub" / "more.conf", "[other]\nx=1\n")
    top = write(tmp_path / "iax.conf", "[p]\ntype=peer\n#include sub/inner.conf\ny=2\n")
    cfg = load_config(top)
    assert cfg.diagnostics == []
    assert values(only(cfg, "p")) == [("type", "peer"), ("secret", "s")]
    # The last category opened by an included file stays current after it, as in Asterisk.
    assert values(only(cfg, "other")) == [("x", "1"), ("y", "2")]
    secret = only(cfg, "p").variables[1]
    assert secret.origin == Origin(os.path.join(str(tmp_path), "sub", "inner.conf"), 1)
    assert only(cfg, "other").variables[1].origin == Origin(str(top), 4)


def test_include_glob_is_sorted(tmp_path: Path) -> None:
    write(tmp_path / "iax.d" / "20-b.conf", "[b]\nn=2\n")
    write(tmp_path / "iax.d" / "10-a.conf", "[a]\nn=1\n")
    write(tmp_path / "iax.d" / "skip.txt", "[c]\n")
    top = write(tmp_path / "iax.conf", '#include "iax.d/*.conf"\n')
    cfg = load_config(top)
    assert [c.name for c in cfg.categories] == ["a", "b"]


def test_include_glob_without_match_warns(tmp_path: Path) -> None:
    top = write(tmp_path / "iax.conf", "#include none/*.conf\n#tryinclude none/*.conf\n")
    cfg = load_config(top)
    assert [d.severity for d in cfg.diagnostics] == [Severity.WARNING]


def test_missing_include_is_an_error_and_tryinclude_is_silent(tmp_path: Path) -> None:
    top = write(tmp_path / "iax.conf", "[a]\n#tryinclude gone.conf\n#include gone.conf\nb=1\n")
    cfg = load_config(top)
    assert [(d.severity, d.origin.line if d.origin else 0) for d in cfg.diagnostics] == [(Severity.ERROR, 3)]
    assert "gone.conf" in cfg.diagnostics[0].message
    assert values(only(cfg, "a")) == [("b", "1")]


def test_include_loop_is_detected(tmp_path: Path) -> None:
    write(tmp_path / "a.conf", "[a]\nx=1\n#include b.conf\n")
    write(tmp_path / "b.conf", "y=2\n#include a.conf\n")
    cfg = load_config(tmp_path / "a.conf")
    assert len(cfg.diagnostics) == 1
    diag = cfg.diagnostics[0]
    assert diag.severity is Severity.ERROR
    assert diag.message.startswith("include loop: a.conf -> b.conf -> a.conf")
    assert diag.origin == Origin(os.path.join(str(tmp_path), "b.conf"), 2)
    assert values(only(cfg, "a")) == [("x", "1"), ("y", "2")]


def test_self_include_is_a_loop(tmp_path: Path) -> None:
    top = write(tmp_path / "self.conf", "#include self.conf\n")
    cfg = load_config(top)
    assert [d.message.split(":")[0] for d in cfg.diagnostics] == ["include loop"]


def test_exec_is_refused_by_default(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    top = write(tmp_path / "iax.conf", f"[a]\n#exec touch {marker}\n")
    cfg = load_config(top)
    assert not marker.exists()
    assert cfg.diagnostics[0].severity is Severity.ERROR
    assert "#exec" in cfg.diagnostics[0].message and "refused" in cfg.diagnostics[0].message
    assert cfg.diagnostics[0].origin == Origin(str(top), 2)


def test_exec_output_is_included_when_allowed(tmp_path: Path) -> None:
    script = write(tmp_path / "gen.py", "print('[made]')\nprint('x = 1')\n")
    top = write(tmp_path / "iax.conf", f"#exec {sys.executable} {script}\n")
    cfg = load_config(top, allow_exec=True)
    assert cfg.diagnostics == []
    assert values(only(cfg, "made")) == [("x", "1")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["[a]", "[b](a)", "[t](!)", "[a](+)", "x=1", "y => 2", "x+=3", "junk", ";-- c", "--;",
                                 "#include nowhere.conf", "#tryinclude nowhere.conf", "[", "\\;=;", "", "\r"]), max_size=25))
def test_random_line_soup_never_raises_and_origins_are_in_range(lines: list[str]) -> None:
    cfg = parse_config_text("\n".join(lines), "soup.conf")
    for diag in cfg.diagnostics:
        assert diag.origin is None or 1 <= diag.origin.line <= max(len(lines), 1)
    for category in cfg.categories:
        for var in category.variables:
            assert var.name in lines[var.origin.line - 1]


def test_nested_include_also_resolves_against_the_top_folder(tmp_path: Path) -> None:
    # Asterisk resolves every relative include against its config directory, so a file in
    # a subfolder names its siblings with the subfolder's name.
    write(tmp_path / "sub" / "inner.conf", "[p]\n#include sub/more.conf\n#include sub/*.inc\n")
    write(tmp_path / "sub" / "more.conf", "x=1\n")
    write(tmp_path / "sub" / "one.inc", "y=2\n")
    cfg = load_config(write(tmp_path / "iax.conf", "#include sub/inner.conf\n"))
    assert cfg.diagnostics == []
    assert values(only(cfg, "p")) == [("x", "1"), ("y", "2")]


def test_missing_nested_include_names_the_including_files_folder(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "inner.conf", "[p]\n#include gone.conf\n")
    cfg = load_config(write(tmp_path / "iax.conf", "#include sub/inner.conf\n"))
    assert [d.message.split(":")[0] for d in cfg.diagnostics] == [
        f"cannot read included file {tmp_path / 'sub' / 'gone.conf'}"]


# ------------------------------------------------- includes of files that are no config ---

MARKER = "MARKER-7f3a9c"
# Lines of files an include may name by mistake: a shadow file, a private key, secrets.
SECRET_TEXT = (
    f"root:$6${MARKER}salt${MARKER}hash{MARKER}hash:19700:0:99999:7:::\n"
    f"daemon:$6$rounds=5000${MARKER}:19700:0:99999:7:::\n"
    "-----BEGIN PRIVATE KEY-----\n"
    f"{MARKER}b64{MARKER}b64{MARKER}b64{MARKER}b64\n"
    "-----END PRIVATE KEY-----\n"
    f"API_TOKEN={MARKER}\n"
    f"[{MARKER}\n"
    f"#{MARKER}\n"
)


def test_an_included_secret_file_is_never_quoted(tmp_path: Path) -> None:
    secret = write(tmp_path / "secret", SECRET_TEXT)
    top = write(tmp_path / "iax.conf", f"#include {secret}\n[general]\n#include {secret}\n")
    cfg = load_config(top)
    shown = "\n".join(messages(cfg))
    assert MARKER not in shown
    # Each problem still names its file and line.
    assert {d.origin.file for d in cfg.diagnostics if d.origin} == {str(secret)}
    assert {d.origin.line for d in cfg.diagnostics if d.origin} == set(range(1, 9))


def test_names_and_values_are_quoted_only_as_short_escaped_excerpts() -> None:
    cfg = parse_config_text(f"[{'n' * 5000}](+)\n[p](\x1b[2J{'b' * 5000})\n", "x.conf")
    for message in messages(cfg):
        assert len(message) < 200 and "\x1b" not in message, message
    assert "'\\x1b[2J" in messages(cfg)[1] and messages(cfg)[1].count("…") == 1


def test_devices_fifos_and_folders_are_refused_at_the_include_line(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.conf"
    os.mkfifo(fifo)
    (tmp_path / "folder.conf").mkdir()
    top = write(tmp_path / "iax.conf",
                "[a]\n#include /dev/zero\n#tryinclude pipe.conf\n#include folder.conf\nx=1\n")
    with fails_instead_of_hanging(10):
        cfg = load_config(top, max_bytes=1 << 20)
    assert [(d.severity, d.origin) for d in cfg.diagnostics] == [
        (Severity.ERROR, Origin(str(top), line)) for line in (2, 3, 4)]
    assert messages(cfg)[0].endswith(
        "error: included file /dev/zero is not a regular file (it is a character device); not included")
    assert "pipe.conf is not a regular file (it is a named pipe)" in messages(cfg)[1]
    assert "is not a regular file (it is a directory)" in messages(cfg)[2]
    # The rest of the file still loads.
    assert values(only(cfg, "a")) == [("x", "1")]


def test_a_binary_include_is_reported_as_not_text_without_its_content(tmp_path: Path) -> None:
    write(tmp_path / "blob.conf", "")
    (tmp_path / "blob.conf").write_bytes(f"[{MARKER}]\n".encode() + b"\0\x89PNG")
    top = write(tmp_path / "iax.conf", "[a]\n#include blob.conf\n")
    cfg = load_config(top)
    assert messages(cfg) == [f"{top}:2: error: included file {tmp_path / 'blob.conf'} is not a text "
                             "file (it contains NUL bytes); not included"]
    assert [c.name for c in cfg.categories] == ["a"]


def test_files_over_the_size_limit_are_refused_and_the_limit_covers_all_includes(tmp_path: Path) -> None:
    write(tmp_path / "big.conf", "[big]\n" + "x=1\n" * 30)  # 126 bytes
    write(tmp_path / "small.conf", "[small]\ny=2\n")  # 12 bytes
    top = write(tmp_path / "iax.conf", "#include big.conf\n#include small.conf\n#include small.conf\n")  # 58
    cfg = load_config(top, max_bytes=80)
    assert [(d.severity, d.origin) for d in cfg.diagnostics] == [
        (Severity.ERROR, Origin(str(top), 1)), (Severity.ERROR, Origin(str(top), 3))]
    assert messages(cfg)[0] == (
        f"{top}:1: error: included file {tmp_path / 'big.conf'} is too large: 126 bytes, and a "
        "config with its includes may hold 80 bytes (58 bytes were read before it); "
        "PBXEDGE_CONFIG_MAX_BYTES sets the limit; not included")
    # 58 + 12 fits, 58 + 12 + 12 does not.
    assert "small.conf is too large: 12 bytes" in messages(cfg)[1]
    assert [c.name for c in cfg.categories] == ["small"]


def test_a_top_level_file_over_the_limit_is_a_config_error(tmp_path: Path) -> None:
    top = write(tmp_path / "iax.conf", "[a]\nx=1\n")
    with pytest.raises(ConfigError) as info:
        load_config(top, max_bytes=4)
    assert str(info.value) == (f"error: config file {top} is too large: 8 bytes, and a config with "
                               "its includes may hold 4 bytes; PBXEDGE_CONFIG_MAX_BYTES sets the limit")


def test_the_size_limit_is_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top = write(tmp_path / "iax.conf", "[a]\nx=1\n")
    monkeypatch.setenv("PBXEDGE_CONFIG_MAX_BYTES", "4")
    with pytest.raises(ConfigError, match="may hold 4 bytes"):
        load_config(top)
    monkeypatch.setenv("PBXEDGE_CONFIG_MAX_BYTES", "four")
    with pytest.raises(ConfigError, match="PBXEDGE_CONFIG_MAX_BYTES must be a positive number"):
        load_config(top)


def test_files_that_each_include_the_next_twice_stop_at_the_inclusion_limit(tmp_path: Path) -> None:
    # 2**25 inclusions if nothing stops them.
    for n in range(1, 26):
        write(tmp_path / f"f{n}.conf", f"[s{n}]\n#include f{n + 1}.conf\n#include f{n + 1}.conf\n")
    write(tmp_path / "f26.conf", "[leaf]\n")
    with fails_instead_of_hanging(120):
        cfg = load_config(tmp_path / "f1.conf")
    assert len(cfg.diagnostics) == 1
    diag = cfg.diagnostics[0]
    assert diag.severity is Severity.ERROR and diag.origin is not None
    assert diag.message.startswith(f"more than {MAX_INCLUDED_FILES} files included in one load")
    assert diag.message.endswith("and every later include are skipped")
    assert diag.origin.file.startswith(str(tmp_path / "f"))
    assert len(cfg.categories) == MAX_INCLUDED_FILES + 1


def test_includes_nest_at_most_the_depth_limit(tmp_path: Path) -> None:
    depth = MAX_INCLUDE_DEPTH + 5
    for n in range(depth):
        write(tmp_path / f"d{n}.conf", f"[d{n}]\n#include d{n + 1}.conf\n")
    write(tmp_path / f"d{depth}.conf", "[deepest]\n")
    cfg = load_config(tmp_path / "d0.conf")
    assert [d.message.split(";")[0] for d in cfg.diagnostics] == [
        f"includes nested more than {MAX_INCLUDE_DEPTH} deep"]
    assert len(cfg.categories) == MAX_INCLUDE_DEPTH + 1
