from __future__ import annotations

import pytest

from pbxedge.config.values import (
    ParsedRegister,
    ValueFormError,
    parse_bool,
    parse_callerid,
    parse_host_port,
    parse_int,
    parse_ms_switch,
    parse_register,
    parse_setvar,
    parse_tos,
)


@pytest.mark.parametrize("text", ["yes", "YES", "true", "True", "1", "on", "ON", "y", "t", " yes "])
def test_true_forms(text: str) -> None:
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["no", "No", "false", "0", "off", "OFF", "n", "f"])
def test_false_forms(text: str) -> None:
    assert parse_bool(text) is False


@pytest.mark.parametrize("text", ["maybe", "", "2", "yess"])
def test_bad_bool_names_accepted_forms(text: str) -> None:
    with pytest.raises(ValueFormError, match="accepted: yes/no, true/false, on/off, 1/0"):
        parse_bool(text)


def test_int_bounds() -> None:
    assert parse_int("4569", minimum=1, maximum=65535) == 4569
    assert parse_int("-1", minimum=-1) == -1
    with pytest.raises(ValueFormError, match="from 1 to 65535"):
        parse_int("0", minimum=1, maximum=65535)
    with pytest.raises(ValueFormError, match="a whole number"):
        parse_int("abc")
    with pytest.raises(ValueFormError):
        parse_int("12ms")


@pytest.mark.parametrize(("text", "ms"), [("yes", 2000), ("no", 0), ("500", 500), ("0", 0), ("1", 1), ("On", 2000)])
def test_ms_switch(text: str, ms: int) -> None:
    assert parse_ms_switch(text, yes_ms=2000) == ms


def test_ms_switch_rejects_words() -> None:
    with pytest.raises(ValueFormError, match="milliseconds"):
        parse_ms_switch("maybe", yes_ms=2000)


@pytest.mark.parametrize(
    ("text", "tos"),
    [("ef", 0xB8), ("EF", 0xB8), ("cs3", 0x60), ("af41", 0x88), ("cs0", 0), ("0x18", 0x18), ("184", 184)],
)
def test_tos(text: str, tos: int) -> None:
    assert parse_tos(text) == tos


@pytest.mark.parametrize("text", ["lowdelay", "256", "af44", "-1", ""])
def test_bad_tos(text: str) -> None:
    with pytest.raises(ValueFormError, match="DSCP name"):
        parse_tos(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"Mark Spencer" <(256) 428-6275>', ("Mark Spencer", "(256) 428-6275")),
        ("Mark Spencer <1234>", ("Mark Spencer", "1234")),
        ("<1001>", (None, "1001")),
        ('"Guest IAX User"', ("Guest IAX User", None)),
        ("Guest IAX User", ("Guest IAX User", None)),
        ("2001", (None, "2001")),
        ('"IAX Modem" <8005551212>', ("IAX Modem", "8005551212")),
        ('"" <>', (None, None)),
    ],
)
def test_callerid(text: str, expected: tuple[str | None, str | None]) -> None:
    assert parse_callerid(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", None)),
        ("127.0.0.1:4570", ("127.0.0.1", 4570)),
        ("example.net:5036", ("example.net", 5036)),
        ("::1", ("::1", None)),
        ("[::1]", ("::1", None)),
        ("[2001:db8::1]:4569", ("2001:db8::1", 4569)),
    ],
)
def test_host_port(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["", "host:", "host:0", "host:99999", "[::1", "[::1]x", "[nothost]:1", "a b:1", "1:2:zz"])
def test_bad_host_port(text: str) -> None:
    with pytest.raises(ValueFormError):
        parse_host_port(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("marko:secret@tormenta.example:4570", ParsedRegister("marko", "secret", None, "tormenta.example", 4570)),
        ("marko:[torkey]@tormenta.example", ParsedRegister("marko", None, "torkey", "tormenta.example", None)),
        ("joe@remotehost:5656", ParsedRegister("joe", None, None, "remotehost", 5656)),
        ("joe@remotehost", ParsedRegister("joe", None, None, "remotehost", None)),
        ("u:p:w@h", ParsedRegister("u", "p:w", None, "h", None)),
        ("u:s@[2001:db8::1]:4570", ParsedRegister("u", "s", None, "2001:db8::1", 4570)),
        ("u@2001:db8::2", ParsedRegister("u", None, None, "2001:db8::2", None)),
        ("u:s@h@ignored", ParsedRegister("u", "s", None, "h", None)),
    ],
)
def test_register(text: str, expected: ParsedRegister) -> None:
    assert parse_register(text) == expected


@pytest.mark.parametrize("text", ["nohost", "@host", ":s@host", "u:s@", "u@host:abc"])
def test_bad_register(text: str) -> None:
    with pytest.raises(ValueFormError, match=r"user\[:secret\]@host\[:port\]"):
        parse_register(text)


def test_setvar() -> None:
    assert parse_setvar("ATTENDED_TRANSFER_COMPLETE_SOUND=beep") == ("ATTENDED_TRANSFER_COMPLETE_SOUND", "beep")
    assert parse_setvar("A=b=c") == ("A", "b=c")
    with pytest.raises(ValueFormError, match="NAME=value"):
        parse_setvar("novalue")


def test_a_bad_value_is_quoted_only_as_a_short_escaped_excerpt() -> None:
    with pytest.raises(ValueFormError) as info:
        parse_bool("\x1b[2J" + "y" * 5000)
    assert str(info.value).startswith("'\\x1b[2J" + "y" * 56 + "…' is not valid; accepted: ")
    assert info.value.value.endswith("y" * 5000)
