"""The sans-IO IAX2 core. An install compiles its modules with mypyc (setup.py)."""

from __future__ import annotations


def compiled() -> bool:
    """Whether the core runs as compiled C rather than Python source."""
    from pbxedge.iax2 import endpoint

    return not endpoint.__file__.endswith(".py")


def build_name() -> str:
    """How the node's banner and the benches name the build that runs."""
    return "compiled" if compiled() else "Python (not compiled)"
