"""Turn the sans-IO machines' :class:`~pbxedge.iax2.qualify.Log` actions into log lines."""

from __future__ import annotations

from pbxedge import log
from pbxedge.iax2.qualify import Log

__all__ = ["emit"]

# Asterisk prints registration and qualify progress with ast_verb(3): "-v -v -v" shows it.
_VERBOSE_LEVEL = 3


def emit(action: Log) -> None:
    if action.level >= log.ERROR:
        log.error(action.message)
    elif action.level >= log.WARNING:
        log.warning(action.message)
    elif action.level >= log.NOTICE:
        log.notice(action.message)
    elif action.level >= log.VERBOSE:
        log.verbose(_VERBOSE_LEVEL, action.message)
    else:
        log.debug(action.message)
