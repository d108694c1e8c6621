"""``iax.conf`` as typed models: the entry points other layers use.

``load_iax_config(path)`` reads the file (with its includes) and returns the model plus
every diagnostic; it raises :class:`~pbxedge.config.diagnostics.ConfigError` only when
the file itself cannot be read.
"""

from __future__ import annotations

import os

from pbxedge.config.diagnostics import Diagnostic
from pbxedge.config.iax_build import build_iax_config
from pbxedge.config.iax_models import (
    AmaFlags,
    AuthMethods,
    BindAddr,
    CallNumberLimit,
    CodecPriority,
    General,
    IaxConfig,
    Peer,
    Registration,
    RequireCallToken,
    Transfer,
    User,
)
from pbxedge.config.loader import load_config

__all__ = [
    "AmaFlags",
    "AuthMethods",
    "BindAddr",
    "CallNumberLimit",
    "CodecPriority",
    "General",
    "IaxConfig",
    "Peer",
    "Registration",
    "RequireCallToken",
    "Transfer",
    "User",
    "build_iax_config",
    "load_iax_config",
]


def load_iax_config(path: str | os.PathLike[str]) -> tuple[IaxConfig, list[Diagnostic]]:
    """Load and type-check an ``iax.conf``; errors come back as ERROR diagnostics."""
    return build_iax_config(load_config(path))
