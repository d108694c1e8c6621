"""The NEW frame's IEs: building one the way Asterisk 22 does, and reading one into a request.

Order and defaults follow ``iax2_call`` (chan_iax2.c 5205-5428) as captured from Asterisk
22.10.1 (iax2.md §7.2, §15.8). The empty CALLTOKEN IE that ends every NEW is appended by the
endpoint, which owns the call-token exchange, not here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from pbxedge.iax2.codecs import Codec, codec_prefs_decode, codec_prefs_encode
from pbxedge.iax2.enums import IE
from pbxedge.iax2.ies import IEList

__all__ = [
    "ADSICPE_UNAVAILABLE",
    "PRES_ALLOWED_USER_NUMBER_PASSED_SCREEN",
    "PRES_NUMBER_NOT_AVAILABLE",
    "PROTOCOL_VERSION",
    "CallRequest",
    "build_new",
    "parse_new",
    "shrink_phone_number",
]

PROTOCOL_VERSION = 2
# AST_PRES_NUMBER_NOT_AVAILABLE: what Asterisk sends when the call has no caller id.
PRES_NUMBER_NOT_AVAILABLE = 0x43
# AST_PRES_ALLOWED_USER_NUMBER_PASSED_SCREEN: seen on every captured NEW with a caller id.
PRES_ALLOWED_USER_NUMBER_PASSED_SCREEN = 0x01
# AST_ADSI_UNAVAILABLE: a channel with no ADSI CPE, which is every channel pbxedge creates.
ADSICPE_UNAVAILABLE = 2
_MASK32 = 0xFFFFFFFF


def build_new(
    called: str,
    *,
    prefs: Sequence[Codec],
    capability: int,
    format: int,
    now_datetime: datetime,
    username: str | None = None,
    calling_number: str | None = None,
    calling_name: str | None = None,
    calling_pres: int | None = None,
    calling_ton: int = 0,
    calling_tns: int = 0,
    calling_ani2: int = 0,
    ani: str | None = None,
    language: str | None = None,
    dnid: str | None = None,
    rdnis: str | None = None,
    context: str | None = None,
    encryption: int = 0,
    autoanswer: bool = False,
    variables: Mapping[str, str] | None = None,
) -> IEList:
    """The NEW's IEs in exactly Asterisk 22's order, without the trailing CALLTOKEN.

    *ani* is sent only when given (the caller passes it when the peer has ``sendani=yes``);
    *calling_pres* defaults to 0x43 without a caller number and 0x01 with one. 64-bit
    masks are truncated in FORMAT/CAPABILITY and sent whole in FORMAT2/CAPABILITY2.
    """
    if calling_pres is None:
        calling_pres = (
            PRES_ALLOWED_USER_NUMBER_PASSED_SCREEN if calling_number else PRES_NUMBER_NOT_AVAILABLE
        )
    ies = IEList()
    ies.add_u16(IE.VERSION, PROTOCOL_VERSION)
    ies.add_str(IE.CALLED_NUMBER, called or "s")
    if autoanswer:
        ies.add_empty(IE.AUTOANSWER)
    ies.add_str(IE.CODEC_PREFS, codec_prefs_encode(prefs))
    if calling_number:
        ies.add_str(IE.CALLING_NUMBER, calling_number)
    ies.add_u8(IE.CALLINGPRES, calling_pres)
    ies.add_u8(IE.CALLINGTON, calling_ton)
    ies.add_u16(IE.CALLINGTNS, calling_tns)
    ies.add_u32(IE.CALLINGANI2, calling_ani2)
    _add_optional(ies, IE.CALLING_NAME, calling_name)
    _add_optional(ies, IE.CALLING_ANI, ani)
    _add_optional(ies, IE.LANGUAGE, language)
    _add_optional(ies, IE.DNID, dnid)
    _add_optional(ies, IE.RDNIS, rdnis)
    _add_optional(ies, IE.CALLED_CONTEXT, context)
    _add_optional(ies, IE.USERNAME, username)
    if encryption:
        ies.add_u16(IE.ENCRYPTION, encryption)
    ies.add_u32(IE.FORMAT, format & _MASK32)
    ies.add_u64_versioned(IE.FORMAT2, format)
    ies.add_u32(IE.CAPABILITY, capability & _MASK32)
    ies.add_u64_versioned(IE.CAPABILITY2, capability)
    ies.add_u16(IE.ADSICPE, ADSICPE_UNAVAILABLE)
    ies.add_datetime(IE.DATETIME, now_datetime)
    for name, value in (variables or {}).items():
        ies.add_variable(name, value)
    return ies


def _add_optional(ies: IEList, ie: IE, value: str | None) -> None:
    # Asterisk tests ast_strlen_zero() before each of these, so "" is never sent.
    if value:
        ies.add_str(ie, value)


def shrink_phone_number(number: str) -> str:
    """``ast_shrink_phone_number``: drop ``(``, ``)``, spaces, a non-trailing ``.``, and a
    ``-`` outside square brackets (``shrinkcallerid=yes``, Asterisk's default)."""
    out: list[str] = []
    depth = 0
    last = len(number) - 1
    for index, ch in enumerate(number):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "-":
            if not depth:
                continue
        elif ch == ".":
            if index != last:
                continue
        elif ch in "( )":
            continue
        out.append(ch)
    return "".join(out)


class CallRequest(NamedTuple):
    """An incoming NEW, typed. Absent string IEs read as None, except *exten* ("s").

    A named tuple, not a frozen dataclass: it is built once per call setup, and a frozen
    dataclass sets its 22 fields one ``object.__setattr__`` call at a time.
    """

    version: int | None
    exten: str
    called_context: str | None
    calling_number: str | None
    calling_name: str | None
    ani: str | None
    dnid: str | None
    rdnis: str | None
    language: str | None
    username: str | None
    format: int
    capability: int
    prefs: tuple[Codec, ...]
    encryption: int
    calling_pres: int | None
    calling_ton: int | None
    calling_tns: int | None
    calling_ani2: int | None
    adsicpe: int | None
    autoanswer: bool
    datetime: datetime | None
    variables: dict[str, str]

    @property
    def version_supported(self) -> bool:
        """check_access() refuses a NEW whose VERSION is above ours (a missing one passes)."""
        return self.version is None or self.version <= PROTOCOL_VERSION


def parse_new(ies: IEList, *, shrink_callerid: bool = True) -> CallRequest:
    """Read a NEW's IEs the way ``check_access`` copies them into the call (7940-7990).

    FORMAT2/CAPABILITY2 win over the 32-bit IEs when present (parser.c 844-851); without
    any CAPABILITY the peer's capability falls back to its format.
    """
    fmt = _u64_or_u32(ies, IE.FORMAT2, IE.FORMAT)
    capability = _u64_or_u32(ies, IE.CAPABILITY2, IE.CAPABILITY)
    if not (ies.has(IE.CAPABILITY2) or ies.has(IE.CAPABILITY)):
        capability = fmt
    calling_number = ies.get_str(IE.CALLING_NUMBER)
    if calling_number is not None and shrink_callerid:
        calling_number = shrink_phone_number(calling_number)
    prefs_text = ies.get_str(IE.CODEC_PREFS)
    return CallRequest(
        version=ies.get_u16(IE.VERSION),
        exten=ies.get_str(IE.CALLED_NUMBER) or "s",
        called_context=ies.get_str(IE.CALLED_CONTEXT),
        calling_number=calling_number,
        calling_name=ies.get_str(IE.CALLING_NAME),
        ani=ies.get_str(IE.CALLING_ANI),
        dnid=ies.get_str(IE.DNID),
        rdnis=ies.get_str(IE.RDNIS),
        language=ies.get_str(IE.LANGUAGE),
        username=ies.get_str(IE.USERNAME),
        format=fmt,
        capability=capability,
        prefs=tuple(codec_prefs_decode(prefs_text)) if prefs_text else (),
        encryption=ies.get_u16(IE.ENCRYPTION) or 0,
        calling_pres=ies.get_u8(IE.CALLINGPRES),
        calling_ton=ies.get_u8(IE.CALLINGTON),
        calling_tns=ies.get_u16(IE.CALLINGTNS),
        calling_ani2=ies.get_u32(IE.CALLINGANI2),
        adsicpe=ies.get_u16(IE.ADSICPE),
        autoanswer=ies.has(IE.AUTOANSWER),
        datetime=ies.get_datetime(IE.DATETIME),
        variables=ies.get_variables(),
    )


def _u64_or_u32(ies: IEList, ie64: IE, ie32: IE) -> int:
    value = ies.get_u64_versioned(ie64)
    if value is None:
        value = ies.get_u32(ie32)
    return value or 0
