"""The small key/value store behind AGI ``DATABASE GET/PUT/DEL`` (Asterisk's astdb).

pbxedge passes its SQLite store; tests use :class:`MemoryStore`.  Keys are (family, key)
pairs as in astdb.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["KeyValueStore", "MemoryStore"]


class KeyValueStore(Protocol):
    def get(self, family: str, key: str) -> str | None: ...
    def put(self, family: str, key: str, value: str) -> None: ...
    def delete(self, family: str, key: str) -> bool: ...


class MemoryStore:
    """A dict-backed :class:`KeyValueStore`."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    def get(self, family: str, key: str) -> str | None:
        return self.data.get((family, key))

    def put(self, family: str, key: str, value: str) -> None:
        self.data[(family, key)] = value

    def delete(self, family: str, key: str) -> bool:
        return self.data.pop((family, key), None) is not None
