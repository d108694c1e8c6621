"""``eventfilter`` of manager.conf: which events a user's sessions are sent (ami.md §1.2).

Two spellings, as in Asterisk:

- legacy ``eventfilter = <regex>`` (``!<regex>`` excludes), searched in the whole event;
- ``eventfilter(action(include|exclude),name(Event),header(Header),method(m)) = value``
  where *m* is ``regex`` (the default with a value), ``exact``, ``starts_with``,
  ``ends_with``, ``contains`` or ``none`` (the default without one: only the name and
  header are tested). With ``header`` the value is tested against that header's value,
  otherwise against the whole event.

Logic (``should_send_event``): no filter sends everything; only includes send what one of
them matches; only excludes send what none matches; both send what an include matches and
no exclude does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["EventFilter", "FilterError", "allowed", "parse_filter"]

_METHODS = ("regex", "exact", "starts_with", "ends_with", "contains", "none")
_PARAM = re.compile(r"\s*(\w+)\(([^()]*)\)\s*(?:,|$)")


class FilterError(ValueError):
    """A filter that cannot be used (bad regex, unknown parameter or method)."""


@dataclass(frozen=True)
class EventFilter:
    include: bool
    value: str
    method: str = "regex"
    name: str | None = None  # an event name, compared without case
    header: str | None = None
    pattern: re.Pattern[str] | None = None

    def matches(self, event: str, text: str) -> bool:
        if self.name is not None and event.lower() != self.name.lower():
            return False
        subject = text
        if self.header is not None:
            found = _header_value(text, self.header)
            if found is None:
                return False
            subject = found
        match self.method:
            case "none":
                return True
            case "exact":
                return subject == self.value
            case "starts_with":
                return subject.startswith(self.value)
            case "ends_with":
                return subject.endswith(self.value)
            case "contains":
                return self.value in subject
        assert self.pattern is not None
        return self.pattern.search(subject) is not None


def _header_value(text: str, header: str) -> str | None:
    prefix = header.lower() + ":"
    for line in text.split("\r\n"):
        if line.lower().startswith(prefix):
            return line[len(prefix):].lstrip(" ")
    return None


def _compile(value: str) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except re.error as exc:
        raise FilterError(f"invalid regular expression '{value}': {exc}") from None


def parse_filter(key: str, value: str) -> EventFilter:
    """One ``eventfilter`` line: *key* is ``eventfilter`` or ``eventfilter(...)``."""
    params_text = key.strip()[len("eventfilter"):].strip()
    if not params_text:
        include = not value.startswith("!")
        regex = value if include else value[1:]
        return EventFilter(include, regex, pattern=_compile(regex))
    if not (params_text.startswith("(") and params_text.endswith(")")):
        raise FilterError(f"'{key}' is not eventfilter(<criteria>)")
    inner = params_text[1:-1]
    params: dict[str, str] = {}
    position = 0
    while position < len(inner):
        found = _PARAM.match(inner, position)
        if found is None:
            raise FilterError(f"cannot read the criteria '{inner}'")
        params[found.group(1).lower()] = found.group(2).strip()
        position = found.end()
    unknown = sorted(set(params) - {"action", "name", "header", "method"})
    if unknown:
        raise FilterError(f"unknown filter criteria {', '.join(unknown)}")
    action = params.get("action", "include").lower()
    if action not in ("include", "exclude"):
        raise FilterError(f"action({action}) must be include or exclude")
    method = params.get("method", "regex" if value else "none").lower()
    if method not in _METHODS:
        raise FilterError(f"method({method}) must be one of {', '.join(_METHODS)}")
    return EventFilter(action == "include", value, method, params.get("name") or None,
                       params.get("header") or None,
                       _compile(value) if method == "regex" else None)


def allowed(filters: Sequence[EventFilter], event: str, text: str) -> bool:
    if not filters:
        return True
    includes = [f for f in filters if f.include]
    if includes and not any(f.matches(event, text) for f in includes):
        return False
    return not any(f.matches(event, text) for f in filters if not f.include)
