"""Turn the categories of an ``iax.conf`` into :class:`IaxConfig`, with diagnostics.

Each option name maps to a handler that reads the value with a typed reader and stores
it in a field dict; a value that does not fit becomes an error naming ``file:line`` and
the accepted forms, and the default stays. ``[general]`` is read first because users and
peers start from its values (codecs, encryption, transfer, language…), as in Asterisk.
A ``type=friend`` section is fed to both the user and the peer tables (chan_iax2.c
14134-14162).

A big deployment has hundreds of thousands of entries, mostly made from a few templates,
so work and values are shared: the lines a template gives its sections are read once for
all of them, the two halves of a friend share their parsed caller ID, and entries share
equal codec lists, contexts and ACLs.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Callable
from typing import Any

from pbxedge.acl import Acl, AclSyntaxError, parse_network
from pbxedge.config.codec_lists import CodecSelection, apply_codec_list
from pbxedge.config.diagnostics import Diagnostic, Origin, Severity, excerpt
from pbxedge.config.iax_models import (
    AUTOKILL_YES_MS,
    IAX_DEFAULT_PORT,
    QUALIFY_YES_MS,
    RTAUTOCLEAR_YES_S,
    AuthMethods,
    BindAddr,
    CallNumberLimit,
    General,
    IaxConfig,
    Peer,
    Registration,
    User,
)
from pbxedge.config.iax_options import NOT_IMPLEMENTED, OBSOLETE
from pbxedge.config.loader import Category, ConfigFile, Variable
from pbxedge.config.values import (
    BOOL_FORMS,
    ValueFormError,
    parse_bool,
    parse_callerid,
    parse_choice,
    parse_host_port,
    parse_int,
    parse_ms_switch,
    parse_register,
    parse_setvar,
    parse_tos,
)
from pbxedge.iax2.codecs import BANDWIDTH_HIGH, BANDWIDTH_LOW, BANDWIDTH_MEDIUM

__all__ = ["build_iax_config", "build_section"]

Fields = dict[str, Any]
Sink = list[Diagnostic]
Handler = Callable[[Fields, Variable, Sink], None]
Reader = Callable[[str], Any]

# ---------------------------------------------------------------- value readers ---


def _text(value: str) -> str:
    return value.strip()


def _int_at_least(minimum: int) -> Reader:
    return lambda value: parse_int(value, minimum=minimum)


def _int_between(minimum: int, maximum: int) -> Reader:
    return lambda value: parse_int(value, minimum=minimum, maximum=maximum)


def _port(value: str) -> int:
    return parse_int(value, minimum=1, maximum=65535)


def _trunkmtu(value: str) -> int:
    # chan_iax2.c 13964-13972: 0 turns the limit off, otherwise 172-3999.
    mtu = parse_int(value, minimum=0, maximum=3999)
    if 0 < mtu < 172:
        raise ValueFormError(value, "0 (no limit) or a whole number from 172 to 3999")
    return mtu


def _auth(value: str) -> AuthMethods:
    # get_auth_methods looks for the substrings, so "md5,rsa" and "rsa md5" both work.
    text = value.lower()
    methods = AuthMethods(0)
    for word, method in (("rsa", AuthMethods.RSA), ("md5", AuthMethods.MD5), ("plaintext", AuthMethods.PLAINTEXT)):
        if word in text:
            methods |= method
    if not methods:
        raise ValueFormError(value, "a combination of md5, rsa and plaintext, e.g. md5,rsa")
    return methods


def _encryption(value: str) -> bool:
    if value.strip().lower() == "aes128":
        return True
    try:
        return parse_bool(value)
    except ValueFormError:
        raise ValueFormError(value, f"aes128 or {BOOL_FORMS}") from None


def _bool_or_choice(extra: tuple[str, ...], yes: str, no: str) -> Reader:
    def read(value: str) -> str:
        try:
            return parse_choice(value, extra)
        except ValueFormError:
            pass
        try:
            return yes if parse_bool(value) else no
        except ValueFormError:
            raise ValueFormError(value, f"{', '.join(extra)} or {BOOL_FORMS}") from None

    return read


_transfer = _bool_or_choice(("mediaonly",), "yes", "no")
_requirecalltoken = _bool_or_choice(("auto",), "yes", "no")
_connectedline = _bool_or_choice(("send", "receive"), "yes", "no")


def _codecpriority(value: str) -> str:
    return parse_choice(value, ("host", "caller", "disabled", "reqonly"))


def _amaflags(value: str) -> str:
    return parse_choice(value, ("default", "omit", "billing", "documentation"))


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueFormError(value, "an IPv4 or IPv6 address") from None


def _netmask(value: str) -> str:
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{value.strip()}")
    except ValueError:
        raise ValueFormError(value, "an IPv4 netmask such as 255.255.255.0") from None
    return value.strip()


def _network(value: str) -> Any:
    try:
        return parse_network(value)
    except AclSyntaxError as exc:
        raise ValueFormError(value, "ip, ip/prefix or ip/netmask (IPv4 or IPv6)") from exc


def _rtautoclear(value: str) -> int:
    # chan_iax2 13961: a number is that many seconds, otherwise yes = 120 s and no = off.
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        return RTAUTOCLEAR_YES_S if parse_bool(text) else 0
    except ValueFormError:
        raise ValueFormError(value, f"a number of seconds or {BOOL_FORMS}") from None


def _systemname(value: str) -> str:
    text = value.strip()
    # It prefixes unique IDs and names this node in the shared table: no spaces or commas.
    if not text or any(ch.isspace() or ch in ",;'\"\\" for ch in text) or len(text) > 40:
        raise ValueFormError(value, "a name of at most 40 characters without spaces or quotes")
    return text


def _hostname(value: str) -> str:
    text = value.strip()
    if not text or any(ch.isspace() for ch in text):
        raise ValueFormError(value, "dynamic, a host name or an IP address")
    return text


# ---------------------------------------------------------------- handlers ---


def _set(field: str, reader: Reader) -> Handler:
    def handle(fields: Fields, var: Variable, sink: Sink) -> None:
        fields[field] = reader(var.value)

    return handle


def _append(field: str, reader: Reader) -> Handler:
    def handle(fields: Fields, var: Variable, sink: Sink) -> None:
        value = reader(var.value)
        fields[field] = [*fields.get(field, []), value]

    return handle


def _acl(permit: bool) -> Handler:
    def handle(fields: Fields, var: Variable, sink: Sink) -> None:
        try:
            fields["acl"] = fields.get("acl", Acl()).extended(var.value, permit=permit)
        except AclSyntaxError as exc:
            raise ValueFormError(var.value, "ip, ip/prefix or ip/netmask (IPv4 or IPv6), comma list, '!' inverts") from exc

    return handle


def _codecs(allowing: bool) -> Handler:
    def handle(fields: Fields, var: Variable, sink: Sink) -> None:
        selection: CodecSelection = fields["_codecs"]
        apply_codec_list(selection, var.value, allowing=allowing)
        for note in selection.notes:
            sink.append(Diagnostic(Severity.WARNING, note, var.origin))
        selection.notes.clear()

    return handle


def _bandwidth(fields: Fields, var: Variable, sink: Sink) -> None:
    masks = {"low": BANDWIDTH_LOW, "medium": BANDWIDTH_MEDIUM, "high": BANDWIDTH_HIGH}
    fields["_codecs"].mask = masks[parse_choice(var.value, ("low", "medium", "high"))]


# Read once for both halves of a friend, which then share the strings.
_parse_callerid = functools.lru_cache(maxsize=64)(parse_callerid)


def _callerid(fields: Fields, var: Variable, sink: Sink) -> None:
    if var.value.strip().lower() == "asreceived":
        fields["callerid_name"] = fields["callerid_number"] = None
        return
    fields["callerid_name"], fields["callerid_number"] = _parse_callerid(var.value)


def _inkeys(fields: Fields, var: Variable, sink: Sink) -> None:
    fields["inkeys"] = [key.strip() for key in var.value.split(":") if key.strip()]


def _forceencryption(fields: Fields, var: Variable, sink: Sink) -> None:
    # forceencryption=yes (or aes128) also enables encryption; =no only drops the force.
    if _encryption(var.value):
        fields["encryption"] = fields["forceencryption"] = True
    else:
        fields["forceencryption"] = False


def _host(fields: Fields, var: Variable, sink: Sink) -> None:
    host = _hostname(var.value)
    if host.lower() == "dynamic":
        fields["host"], fields["dynamic"] = None, True
    else:
        fields["host"], fields["dynamic"] = host, False


BINDADDR_FORMS = "an IP address, ip:port, or [ipv6]:port (no host names)"


def _bindaddr(fields: Fields, var: Variable, sink: Sink) -> None:
    try:
        host, port = parse_host_port(var.value)
        # Asterisk parses bindaddr as a numeric address; a name would never be bound.
        host = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueFormError(var.value, BINDADDR_FORMS) from None
    # A bindaddr without a port uses the bindport in effect at this line, which is why the
    # sample says bindport must come first.
    fields.setdefault("bindaddrs", []).append(BindAddr(host=host, port=port or fields.get("bindport", IAX_DEFAULT_PORT)))


METRICS_DEFAULT_PORT = 9099
METRICS_FORMS = "an IP address with an optional port (default 9099), e.g. 127.0.0.1:9099"


def _metrics(fields: Fields, var: Variable, sink: Sink) -> None:
    if var.value.strip().lower() in ("", "no", "off", "false"):
        fields["metrics"] = None
        return
    try:
        host, port = parse_host_port(var.value)
        host = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueFormError(var.value, METRICS_FORMS) from None
    fields["metrics"] = BindAddr(host=host, port=port or METRICS_DEFAULT_PORT)


def _bindport(fields: Fields, var: Variable, sink: Sink) -> None:
    fields["bindport"] = _port(var.value)
    if fields.get("bindaddrs"):
        sink.append(
            Diagnostic(
                Severity.WARNING,
                "bindport after bindaddr does not change the port of the earlier bindaddr lines",
                var.origin,
            )
        )


def _register(fields: Fields, var: Variable, sink: Sink) -> None:
    parsed = parse_register(var.value)
    fields.setdefault("_registrations", []).append(
        Registration(
            username=parsed.username,
            secret=parsed.secret,
            key=parsed.key,
            host=parsed.host,
            port=parsed.port or IAX_DEFAULT_PORT,
            origin=var.origin,
        )
    )


# ---------------------------------------------------------------- option tables ---

_BOOL = parse_bool

_CHANNEL_DEFAULTS: dict[str, Handler] = {
    "language": _set("language", _text),
    "accountcode": _set("accountcode", _text),
    "amaflags": _set("amaflags", _amaflags),
    "mohinterpret": _set("mohinterpret", _text),
    "mohsuggest": _set("mohsuggest", _text),
    "parkinglot": _set("parkinglot", _text),
    "adsi": _set("adsi", _BOOL),
    "connectedline": _set("connectedline", _connectedline),
    "transfer": _set("transfer", _transfer),
    "jitterbuffer": _set("jitterbuffer", _BOOL),
    "encryption": _set("encryption", _encryption),
    "forceencryption": _forceencryption,
    "allow": _codecs(True),
    "disallow": _codecs(False),
}

GENERAL_OPTIONS: dict[str, Handler] = {
    **_CHANNEL_DEFAULTS,
    "bindport": _bindport,
    "bindaddr": _bindaddr,
    "tos": _set("tos", parse_tos),
    "pingtime": _set("pingtime", _int_at_least(1)),
    "lagrqtime": _set("lagrqtime", _int_at_least(1)),
    "autokill": _set("autokill_ms", lambda v: parse_ms_switch(v, yes_ms=AUTOKILL_YES_MS)),
    "maxjitterbuffer": _set("maxjitterbuffer", _int_at_least(0)),
    "resyncthreshold": _set("resyncthreshold", _int_at_least(-1)),
    "maxjitterinterps": _set("maxjitterinterps", _int_at_least(0)),
    "jittertargetextra": _set("jittertargetextra", _int_at_least(0)),
    "register": _register,
    "minregexpire": _set("minregexpire", _int_at_least(1)),
    "maxregexpire": _set("maxregexpire", _int_at_least(1)),
    "regcontext": _set("regcontext", _text),
    "auth": _set("auth", _auth),
    "authdebug": _set("authdebug", _BOOL),
    "delayreject": _set("delayreject", _BOOL),
    "maxauthreq": _set("maxauthreq", _int_at_least(0)),
    "bandwidth": _bandwidth,
    "codecpriority": _set("codecpriority", _codecpriority),
    "trunkfreq": _set("trunkfreq", _int_between(10, 1000)),
    "trunkmtu": _set("trunkmtu", _trunkmtu),
    "trunkmaxsize": _set("trunkmaxsize", _int_at_least(0)),
    "trunktimestamps": _set("trunktimestamps", _BOOL),
    "calltokenoptional": _append("calltokenoptional", _network),
    "calltokenexpiration": _set("calltokenexpiration", _int_at_least(1)),
    "maxcallnumbers": _set("maxcallnumbers", _int_at_least(1)),
    "maxcallnumbers_nonvalidated": _set("maxcallnumbers_nonvalidated", _int_at_least(1)),
    "context": _set("context", _text),
    "srvlookup": _set("srvlookup", _BOOL),
    "shrinkcallerid": _set("shrinkcallerid", _BOOL),
    "iaxcompat": _set("iaxcompat", _BOOL),
    "subscribe_network_change_event": _set("subscribe_network_change_event", _BOOL),
    "metrics": _metrics,
    "systemname": _set("systemname", _systemname),
    "rtcachefriends": _set("rtcachefriends", _BOOL),
    "rtupdate": _set("rtupdate", _BOOL),
    "rtsavesysname": _set("rtsavesysname", _BOOL),
    "rtautoclear": _set("rtautoclear", _rtautoclear),
    "rtignoreregexpire": _set("rtignoreregexpire", _BOOL),
    "rtreach": _set("rtreach", lambda v: parse_choice(v, ("auto", "direct", "regserver"))),
}

_ENTRY_COMMON: dict[str, Handler] = {
    **_CHANNEL_DEFAULTS,
    "permit": _acl(True),
    "deny": _acl(False),
    "trunk": _set("trunk", _BOOL),
    "auth": _set("auth", _auth),
    "dbsecret": _set("dbsecret", _text),
    "callerid": _callerid,
    "fullname": _set("callerid_name", _text),
    "cid_number": _set("callerid_number", _text),
    "inkeys": _inkeys,
    "requirecalltoken": _set("requirecalltoken", _requirecalltoken),
    "sendani": _set("sendani", _BOOL),
}

USER_OPTIONS: dict[str, Handler] = {
    **_ENTRY_COMMON,
    "context": _append("contexts", _text),
    "secret": _append("secrets", _text),
    "setvar": _append("setvars", parse_setvar),
    "codecpriority": _set("codecpriority", _codecpriority),
    "immediate": _set("immediate", _BOOL),
    "maxauthreq": _set("maxauthreq", _int_at_least(0)),
}

PEER_OPTIONS: dict[str, Handler] = {
    **_ENTRY_COMMON,
    "context": _set("context", _text),
    "secret": _set("secret", _text),
    "host": _host,
    "defaultip": _set("defaultip", _ip_address),
    "sourceaddress": _set("sourceaddress", _text),
    "mask": _set("mask", _netmask),
    "port": _set("port", _port),
    "username": _set("username", _text),
    "outkey": _set("outkey", _text),
    "peercontext": _set("peercontext", _text),
    "regexten": _set("regexten", _text),
    "mailbox": _set("mailbox", _text),
    "description": _set("description", _text),
    "timezone": _set("timezone", _text),
    "qualify": _set("qualify_ms", lambda v: parse_ms_switch(v, yes_ms=QUALIFY_YES_MS)),
    "qualifysmoothing": _set("qualifysmoothing", _BOOL),
    "qualifyfreqok": _set("qualifyfreqok", _int_at_least(1)),
    "qualifyfreqnotok": _set("qualifyfreqnotok", _int_at_least(1)),
    "maxcallnumbers": _set("maxcallnumbers", _int_at_least(0)),
}

# What a user or a peer starts from before its own lines are read.
_USER_INHERITS = (
    "codecpriority", "transfer", "encryption", "forceencryption", "language", "accountcode",
    "amaflags", "mohinterpret", "mohsuggest", "parkinglot", "adsi", "connectedline",
    "maxauthreq", "jitterbuffer",
)
_PEER_INHERITS = (
    "transfer", "encryption", "forceencryption", "mohinterpret", "mohsuggest", "parkinglot",
    "adsi", "connectedline", "jitterbuffer",
)

# Entry fields whose values repeat across entries; secrets are mostly unique and only frozen.
_SHARED_FIELDS = ("prefs", "contexts", "inkeys", "setvars", "acl")

_TABLES = {"general": GENERAL_OPTIONS, "user": USER_OPTIONS, "peer": PEER_OPTIONS}
_KINDS = {"user": ("user",), "peer": ("peer",), "friend": ("user", "peer")}


# ---------------------------------------------------------------- the builder ---


def _copy_fields(fields: Fields) -> Fields:
    # Handlers replace values rather than change them, except the codec selection.
    copy = dict(fields)
    selection: CodecSelection = fields["_codecs"]
    copy["_codecs"] = CodecSelection(selection.mask, selection.prefs)
    return copy


def build_iax_config(cfg: ConfigFile) -> tuple[IaxConfig, list[Diagnostic]]:
    """Build the typed config; content problems are returned, never raised."""
    builder = _Builder(cfg)
    return builder.build(), builder.diagnostics


def build_section(section: Category, general: General) -> tuple[IaxConfig, list[Diagnostic]]:
    """One user/peer/friend section read against an existing ``[general]``: how accounts
    kept elsewhere (a Realtime table row) become the same models as iax.conf's."""
    builder = _Builder(ConfigFile(section.origin.file))
    config = IaxConfig(path=section.origin.file, general=general)
    builder.build_entry(section, general, config)
    return config, builder.diagnostics


class _Builder:
    def __init__(self, cfg: ConfigFile) -> None:
        self.cfg = cfg
        self.diagnostics: list[Diagnostic] = list(cfg.diagnostics)
        self.file_label = os.path.basename(cfg.path) or cfg.path
        # One instance of each distinct immutable value the entries hold (see share()).
        self.shared: dict[Any, Any] = {}
        # Fields after the inherited lines, by the kinds and the identity of those lines.
        self.starts: dict[tuple[Any, ...], list[Fields]] = {}

    def warn(self, message: str, origin: Origin | None) -> None:
        self.diagnostics.append(Diagnostic(Severity.WARNING, message, origin))

    def error(self, message: str, origin: Origin | None) -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, message, origin))

    def build(self) -> IaxConfig:
        sections = self.cfg.sections()
        general_sections = [s for s in sections if s.name.lower() == "general"]
        general, registrations = self.build_general(general_sections)
        config = IaxConfig(path=self.cfg.path, general=general, registrations=registrations)
        for section in sections:
            lowered = section.name.lower()
            if lowered == "general":
                continue
            if lowered == "callnumberlimits":
                config.callnumberlimits.extend(self.build_limits(section))
                continue
            self.build_entry(section, general, config)
        return config

    # -- [general] ---------------------------------------------------------------

    def build_general(self, sections: list[Category]) -> tuple[General, list[Registration]]:
        fields: Fields = {"_codecs": CodecSelection(BANDWIDTH_HIGH, [])}
        for extra in sections[1:]:
            self.warn(
                "a second [general] section: Asterisk would ignore it (use [general](+) to add "
                "to the first); pbxedge reads it as a continuation",
                extra.origin,
            )
        for section in sections:
            for var in section.variables:
                self.apply(var, ("general",), [fields], "[general]")
        selection: CodecSelection = fields.pop("_codecs")
        registrations: list[Registration] = fields.pop("_registrations", [])
        fields["capability"], fields["prefs"] = selection.mask, selection.prefs
        if not fields.get("bindaddrs"):
            fields["bindaddrs"] = [BindAddr(host="0.0.0.0", port=fields.get("bindport", IAX_DEFAULT_PORT))]
        general = General(**fields)
        if general.minregexpire > general.maxregexpire:
            origin = self.origin_of(sections, "minregexpire")
            self.warn(
                f"minregexpire ({general.minregexpire}) is more than maxregexpire "
                f"({general.maxregexpire}); using {general.maxregexpire} for both",
                origin,
            )
            general.minregexpire = general.maxregexpire
        if general.auth is not None and general.auth & AuthMethods.PLAINTEXT:
            self.warn_plaintext("[general]", self.origin_of(sections, "auth"))
        return general, registrations

    @staticmethod
    def origin_of(sections: list[Category], name: str) -> Origin | None:
        for section in reversed(sections):
            var = section.get(name)
            if var is not None:
                return var.origin
        return None

    # -- one option line ------------------------------------------------------------

    def apply(self, var: Variable, kinds: tuple[str, ...], targets: list[Fields], where: str) -> None:
        name = var.name.lower()
        if name in OBSOLETE:
            self.warn(f"option '{var.name}' is obsolete and has no effect in pbxedge: {OBSOLETE[name]}", var.origin)
            return
        handled = False
        for kind, fields in zip(kinds, targets, strict=True):
            handler = _TABLES[kind].get(name)
            if handler is None:
                continue
            if not handled and name in NOT_IMPLEMENTED:
                self.warn(f"option '{var.name}' is not implemented by pbxedge yet", var.origin)
            handled = True
            try:
                handler(fields, var, self.diagnostics)
            except ValueFormError as exc:
                self.error(f"{var.name}: {exc}", var.origin)
                return  # a friend's peer half would only repeat the same error
        if not handled:
            self.warn_misplaced(var, name, where)

    def warn_misplaced(self, var: Variable, name: str, where: str) -> None:
        homes = [kind for kind, table in _TABLES.items() if name in table]
        if name == "type" and where == "[general]":
            self.warn("option 'type' has no effect in [general]", var.origin)
        elif name == "host" and var.value.strip().lower() == "dynamic" and "type=user" in where:
            # The classic two-way trunk mistake: a REGREQ only ever looks for a peer.
            self.warn(f"host=dynamic in {where}: a type=user can never register (a "
                      "registration looks for a peer); use type=friend for an entry that "
                      "registers and calls", var.origin)
        elif homes:
            places = " or ".join("[general]" if k == "general" else f"type={k} sections" for k in homes)
            self.warn(f"option '{var.name}' has no effect in {where}; it belongs in {places}", var.origin)
        else:
            self.warn(f"unknown option '{excerpt(var.name)}' in {where} (ignored)", var.origin)

    # -- users, peers, friends ---------------------------------------------------------

    def build_entry(self, section: Category, general: General, config: IaxConfig) -> None:
        type_var = section.get("type")
        if type_var is None:
            self.warn(f"Section '{excerpt(section.name)}' lacks type", section.origin)
            return
        try:
            kind = parse_choice(type_var.value, ("user", "peer", "friend"))
        except ValueFormError as exc:
            self.error(f"type: {exc}; section '{excerpt(section.name)}' skipped", type_var.origin)
            return
        kinds = _KINDS[kind]
        where = f"a type={kind} section ([{excerpt(section.name)}])"
        targets = self.entry_start(kinds, section.variables[: section.inherited], general, where)
        for var in section.variables[section.inherited :]:
            if var.name.lower() != "type":
                self.apply(var, kinds, targets, where)
        for entry_kind, fields in zip(kinds, targets, strict=True):
            self.finish_entry(entry_kind, section, fields, general, config, first=entry_kind == kinds[0])

    def entry_start(
        self, kinds: tuple[str, ...], inherited: list[Variable], general: General, where: str
    ) -> list[Fields]:
        """The fields of each half after the defaults and the lines inherited from templates.

        Every section made from one template starts from the same fields, so they are worked
        out once and copied, unless the template's lines gave diagnostics: those name the
        section, so each section reads the lines itself and repeats them.
        """
        key = (kinds, *map(id, inherited))  # the variables live as long as the build
        start = self.starts.get(key)
        if start is None:
            start = [self.entry_defaults(kind, general) for kind in kinds]
            before = len(self.diagnostics)
            for var in inherited:
                if var.name.lower() != "type":
                    self.apply(var, kinds, start, where)
            if len(self.diagnostics) > before:
                return start
            self.starts[key] = start
        return [_copy_fields(fields) for fields in start]

    @staticmethod
    def entry_defaults(kind: str, general: General) -> Fields:
        inherited = _USER_INHERITS if kind == "user" else _PEER_INHERITS
        fields: Fields = {name: getattr(general, name) for name in inherited}
        fields["_codecs"] = CodecSelection(general.capability, general.prefs)
        return fields

    def finish_entry(
        self, kind: str, section: Category, fields: Fields, general: General, config: IaxConfig, *, first: bool
    ) -> None:
        selection: CodecSelection = fields.pop("_codecs")
        fields["capability"], fields["prefs"] = selection.mask, selection.prefs
        if kind == "user":
            if not fields.get("contexts"):
                fields["contexts"] = [general.context]
            if "secrets" in fields:
                fields["secrets"] = tuple(fields["secrets"])
        for field in _SHARED_FIELDS:
            if field in fields:
                fields[field] = self.share(fields[field])
        if "auth" not in fields:
            fields["auth"] = general.auth if general.auth is not None else self.default_auth(kind, fields)
        has_secret = bool(fields.get("secrets") or fields.get("secret") or fields.get("dbsecret"))
        if first:
            self.check_encryption(section, fields, has_secret)
        if fields["auth"] & AuthMethods.PLAINTEXT and (auth_var := section.get("auth")) is not None:
            self.warn_plaintext(f"{kind} '{section.name}'", auth_var.origin)
        name = section.name
        if kind == "user":
            self.store(config.users, User(name=name, origin=section.origin, **fields), "user")
        else:
            if fields.get("host") is None and not fields.get("dynamic"):
                self.warn(
                    f"peer '{name}' has no host= (use host=dynamic for a peer that registers); it cannot be reached",
                    section.origin,
                )
            self.store(config.peers, Peer(name=name, origin=section.origin, **fields), "peer")

    def share(self, value: Any) -> Any:
        """*value* (a list is frozen into a tuple), as the one instance of its value."""
        if isinstance(value, list):
            value = tuple(value)
        return self.shared.setdefault(value, value)

    @staticmethod
    def default_auth(kind: str, fields: Fields) -> AuthMethods:
        # Reference §4.1 (chan_iax2.c 13587-13598 for users, 13307 for peers).
        if kind == "peer":
            return AuthMethods.MD5
        if fields.get("secrets") and fields.get("inkeys"):
            return AuthMethods.MD5 | AuthMethods.RSA
        if fields.get("inkeys"):
            return AuthMethods.RSA
        return AuthMethods.MD5

    def check_encryption(self, section: Category, fields: Fields, has_secret: bool) -> None:
        if not fields.get("forceencryption"):
            return
        force_var = section.get("forceencryption")
        origin = force_var.origin if force_var is not None else section.origin
        inherited = "" if force_var is not None else " (forceencryption=yes comes from [general])"
        if not has_secret:
            self.error(
                f"'{section.name}' forces encryption but has no secret: the AES key is derived "
                f"from the secret, so every call would be refused{inherited}",
                origin,
            )
        if fields.get("trunk"):
            trunk_var = section.get("trunk")
            self.error(
                f"'{section.name}' has trunk=yes with forceencryption: IAX2 never encrypts "
                "trunked audio (meta trunk frames carry no encryption), so the two cannot be "
                f"combined{inherited}",
                trunk_var.origin if trunk_var is not None else origin,
            )

    def warn_plaintext(self, who: str, origin: Origin | None) -> None:
        # Asterisk's wording, less its "at line N of iax.conf": the origin already says so.
        self.warn(f"Auth method for {who} is set to deprecated 'plaintext'", origin)

    def store(self, table: dict[str, Any], entry: User | Peer, kind: str) -> None:
        previous = table.get(entry.name)
        if previous is not None:
            self.warn(
                f"{kind} '{entry.name}' is defined again; this definition replaces the one at {previous.origin}",
                entry.origin,
            )
        table[entry.name] = entry

    # -- [callnumberlimits] ---------------------------------------------------------

    def build_limits(self, section: Category) -> list[CallNumberLimit]:
        limits: list[CallNumberLimit] = []
        for var in section.variables:
            try:
                network = _network(var.name)
                limit = parse_int(var.value, minimum=0)
            except ValueFormError as exc:
                self.error(f"[callnumberlimits] expects 'ip/mask = number': {exc}", var.origin)
                continue
            limits.append(CallNumberLimit(network=network, limit=limit, origin=var.origin))
        return limits
