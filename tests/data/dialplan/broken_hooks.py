"""A hook module that fails on import."""

raise RuntimeError("the admin made a typo")
