"""Typed readers for Asterisk option values.

Each reader takes the raw text and returns a Python value, or raises
:class:`ValueFormError` whose message lists the forms that are accepted, so the caller
can report ``file:line: error: bindport: 'abc' is not ...; accepted: ...``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from pbxedge.config.diagnostics import excerpt

__all__ = [
    "BOOL_FORMS",
    "ParsedRegister",
    "ValueFormError",
    "parse_bool",
    "parse_callerid",
    "parse_choice",
    "parse_host_port",
    "parse_int",
    "parse_ms_switch",
    "parse_register",
    "parse_setvar",
    "parse_tos",
]

BOOL_FORMS = "yes/no, true/false, on/off, 1/0 (any case)"
_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})
_FALSE = frozenset({"no", "false", "n", "f", "0", "off"})


class ValueFormError(ValueError):
    """A value that does not have any of the accepted forms."""

    def __init__(self, value: str, accepted: str) -> None:
        super().__init__(f"'{excerpt(value)}' is not valid; accepted: {accepted}")
        self.value = value
        self.accepted = accepted


def parse_bool(value: str) -> bool:
    """Asterisk's ``ast_true``/``ast_false``: yes/no, true/false, y/n, t/f, 1/0, on/off."""
    key = value.strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueFormError(value, BOOL_FORMS)


def parse_int(value: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A decimal integer, optionally bounded (bounds inclusive)."""
    text = value.strip()
    if re.fullmatch(r"[+-]?\d+", text) is None:
        raise ValueFormError(value, _int_forms(minimum, maximum))
    number = int(text)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ValueFormError(value, _int_forms(minimum, maximum))
    return number


def _int_forms(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a whole number from {minimum} to {maximum}"
    if minimum is not None:
        return f"a whole number >= {minimum}"
    return "a whole number"


def parse_ms_switch(value: str, *, yes_ms: int) -> int:
    """``autokill=``/``qualify=``: yes -> *yes_ms*, no -> 0 (off), or milliseconds."""
    key = value.strip().lower()
    if key in _TRUE and key != "1":
        return yes_ms
    if key in _FALSE and key != "0":
        return 0
    try:
        return parse_int(value, minimum=0)
    except ValueFormError:
        raise ValueFormError(value, f"{BOOL_FORMS} (yes = {yes_ms} ms), or milliseconds") from None


def parse_choice(value: str, choices: tuple[str, ...]) -> str:
    """One of *choices*, case-insensitive; returns the canonical spelling."""
    key = value.strip().lower()
    for choice in choices:
        if key == choice.lower():
            return choice
    raise ValueFormError(value, ", ".join(choices))


# DSCP code points by name (ast_str2tos); the TOS byte carries DSCP << 2.
_DSCP = {
    **{f"cs{n}": n * 8 for n in range(8)},
    **{f"af{c}{d}": c * 8 + d * 2 for c in range(1, 5) for d in range(1, 4)},
    "ef": 46,
}
TOS_FORMS = "a number 0-255 (decimal or 0x hex), or a DSCP name: ef, cs0-cs7, af11-af43"


def parse_tos(value: str) -> int:
    """``tos=``: a DSCP name (ef, cs3, af41…) or a raw TOS byte as a number."""
    key = value.strip().lower()
    if key in _DSCP:
        return _DSCP[key] << 2
    try:
        number = int(key, 0)
    except ValueError:
        raise ValueFormError(value, TOS_FORMS) from None
    if not 0 <= number <= 255:
        raise ValueFormError(value, TOS_FORMS)
    return number


_CALLERID = re.compile(r"^(?P<name>.*?)\s*<(?P<number>[^<>]*)>\s*$")


def parse_callerid(value: str) -> tuple[str | None, str | None]:
    """``"Name" <number>`` -> (name, number), like ``ast_callerid_split``.

    ``Name <number>``, ``<number>``, a bare number and a bare name are accepted; parts that
    are missing come back as None.
    """
    text = value.strip()
    match = _CALLERID.match(text)
    if match is not None:
        name = _unquote(match["name"].strip())
        number = match["number"].strip()
        return (name or None, number or None)
    if re.fullmatch(r"[0-9*#+()\-. ]+", text) and any(ch.isdigit() for ch in text):
        return (None, text)
    name = _unquote(text)
    return (name or None, None)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].strip()
    return text


HOST_PORT_FORMS = "host, host:port, IPv6 address or [IPv6]:port"


def parse_host_port(value: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, a bare IPv6 address, or ``[ipv6]:port``."""
    text = value.strip()
    if not text:
        raise ValueFormError(value, HOST_PORT_FORMS)
    if text.startswith("["):
        closing = text.find("]")
        if closing < 0:
            raise ValueFormError(value, HOST_PORT_FORMS)
        host, rest = text[1:closing], text[closing + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueFormError(value, HOST_PORT_FORMS)
        port_text = rest[1:] if rest else None
        _check_ip(host, value)
    elif text.count(":") > 1:
        _check_ip(text, value)
        return (text, None)
    elif ":" in text:
        host, port_text = text.split(":", 1)
    else:
        host, port_text = text, None
    if not host or any(ch.isspace() for ch in host):
        raise ValueFormError(value, HOST_PORT_FORMS)
    if port_text is None:
        return (host, None)
    try:
        return (host, parse_int(port_text, minimum=1, maximum=65535))
    except ValueFormError:
        raise ValueFormError(value, f"{HOST_PORT_FORMS}; port 1-65535") from None


def _check_ip(host: str, value: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise ValueFormError(value, HOST_PORT_FORMS) from None


@dataclass(frozen=True, slots=True)
class ParsedRegister:
    username: str
    secret: str | None
    key: str | None
    host: str
    port: int | None


REGISTER_FORMS = "user[:secret]@host[:port] or user:[rsakeyname]@host[:port]"


def parse_register(value: str) -> ParsedRegister:
    """A ``register =>`` value (reference §6.1): split at the first ``@``.

    Anything after a second ``@`` is ignored, as Asterisk does. The secret may be an RSA
    key name in brackets.
    """
    text = value.strip()
    if "@" not in text:
        raise ValueFormError(value, REGISTER_FORMS)
    credentials, _, hostpart = text.partition("@")
    hostpart = hostpart.split("@", 1)[0]
    username, has_secret, secret_text = credentials.partition(":")
    username = username.strip()
    if not username:
        raise ValueFormError(value, REGISTER_FORMS)
    secret: str | None = None
    key: str | None = None
    if has_secret:
        secret_text = secret_text.strip()
        if secret_text.startswith("[") and secret_text.endswith("]") and len(secret_text) > 2:
            key = secret_text[1:-1]
        elif secret_text:
            secret = secret_text
    try:
        host, port = parse_host_port(hostpart)
    except ValueFormError:
        raise ValueFormError(value, REGISTER_FORMS) from None
    return ParsedRegister(username, secret, key, host, port)


def parse_setvar(value: str) -> tuple[str, str]:
    """``setvar=NAME=value`` -> (NAME, value)."""
    name, equals, content = value.partition("=")
    if not equals or not name.strip():
        raise ValueFormError(value, "NAME=value")
    return (name.strip(), content.strip())
