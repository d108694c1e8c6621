"""``cdr.conf``: which calls get a record and how cdr_csv writes it (media.md §7.2).

Without a ``cdr.conf`` pbxedge writes ``Master.csv`` with Asterisk's defaults. With one, as
in Asterisk, the CSV file is written only when it has a ``[csv]`` section (cdr_csv declines
to load otherwise); the records still reach the node's SQLite store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pbxedge.config.diagnostics import ConfigError, Diagnostic, Severity
from pbxedge.config.loader import Category, load_config
from pbxedge.config.values import ValueFormError, parse_bool

__all__ = ["CdrConfig", "load_cdr_config"]

_GENERAL = ("enable", "unanswered", "congestion", "endbeforehexten", "initiatedseconds")
_CSV = ("usegmtime", "accountlogs", "loguniqueid", "loguserfield", "newcdrcolumns")
# Batch mode and the rest only change when Asterisk writes; pbxedge writes every record at
# once and syncs it, so they are accepted and have nothing to change.
_ACCEPTED = ("batch", "size", "time", "scheduleronly", "safeshutdown", "channeldefaultenabled",
             "ignorestatechanges", "ignoredialchanges", "canceldispositionenabled", "debug")


@dataclass(frozen=True)
class CdrConfig:
    enable: bool = True
    unanswered: bool = False
    congestion: bool = False
    endbeforehexten: bool = True
    initiatedseconds: bool = False
    csv: bool = True
    usegmtime: bool = False
    accountlogs: bool = True
    loguniqueid: bool = False
    loguserfield: bool = False
    newcdrcolumns: bool = False


def _flags(category: Category, names: tuple[str, ...], problems: list[Diagnostic]) -> dict[str, bool]:
    values: dict[str, bool] = {}
    for variable in category.variables:
        key = variable.name.lower()
        if key in names:
            try:
                values[key] = parse_bool(variable.value)
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
    values: dict[str, bool] = {"csv": False}
    for category in config.sections():
        name = category.name.lower()
        if name == "general":
            values.update(_flags(category, _GENERAL, problems))
        elif name == "csv":
            values["csv"] = True
            values.update(_flags(category, _CSV, problems))
    return CdrConfig(**values), problems
