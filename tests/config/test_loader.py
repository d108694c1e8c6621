from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbxedge.config.diagnostics import ConfigError, Origin, Severity
from pbxedge.config.loader import Category, ConfigFile, load_config, parse_config_text


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
