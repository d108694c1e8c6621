"""``manager.conf`` beside iax.conf: the Asterisk Manager Interface's listener and users
(reference ami.md §1). Without the file, or with ``enabled=no``, there is no listener.

``[general]`` keys: ``enabled``, ``port``, ``bindaddr``, ``displayconnects``,
``timestampevents``, ``allowmultiplelogin``, ``authtimeout``, ``authlimit``, ``channelvars``.
Every other section is a user: ``secret``, ``read``, ``write``, ``permit``/``deny``,
``writetimeout`` (ms, at least 100), ``eventfilter``, ``setvar``, ``displayconnects``,
``allowmultiplelogin``. A user gets no class it is not given (Asterisk's ``get_perm`` of a
missing ``read=`` is nothing). Options Asterisk has and pbxedge does not (AMI over HTTP or
TLS, named ACLs) are warned about with their file:line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pbxedge.acl import Acl, AclSyntaxError
from pbxedge.config.diagnostics import ConfigError, Diagnostic, Origin, Severity
from pbxedge.config.loader import Category, Variable, load_config
from pbxedge.config.values import ValueFormError, parse_bool, parse_int, parse_setvar
from pbxedge.manager.filters import EventFilter, FilterError, parse_filter
from pbxedge.manager.permissions import parse_classes, unknown_classes

__all__ = ["ManagerConfig", "ManagerUser", "load_manager_config"]

DEFAULT_PORT = 5038
MIN_WRITETIMEOUT_MS = 100
# Accepted for compatibility; they change nothing here (AMI over HTTP and TLS do not exist).
_IGNORED_GENERAL = ("webenabled", "httptimeout", "brokeneventsaction", "debug",
                    "tlsenable", "tlsbindaddr", "tlscertfile", "tlsprivatekey", "tlscipher",
                    "tlscafile", "tlscapath", "tlsverifyclient", "tlsdontverifyserver",
                    "sslenable", "sslbindaddr", "sslcert", "sslcipher", "disabledevents")
_UNSUPPORTED_WHEN_TRUE = {"webenabled": "AMI over HTTP", "tlsenable": "AMI over TLS",
                          "sslenable": "AMI over TLS"}


@dataclass(frozen=True)
class ManagerUser:
    name: str
    secret: str | None = None
    acl: Acl = field(default_factory=Acl)
    read: int = 0
    write: int = 0
    writetimeout_ms: int = MIN_WRITETIMEOUT_MS
    filters: tuple[EventFilter, ...] = ()
    setvars: tuple[tuple[str, str], ...] = ()
    displayconnects: bool | None = None  # None: [general]'s
    allowmultiplelogin: bool | None = None
    origin: Origin | None = None


@dataclass(frozen=True)
class ManagerConfig:
    enabled: bool = False
    port: int = DEFAULT_PORT
    bindaddr: str | None = None  # None: every address (Asterisk's default)
    displayconnects: bool = True
    timestampevents: bool = False
    allowmultiplelogin: bool = True
    authtimeout: int = 30  # seconds an unauthenticated connection may stay
    authlimit: int = 50  # unauthenticated connections at once
    channelvars: tuple[str, ...] = ()
    users: dict[str, ManagerUser] = field(default_factory=dict)  # by lowercase name

    def user(self, name: str) -> ManagerUser | None:
        return self.users.get(name.lower())


class _Reader:
    """Collects the problems of one file while its values are read."""

    def __init__(self) -> None:
        self.problems: list[Diagnostic] = []

    def warn(self, message: str, origin: Origin | None) -> None:
        self.problems.append(Diagnostic(Severity.WARNING, message, origin))

    def error(self, message: str, origin: Origin | None) -> None:
        self.problems.append(Diagnostic(Severity.ERROR, message, origin))

    def boolean(self, variable: Variable) -> bool | None:
        try:
            return parse_bool(variable.value)
        except ValueFormError as exc:
            self.error(f"{variable.name}: {exc}", variable.origin)
            return None

    def integer(self, variable: Variable, minimum: int, maximum: int | None = None) -> int | None:
        try:
            return parse_int(variable.value, minimum=minimum, maximum=maximum)
        except ValueFormError as exc:
            self.error(f"{variable.name}: {exc}", variable.origin)
            return None

    def classes(self, variable: Variable) -> int:
        for word in unknown_classes(variable.value):
            self.warn(f"{variable.name}: '{word}' is no manager class; ignored", variable.origin)
        return parse_classes(variable.value)


def _general(category: Category, reader: _Reader) -> dict[str, object]:
    values: dict[str, object] = {}
    for variable in category.variables:
        key = variable.name.lower()
        if key in ("enabled", "displayconnects", "timestampevents", "allowmultiplelogin"):
            flag = reader.boolean(variable)
            if flag is not None:
                values[key] = flag
        elif key == "port":
            port = reader.integer(variable, 1, 65535)
            if port is not None:
                values["port"] = port
        elif key == "bindaddr":
            address = variable.value.strip().strip("[]")
            values["bindaddr"] = None if address in ("", "::", "0.0.0.0") else address
        elif key in ("authtimeout", "authlimit"):
            number = reader.integer(variable, 1)
            if number is not None:
                values[key] = number
        elif key == "channelvars":
            values["channelvars"] = tuple(
                name.strip() for name in variable.value.split(",") if name.strip())
        elif key in _IGNORED_GENERAL:
            what = _UNSUPPORTED_WHEN_TRUE.get(key)
            if what is not None and reader.boolean(variable):
                reader.warn(f"{variable.name}: {what} is not supported; ignored",
                            variable.origin)
        else:
            reader.warn(f"unknown option '{variable.name}' in [general]", variable.origin)
    return values


def _user(category: Category, reader: _Reader) -> ManagerUser:
    values: dict[str, object] = {}
    acl = Acl()
    filters: list[EventFilter] = []
    setvars: list[tuple[str, str]] = []
    for variable in category.variables:
        key = variable.name.lower()
        if key == "secret":
            values["secret"] = variable.value
        elif key in ("read", "write"):
            values[key] = reader.classes(variable)
        elif key in ("permit", "deny"):
            try:
                acl = acl.extended(variable.value, permit=key == "permit")
            except AclSyntaxError as exc:
                reader.error(f"{variable.name}: {exc}", variable.origin)
        elif key == "writetimeout":
            timeout = reader.integer(variable, 0)
            if timeout is not None and timeout < MIN_WRITETIMEOUT_MS:
                reader.warn(f"writetimeout {timeout} is below {MIN_WRITETIMEOUT_MS} ms; "
                            f"{MIN_WRITETIMEOUT_MS} is used", variable.origin)
                timeout = MIN_WRITETIMEOUT_MS
            if timeout is not None:
                values["writetimeout_ms"] = timeout
        elif key == "eventfilter" or key.startswith("eventfilter("):
            try:
                filters.append(parse_filter(variable.name, variable.value))
            except FilterError as exc:
                reader.error(f"eventfilter: {exc}", variable.origin)
        elif key == "setvar":
            try:
                setvars.append(parse_setvar(variable.value))
            except ValueFormError as exc:
                reader.error(f"setvar: {exc}", variable.origin)
        elif key in ("displayconnects", "allowmultiplelogin"):
            flag = reader.boolean(variable)
            if flag is not None:
                values[key] = flag
        elif key == "acl":
            reader.warn("acl: named ACLs (acl.conf) are not supported; use permit/deny",
                        variable.origin)
        else:
            reader.warn(f"unknown option '{variable.name}' for manager user "
                        f"'{category.name}'", variable.origin)
    return ManagerUser(category.name, acl=acl, filters=tuple(filters), setvars=tuple(setvars),
                       origin=category.origin, **values)  # type: ignore[arg-type]


def load_manager_config(path: Path) -> tuple[ManagerConfig, list[Diagnostic]]:
    """Read *path*; a missing file is a disabled manager, not a problem."""
    if not path.is_file():
        return ManagerConfig(), []
    try:
        config = load_config(path)
    except ConfigError as exc:
        return ManagerConfig(), exc.diagnostics
    reader = _Reader()
    reader.problems.extend(config.diagnostics)
    general: dict[str, object] = {}
    users: dict[str, ManagerUser] = {}
    for category in config.sections():
        if category.name.lower() == "general":
            general.update(_general(category, reader))
            continue
        user = _user(category, reader)
        if user.name.lower() in users:
            reader.warn(f"manager user '{user.name}' is defined again; the later one is used",
                        category.origin)
        users[user.name.lower()] = user
    return ManagerConfig(users=users, **general), reader.problems  # type: ignore[arg-type]
