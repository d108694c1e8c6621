"""``iax.conf`` as typed models: the entry points other layers use.

``load_iax_config(path)`` reads the file (with its includes) and returns the model plus
every diagnostic; it raises :class:`~pbxedge.config.diagnostics.ConfigError` only when
the file itself cannot be read.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator

from pbxedge.config import iax_models
from pbxedge.config.diagnostics import Diagnostic
from pbxedge.config.iax_build import build_iax_config
from pbxedge.config.iax_models import *  # noqa: F403  (the models are re-exported as they are)
from pbxedge.config.iax_models import IaxConfig
from pbxedge.config.loader import load_config

# The model names are listed once, in iax_models.__all__.
__all__ = [*iax_models.__all__, "build_iax_config", "load_iax_config"]


def load_iax_config(path: str | os.PathLike[str]) -> tuple[IaxConfig, list[Diagnostic]]:
    """Load and type-check an ``iax.conf``; errors come back as ERROR diagnostics."""
    with _cyclic_gc_paused():
        return build_iax_config(load_config(path))


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    # A 10 000-peer file creates about a million objects that all stay alive. The cyclic
    # collector would rescan them again and again, which measured as more than half of the
    # load time; loading makes no reference cycles worth collecting before it returns.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
