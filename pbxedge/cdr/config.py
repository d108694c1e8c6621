"""``cdr.conf``: which calls get a record and how cdr_csv writes it (media.md §7.2).

Without a ``cdr.conf`` pbxedge writes ``Master.csv`` with Asterisk's defaults. With one, as
in Asterisk, the CSV file is written only when it has a ``[csv]`` section (cdr_csv declines
to load otherwise); the records still reach the node's SQLite store.

``batch = yes`` (with ``size`` and ``time``) is Asterisk's batch mode for everything but the
CSV file: records reach the state database, the manager's ``Cdr`` event and the PostgreSQL
outbox together, once ``size`` records wait or the first has waited ``time`` seconds, in one
database transaction. Master.csv still gets each line at the hangup, so a crash loses no
record from it (Asterisk's batch mode loses the whole batch); a clean stop or a reload writes
what waits whatever ``safeshutdown`` says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pbxedge.config.diagnostics import ConfigError, Diagnostic, Severity
from pbxedge.config.loader import Category, load_config
from pbxedge.config.values import ValueFormError, parse_bool, parse_int

__all__ = ["CdrConfig", "load_cdr_config"]

_GENERAL = ("enable", "unanswered", "congestion", "endbeforehexten", "initiatedseconds", "batch")
# Asterisk's bounds (cdr.c MAX_BATCH_SIZE, MAX_BATCH_TIME); 0 posts every record at once.
_BATCH_LIMITS = {"size": 1000, "time": 86400}
_CSV = ("usegmtime", "accountlogs", "loguniqueid", "loguserfield", "newcdrcolumns")
# These only change how Asterisk's threads post records or what it debugs; pbxedge always
# writes what waits before it stops (safeshutdown=yes).
_ACCEPTED = ("scheduleronly", "safeshutdown", "channeldefaultenabled",
             "ignorestatechanges", "ignoredialchanges", "canceldispositionenabled", "debug")


@dataclass(frozen=True)
class CdrConfig:
    enable: bool = True
    unanswered: bool = False
    congestion: bool = False
    endbeforehexten: bool = True
    initiatedseconds: bool = False
    batch: bool = False
    size: int = 100  # records waiting before a batch is written (batch mode)
    time: int = 300  # seconds the first record of a batch waits at most (batch mode)
    csv: bool = True
    usegmtime: bool = False
    accountlogs: bool = True
    loguniqueid: bool = False
    loguserfield: bool = False
    newcdrcolumns: bool = False


def _options(category: Category, names: tuple[str, ...],
             problems: list[Diagnostic]) -> dict[str, bool | int]:
    values: dict[str, bool | int] = {}
    for variable in category.variables:
        key = variable.name.lower()
        if key in names:
            try:
                values[key] = (
                    parse_int(variable.value, minimum=0, maximum=_BATCH_LIMITS[key])
                    if key in _BATCH_LIMITS else parse_bool(variable.value))
            except ValueFormError as exc:
                problems.append(Diagnostic(Severity.WARNING, f"{key}: {exc}; ignored",
                                           variable.origin))
        elif key not in _ACCEPTED:
            problems.append(Diagnostic(Severity.WARNING, f"unknown option '{variable.name}'",
                                       variable.origin))
    return values


def load_cdr_config(path: Path) -> tuple[CdrConfig, list[Diagnostic]]:
    if not path.is_file():
        return CdrConfig(), []
    try:
        config = load_config(path)
    except ConfigError as exc:
        return CdrConfig(), exc.diagnostics
    problems = list(config.diagnostics)
    values: dict[str, Any] = {"csv": False}  # option -> its parsed value
    for category in config.sections():
        name = category.name.lower()
        if name == "general":
            values.update(_options(category, (*_GENERAL, *_BATCH_LIMITS), problems))
        elif name == "csv":
            values["csv"] = True
            values.update(_options(category, _CSV, problems))
    return CdrConfig(**values), problems
