"""Where a config value came from, and the problems found while reading it.

Every message a user sees about a config file names ``file:line`` so it can be fixed
without guessing; these small types carry that position from the lexer to the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["EXCERPT_CHARS", "ConfigError", "Diagnostic", "Origin", "Severity", "excerpt"]

# How much of a name or value a message may quote. An included file can be anything
# (even a file of secrets), so messages quote short pieces, never whole lines.
EXCERPT_CHARS = 60


@dataclass(frozen=True, slots=True)
class Origin:
    """A position in a config file (1-based line)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem, printed as ``file:line: warning: message``."""

    severity: Severity
    message: str
    origin: Origin | None = None

    def __str__(self) -> str:
        where = f"{self.origin}: " if self.origin is not None else ""
        return f"{where}{self.severity.value}: {self.message}"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """*text* fit for quoting in a message: at most *limit* characters (then "…"), and
    control characters written as escapes so they cannot move the cursor or fake a line."""
    shown = "".join(
        ch if ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
        for ch in text[:limit]
    )
    return shown + "…" if len(text) > limit else shown


class ConfigError(Exception):
    """The top-level config file could not be read at all.

    Content problems never raise: they become :class:`Diagnostic` entries instead.
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(str(d) for d in diagnostics))
        self.diagnostics = diagnostics
