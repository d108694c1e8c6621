"""``extconfig.conf``, ``res_pgsql.conf`` and ``cdr_pgsql.conf``, read as Asterisk reads them.

``extconfig.conf [settings]`` binds a *family* to a driver, a database and a table::

    iaxusers   => pgsql,general,iaxfriends
    iaxpeers   => pgsql,general,iaxfriends
    extensions => pgsql,general,extensions

The table defaults to the family name. Asterisk's database field names a res_pgsql
connection only when it has to reconnect (realtime.md §0 trap 8), and pbxedge has one
connection, res_pgsql.conf's, so the field is read and otherwise unused. Failover lines
(the same family again with priority 2, 3…) and static ``file.conf =>`` bindings are
reported and ignored.

``res_pgsql.conf [general]`` accepts the current names and the older ones (``dbhost``…)
as a fallback, with Asterisk's defaults: no hostname means the Unix socket in ``socket``
(``/tmp``), port 5432, database, user and password ``asterisk``. ``cdr_pgsql.conf
[global]`` has the same keys but its own defaults (database ``asteriskcdrdb``, no
password) plus ``table``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pbxedge.config.diagnostics import ConfigError, Diagnostic, Origin, Severity, excerpt
from pbxedge.config.loader import Category, load_config
from pbxedge.config.values import ValueFormError, parse_int

__all__ = [
    "FAMILIES",
    "Binding",
    "PgsqlSettings",
    "RealtimeSettings",
    "load_realtime_settings",
]

# The families pbxedge looks up: chan_iax2's two and pbx_realtime's default.
FAMILIES = ("iaxusers", "iaxpeers", "extensions")
_REQUIREMENTS = ("warn", "createclose", "createchar")
# Files Asterisk refuses to load from a table (main/config.c).
_STATIC_REFUSED = ("asterisk.conf", "extconfig.conf", "logger.conf")


@dataclass(frozen=True)
class Binding:
    """One ``family => driver,database,table`` line."""

    family: str
    driver: str
    database: str
    table: str
    origin: Origin | None = None


@dataclass(frozen=True)
class PgsqlSettings:
    """How to reach PostgreSQL (``res_pgsql.conf [general]`` or ``cdr_pgsql.conf [global]``)."""

    hostname: str | None = None  # None: the Unix socket in *socket*
    port: int = 5432
    dbname: str = "asterisk"
    user: str = "asterisk"
    password: str = field(default="asterisk", repr=False)
    appname: str | None = None
    socket: str = "/tmp"
    requirements: str = "warn"
    table: str = "cdr"  # cdr_pgsql only
    origin: Origin | None = None

    def conninfo(self) -> dict[str, str]:
        """libpq keywords, as res_config_pgsql builds its connection string."""
        info = {"host": self.hostname or self.socket, "port": str(self.port),
                "dbname": self.dbname, "user": self.user}
        if self.appname:
            info["application_name"] = self.appname
        if self.password:
            info["password"] = self.password
        return info

    def describe(self) -> str:
        """``asterisk@127.0.0.1, port 5432``: what status lines print (never the password)."""
        return f"{self.dbname}@{self.hostname or self.socket}, port {self.port}"


@dataclass
class RealtimeSettings:
    bindings: dict[str, Binding] = field(default_factory=dict)
    pgsql: PgsqlSettings = field(default_factory=PgsqlSettings)
    cdr: PgsqlSettings | None = None  # None without cdr_pgsql.conf
    problems: list[Diagnostic] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(self.bindings) or self.cdr is not None

    def table(self, family: str) -> str | None:
        binding = self.bindings.get(family)
        return binding.table if binding is not None else None


def load_realtime_settings(config_dir: Path) -> RealtimeSettings:
    """The three files beside iax.conf; each may be absent (then realtime is off)."""
    settings = RealtimeSettings()
    extconfig = _load(config_dir / "extconfig.conf", settings.problems)
    for category in extconfig:
        if category.name.lower() == "settings":
            _read_bindings(category, settings)
    if any(b.driver == "pgsql" for b in settings.bindings.values()):
        settings.pgsql = _read_pgsql(_load(config_dir / "res_pgsql.conf", settings.problems),
                                     "general", PgsqlSettings(), settings.problems)
    cdr_sections = _load(config_dir / "cdr_pgsql.conf", settings.problems)
    if cdr_sections:
        settings.cdr = _read_pgsql(cdr_sections, "global",
                                   PgsqlSettings(dbname="asteriskcdrdb", password=""),
                                   settings.problems)
    # Only pgsql is spoken here; other drivers were reported when read.
    settings.bindings = {k: b for k, b in settings.bindings.items() if b.driver == "pgsql"}
    return settings


def _load(path: Path, problems: list[Diagnostic]) -> list[Category]:
    if not path.is_file():
        return []
    try:
        config = load_config(path)
    except ConfigError as exc:
        problems.extend(exc.diagnostics)
        return []
    problems.extend(config.diagnostics)
    return config.sections()


def _warn(problems: list[Diagnostic], message: str, origin: Origin | None) -> None:
    problems.append(Diagnostic(Severity.WARNING, message, origin))


def _read_bindings(category: Category, settings: RealtimeSettings) -> None:
    problems = settings.problems
    for variable in category.variables:
        family = variable.name.strip().lower()
        fields = [part.strip() for part in variable.value.split(",")]
        if family.endswith(".conf"):
            why = ("Asterisk never loads it from a table" if family in _STATIC_REFUSED
                   else "static realtime files are not supported by pbxedge")
            _warn(problems, f"'{excerpt(variable.name)}': {why}; ignored", variable.origin)
            continue
        if len(fields) < 2 or not fields[0] or not fields[1]:
            problems.append(Diagnostic(
                Severity.ERROR, f"{excerpt(family)} => expects driver,database[,table[,priority]]",
                variable.origin))
            continue
        driver, database = fields[0].lower(), fields[1]
        table = fields[2] if len(fields) > 2 and fields[2] else family
        priority = fields[3] if len(fields) > 3 else ""
        if family in settings.bindings or (priority and priority != "1"):
            _warn(problems, f"{excerpt(family)}: failover to a second database is not supported; "
                            "this line is ignored", variable.origin)
            continue
        if family not in FAMILIES:
            _warn(problems, f"family '{excerpt(family)}' is not used by pbxedge (it reads "
                            f"{', '.join(FAMILIES)}); ignored", variable.origin)
            continue
        if driver != "pgsql":
            _warn(problems, f"{family}: driver '{excerpt(driver)}' is not available; pbxedge "
                            "speaks only pgsql", variable.origin)
        if not _is_identifier(table):
            problems.append(Diagnostic(Severity.ERROR,
                                       f"{family}: '{excerpt(table)}' is not a table name",
                                       variable.origin))
            continue
        settings.bindings[family] = Binding(family, driver, database, table, variable.origin)


# New name first, then the names Asterisk still accepts (res_config_pgsql.c parse_config).
_KEYS = {
    "hostname": ("hostname", "dbhost"),
    "port": ("port", "dbport"),
    "dbname": ("dbname",),
    "user": ("user", "dbuser"),
    "password": ("password", "dbpass"),
    "appname": ("appname", "dbappname"),
    "socket": ("socket", "dbsock"),
    "requirements": ("requirements",),
    "table": ("table",),
}
_OTHER_KNOWN = ("order_multi_row_results_by_initial_column", "encoding", "timezone",
                "keepalive", "debug")


def _read_pgsql(sections: list[Category], name: str, defaults: PgsqlSettings,
                problems: list[Diagnostic]) -> PgsqlSettings:
    values: dict[str, object] = {}
    origin: Origin | None = None
    for category in sections:
        if category.name.lower() != name:
            continue
        origin = origin or category.origin
        known = {alias for aliases in _KEYS.values() for alias in aliases}
        for variable in category.variables:
            key = variable.name.lower()
            if key not in known and key not in _OTHER_KNOWN:
                _warn(problems, f"unknown option '{excerpt(variable.name)}' in [{name}]",
                      variable.origin)
        for field_name, aliases in _KEYS.items():
            found = next((v for a in aliases if (v := category.get(a)) is not None), None)
            if found is None:
                continue
            try:
                values[field_name] = _field_value(field_name, found.value.strip())
            except ValueFormError as exc:
                problems.append(Diagnostic(Severity.ERROR, f"{found.name}: {exc}",
                                           found.origin))
    if not values and origin is None:
        return defaults
    base = {k: getattr(defaults, k) for k in _KEYS}
    base.update(values)
    return PgsqlSettings(origin=origin, **base)


def _field_value(name: str, value: str) -> object:
    if name == "port":
        return parse_int(value, minimum=1, maximum=65535)
    if name == "requirements":
        if value.lower() not in _REQUIREMENTS:
            raise ValueFormError(value, ", ".join(_REQUIREMENTS))
        return value.lower()
    if name == "appname" and any(ch.isspace() for ch in value):
        raise ValueFormError(value, "a name without whitespace")
    if name == "table" and not _is_identifier(value):
        raise ValueFormError(value, "a table name (letters, digits, _)")
    if name == "hostname" and not value:
        return None
    return value


def _is_identifier(name: str) -> bool:
    return bool(name) and len(name) <= 63 and name.replace("_", "a").isalnum() \
        and not name[0].isdigit()
