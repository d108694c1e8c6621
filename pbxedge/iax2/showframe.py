"""Asterisk's ``iax2 set debug`` frame dump (parser.c ``iax_showframe``, reference iax2.md §9).

Operators paste this layout into bug reports and compare it with Asterisk's, so names, widths
and per-IE value formats copy Asterisk's, quirks included (e.g. CHALLENGE as hex escapes,
two spaces in DATE TIME, MUSICONHOLD shown as an unknown IE because Asterisk's table lacks it).
One difference: Asterisk prints string IEs byte for byte, so a peer can put a newline or a
terminal escape into the dump; here unprintable characters and bytes that are not UTF-8
are shown as ``\\xNN`` (:func:`pbxedge.log.printable`).
"""

from __future__ import annotations

from collections.abc import Callable

from pbxedge.iax2.codecs import codec_name, codec_prefs_decode
from pbxedge.iax2.enums import IE, FrameType, IaxSubclass
from pbxedge.iax2.frames import Frame, FullFrame, compress_subclass
from pbxedge.iax2.ies import decode_sockaddr
from pbxedge.log import printable

__all__ = ["format_addr", "show_frame", "show_ies"]

_TYPE_NAMES = (
    "(0?)", "DTMF_E ", "VOICE  ", "VIDEO  ", "CONTROL", "NULL   ", "IAX    ", "TEXT   ",
    "IMAGE  ", "HTML   ", "CNG    ", "MODEM  ", "DTMF_B ",
)  # fmt: skip

_CONTROL_NAMES = (
    "(0?)", "HANGUP ", "RING   ", "RINGING", "ANSWER ", "BUSY   ", "TKOFFHK", "OFFHOOK",
    "CONGSTN", "FLASH  ", "WINK   ", "OPTION ", "RDKEY  ", "RDUNKEY", "PROGRES", "PROCDNG",
    "HOLD   ", "UNHOLD ", "VIDUPDT", "T38    ", "SRCUPDT", "TXFER  ", "CNLINE ", "REDIR  ",
    "T38PARM", "CC ERR!", "SRCCHG ", "READACT", "AOC    ", "ENDOFQ ", "INCOMPL", "MCID   ",
    "UPDRTPP", "PCAUSEC",
)  # fmt: skip

_IAX_NAMES: dict[int, str] = {
    IaxSubclass.NEW: "NEW    ",
    IaxSubclass.PING: "PING   ",
    IaxSubclass.PONG: "PONG   ",
    IaxSubclass.ACK: "ACK    ",
    IaxSubclass.HANGUP: "HANGUP ",
    IaxSubclass.REJECT: "REJECT ",
    IaxSubclass.ACCEPT: "ACCEPT ",
    IaxSubclass.AUTHREQ: "AUTHREQ",
    IaxSubclass.AUTHREP: "AUTHREP",
    IaxSubclass.INVAL: "INVAL  ",
    IaxSubclass.LAGRQ: "LAGRQ  ",
    IaxSubclass.LAGRP: "LAGRP  ",
    IaxSubclass.REGREQ: "REGREQ ",
    IaxSubclass.REGAUTH: "REGAUTH",
    IaxSubclass.REGACK: "REGACK ",
    IaxSubclass.REGREJ: "REGREJ ",
    IaxSubclass.REGREL: "REGREL ",
    IaxSubclass.VNAK: "VNAK   ",
    IaxSubclass.DPREQ: "DPREQ  ",
    IaxSubclass.DPREP: "DPREP  ",
    IaxSubclass.DIAL: "DIAL   ",
    IaxSubclass.TXREQ: "TXREQ  ",
    IaxSubclass.TXCNT: "TXCNT  ",
    IaxSubclass.TXACC: "TXACC  ",
    IaxSubclass.TXREADY: "TXREADY",
    IaxSubclass.TXREL: "TXREL  ",
    IaxSubclass.TXREJ: "TXREJ  ",
    IaxSubclass.QUELCH: "QUELCH ",
    IaxSubclass.UNQUELCH: "UNQUELCH",
    IaxSubclass.POKE: "POKE   ",
    IaxSubclass.PAGE: "PAGE   ",
    IaxSubclass.MWI: "MWI    ",
    IaxSubclass.UNSUPPORT: "UNSPRTD",
    IaxSubclass.TRANSFER: "TRANSFR",
    IaxSubclass.PROVISION: "PROVISN",
    IaxSubclass.FWDOWNL: "FWDWNLD",
    IaxSubclass.FWDATA: "FWDATA ",
    IaxSubclass.TXMEDIA: "TXMEDIA",
    IaxSubclass.RTKEY: "RTKEY  ",
    IaxSubclass.CALLTOKEN: "CTOKEN ",
}


# -- per-IE value formatters (parser.c dump_*) ----------------------------------------------
def _c_string(data: bytes) -> bytes:
    # strncpy semantics: a NUL ends the string.
    return data.split(b"\0", 1)[0]


def _dump_string(data: bytes) -> str:
    return printable(_c_string(data), limit=None)


def _dump_string_hex(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)


def _dump_int(data: bytes) -> str:
    return str(int.from_bytes(data, "big")) if len(data) == 4 else "Invalid INT"


def _dump_short(data: bytes) -> str:
    return str(int.from_bytes(data, "big")) if len(data) == 2 else "Invalid SHORT"


def _dump_byte(data: bytes) -> str:
    return str(data[0]) if len(data) == 1 else "Invalid BYTE"


def _dump_datetime(data: bytes) -> str:
    if len(data) != 4:
        return "Invalid DATETIME format!"
    val = int.from_bytes(data, "big")
    # Printed field by field, as strftime prints Asterisk's unchecked struct tm.
    return (
        f"{2000 + ((val >> 25) & 0x7F):04d}-{(val >> 21) & 0x0F:02d}-{(val >> 16) & 0x1F:02d}"
        f"  {(val >> 11) & 0x1F:02d}:{(val >> 5) & 0x3F:02d}:{(val & 0x1F) << 1:02d}"
    )


def format_addr(host: str, port: int) -> str:
    """``ast_sockaddr_stringify``: ``1.2.3.4:5`` or ``[::1]:5``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _dump_addr(data: bytes) -> str:
    decoded = decode_sockaddr(data)
    if decoded is None:
        return "Invalid Address"
    host, port = decoded
    return f"{'IPV6' if ':' in host else 'IPV4'} {format_addr(host, port)}"


def _format_name(mask: int) -> str:
    """``iax2_getformatname``: the name of exactly one known codec bit, else Unknown."""
    name = codec_name(mask)
    return "Unknown" if name.startswith("unknown(") else name


def _dump_versioned_codec(data: bytes) -> str:
    if not data:
        return "Invalid length!"
    if data[0] != 0:
        return "Unknown version!"
    if len(data) != 9:
        return "Invalid length!"
    return _format_name(int.from_bytes(data[1:], "big"))


def _dump_prefs(data: bytes) -> str:
    names: list[str] = []
    for ch in _c_string(data).decode("utf-8", "replace"):
        # Asterisk stops at the first letter that maps to no codec.
        decoded = codec_prefs_decode(ch)
        if not decoded:
            break
        name = _format_name(decoded[0])
        if name not in names:
            names.append(name)
    return "(" + "|".join(names) + ")"


def _dump_samprate(data: bytes) -> str:
    if len(data) != 2:
        return "Invalid SHORT"
    rate = int.from_bytes(data, "big")
    labels = ("8khz", "11.025khz", "16khz", "22.05khz", "44.1khz", "48khz")
    chosen = [label for bit, label in enumerate(labels) if rate & (1 << bit)]
    return ",".join(chosen) if chosen else "None Specified!\n"


def _dump_ipaddr(data: bytes) -> str:
    decoded = decode_sockaddr(data)
    return "Invalid IPADDR" if decoded is None else format_addr(*decoded)


_PROV_FLAG_NAMES = (
    "register", "secure", "heartbeat", "debug",
    "disablecid", "disablecw", "disablecidcw", "disable3way",
)  # fmt: skip


def _dump_prov_flags(data: bytes) -> str:
    if len(data) != 4:
        return "Invalid INT"
    flags = int.from_bytes(data, "big")
    names = [name for bit, name in enumerate(_PROV_FLAG_NAMES) if flags & (1 << bit)]
    return f"{flags} ({','.join(names) or 'none'})"


def _dump_prov(data: bytes) -> str:
    """parser.c ``dump_prov_ies``: nested IAXy provisioning IEs, one indented line each."""
    if len(data) < 2:
        return ""
    # Asterisk's loop stops with 2 bytes left, so a lone 2-byte tail is skipped.
    lines, _ = _ie_lines(data, _PROV_TABLE, indent="       ", kind="Prov ", tail_skipped=2)
    return "".join(["\n", *lines])


_Dumper = Callable[[bytes], str] | None

# parser.c infoelts[]: name and formatter; a None formatter prints "N bytes" or "Present".
_IE_TABLE: dict[int, tuple[str, _Dumper]] = {
    IE.CALLED_NUMBER: ("CALLED NUMBER", _dump_string),
    IE.CALLING_NUMBER: ("CALLING NUMBER", _dump_string),
    IE.CALLING_ANI: ("ANI", _dump_string),
    IE.CALLING_NAME: ("CALLING NAME", _dump_string),
    IE.CALLED_CONTEXT: ("CALLED CONTEXT", _dump_string),
    IE.USERNAME: ("USERNAME", _dump_string),
    IE.PASSWORD: ("PASSWORD", _dump_string),
    IE.CAPABILITY: ("CAPABILITY", _dump_int),
    IE.CAPABILITY2: ("CAPABILITY2", _dump_versioned_codec),
    IE.FORMAT: ("FORMAT", _dump_int),
    IE.FORMAT2: ("FORMAT2", _dump_versioned_codec),
    IE.LANGUAGE: ("LANGUAGE", _dump_string),
    IE.VERSION: ("VERSION", _dump_short),
    IE.ADSICPE: ("ADSICPE", _dump_short),
    IE.DNID: ("DNID", _dump_string),
    IE.AUTHMETHODS: ("AUTHMETHODS", _dump_short),
    IE.CHALLENGE: ("CHALLENGE", _dump_string_hex),
    IE.MD5_RESULT: ("MD5 RESULT", _dump_string),
    IE.RSA_RESULT: ("RSA RESULT", _dump_string),
    IE.APPARENT_ADDR: ("APPARENT ADDRESS", _dump_addr),
    IE.REFRESH: ("REFRESH", _dump_short),
    IE.DPSTATUS: ("DIALPLAN STATUS", _dump_short),
    IE.CALLNO: ("CALL NUMBER", _dump_short),
    IE.CAUSE: ("CAUSE", _dump_string),
    IE.IAX_UNKNOWN: ("UNKNOWN IAX CMD", _dump_byte),
    IE.MSGCOUNT: ("MESSAGE COUNT", _dump_short),
    IE.AUTOANSWER: ("AUTO ANSWER REQ", None),
    IE.TRANSFERID: ("TRANSFER ID", _dump_int),
    IE.RDNIS: ("REFERRING DNIS", _dump_string),
    IE.PROVISIONING: ("PROVISIONING", _dump_prov),
    IE.AESPROVISIONING: ("AES PROVISIONING", None),
    IE.DATETIME: ("DATE TIME", _dump_datetime),
    IE.DEVICETYPE: ("DEVICE TYPE", _dump_string),
    IE.SERVICEIDENT: ("SERVICE IDENT", _dump_string),
    IE.FIRMWAREVER: ("FIRMWARE VER", _dump_short),
    IE.FWBLOCKDESC: ("FW BLOCK DESC", _dump_int),
    IE.FWBLOCKDATA: ("FW BLOCK DATA", None),
    IE.PROVVER: ("PROVISIONING VER", _dump_int),
    IE.CALLINGPRES: ("CALLING PRESNTN", _dump_byte),
    IE.CALLINGTON: ("CALLING TYPEOFNUM", _dump_byte),
    IE.CALLINGTNS: ("CALLING TRANSITNET", _dump_short),
    IE.CALLINGANI2: ("CALLING ANI2", _dump_int),
    IE.SAMPLINGRATE: ("SAMPLINGRATE", _dump_samprate),
    IE.CAUSECODE: ("CAUSE CODE", _dump_byte),
    IE.ENCRYPTION: ("ENCRYPTION", _dump_short),
    IE.ENCKEY: ("ENCRYPTION KEY", None),
    IE.CODEC_PREFS: ("CODEC_PREFS", _dump_prefs),
    IE.RR_JITTER: ("RR_JITTER", _dump_int),
    IE.RR_LOSS: ("RR_LOSS", _dump_int),
    IE.RR_PKTS: ("RR_PKTS", _dump_int),
    IE.RR_DELAY: ("RR_DELAY", _dump_short),
    IE.RR_DROPPED: ("RR_DROPPED", _dump_int),
    IE.RR_OOO: ("RR_OUTOFORDER", _dump_int),
    IE.VARIABLE: ("VARIABLE", _dump_string),
    IE.OSPTOKEN: ("OSPTOKEN", None),
    IE.CALLTOKEN: ("CALLTOKEN", None),
}

# provision.h PROV_IE_* and parser.c prov_ies[]; ids 8 and 9 are missing there too.
_PROV_TABLE: dict[int, tuple[str, _Dumper]] = {
    1: ("USEDHCP", None),
    2: ("IPADDR", _dump_ipaddr),
    3: ("SUBNET", _dump_ipaddr),
    4: ("GATEWAY", _dump_ipaddr),
    5: ("BINDPORT", _dump_short),
    6: ("USERNAME", _dump_string),
    7: ("PASSWORD", _dump_string),
    10: ("LANGUAGE", _dump_string),
    11: ("TYPEOFSERVICE", _dump_byte),
    12: ("FLAGS", _dump_prov_flags),
    13: ("FORMAT", _dump_int),
    14: ("AESKEY", None),
    15: ("SERVERIP", _dump_ipaddr),
    16: ("SERVERPORT", _dump_short),
    17: ("NEWAESKEY", None),
    18: ("PROV VERSION", _dump_int),
    19: ("ALTSERVERIP", _dump_ipaddr),
}


def _dump_value(dumper: _Dumper, value: bytes) -> str:
    """A formatted value, or Asterisk's fallback for IEs it has no formatter for."""
    if dumper is not None:
        return dumper(value)
    return f"{len(value)} bytes" if value else "Present"


def _ie_lines(
    data: bytes,
    table: dict[int, tuple[str, _Dumper]],
    *,
    indent: str,
    kind: str,
    tail_skipped: int,
) -> tuple[list[str], bool]:
    """The IE walk ``dump_ies`` and ``dump_prov_ies`` share; False when an IE overran."""
    lines: list[str] = []
    pos = 0
    remaining = len(data)
    while remaining > tail_skipped:
        ie, length = data[pos], data[pos + 1]
        if length + 2 > remaining:
            lines.append(
                f"Total {kind}IE length of {length + 2} bytes exceeds remaining "
                f"{kind.lower()}frame length of {remaining} bytes\n"
            )
            return lines, False
        value = data[pos + 2 : pos + 2 + length]
        entry = table.get(ie)
        if entry is None:
            lines.append(f"{indent}Unknown {kind}IE {ie:03d}  : Present\n")
        else:
            lines.append(f"{indent}{entry[0][:15]:<15} : {_dump_value(entry[1], value)}\n")
        pos += 2 + length
        remaining -= 2 + length
    return lines, True


def show_ies(data: bytes) -> str:
    """parser.c ``dump_ies``: one line per IE, then a blank line (nothing for < 2 bytes)."""
    if len(data) < 2:
        return ""
    lines, complete = _ie_lines(data, _IE_TABLE, indent="   ", kind="", tail_skipped=1)
    # An overrunning IE ends the dump at once, without the closing blank line.
    return "".join(lines) + ("\n" if complete else "")


def _subclass_text(frame: FullFrame, csub: int) -> str:
    if frame.frametype in (FrameType.DTMF_BEGIN, FrameType.DTMF_END):
        return chr(csub)
    if frame.frametype == FrameType.IAX:
        return _IAX_NAMES.get(csub, "Unknown")
    if frame.frametype == FrameType.CONTROL:
        return _CONTROL_NAMES[csub] if csub < len(_CONTROL_NAMES) else f"({csub}?)"
    return str(csub)


def show_frame(
    frame: Frame,
    direction: str,
    addr: tuple[str, int],
    retries: int | None = None,
) -> str:
    """The dump of one full frame ("" for mini and meta frames, as Asterisk prints none).

    *direction* is ``Tx``/``Rx``, or ``TE``/``RD`` for encrypted out / decrypted in. With
    *retries* (transmit side) the Retry field is ``%03d``; without it, the R bit (Yes/ No).
    """
    if not isinstance(frame, FullFrame):
        return ""
    if retries is not None:
        retry_text = f"{retries:03d}"
    else:
        retry_text = "Yes" if frame.retransmitted else " No"
    type_name = (
        _TYPE_NAMES[frame.frametype]
        if 0 <= frame.frametype < len(_TYPE_NAMES)
        else f"({frame.frametype}?)"
    )
    csub = compress_subclass(frame.subclass)
    text = (
        f"{direction}-Frame Retry[{retry_text}] -- OSeqno: {frame.oseqno:03d} "
        f"ISeqno: {frame.iseqno:03d} Type: {type_name} Subclass: {_subclass_text(frame, csub)}\n"
        f"   Timestamp: {frame.timestamp:05d}ms  SCall: {frame.source_call:05d}  "
        f"DCall: {frame.dest_call:05d} {format_addr(*addr)}\n"
    )
    if frame.frametype == FrameType.IAX:
        text += show_ies(frame.payload)
    return text
