"""Manager classes as bit masks: ``read=``/``write=`` of manager.conf, the ``Events`` a
session asks for, and the ``Privilege:`` line of an event (``main/manager.c`` perms[])."""

from __future__ import annotations

from pbxedge.events import Category

__all__ = ["ALL", "bit", "event_mask", "parse_classes", "privilege", "unknown_classes"]

# In Asterisk's order, which is the order of a Privilege line.
_BITS = {category.value: 1 << index for index, category in enumerate(Category)}
ALL = (1 << len(_BITS)) - 1
_TRUE = ("yes", "true", "y", "t", "1", "on")
_FALSE = ("no", "false", "n", "f", "0", "off")


def bit(category: Category) -> int:
    return _BITS[category.value]


def _words(text: str) -> list[str]:
    return [word.strip().lower() for word in text.split(",") if word.strip()]


def parse_classes(text: str) -> int:
    """A comma list of classes (``get_perm``): ``all`` is every class, ``none`` none;
    names Asterisk does not know add nothing."""
    mask = 0
    for word in _words(text):
        if word == "all":
            mask |= ALL
        else:
            mask |= _BITS.get(word, 0)
    return mask


def unknown_classes(text: str) -> list[str]:
    """The words of *text* that are no class (for a warning at load time)."""
    return [w for w in _words(text) if w not in _BITS and w not in ("all", "none")]


def event_mask(text: str) -> int | None:
    """``Events:``/``EventMask:`` (``strings_to_mask``): on/off, a number or a class list;
    None for an empty value (Asterisk's "Invalid event mask")."""
    value = text.strip()
    if not value:
        return None
    if value.isascii() and value.isdecimal():
        return int(value) & ALL
    if value.lower() in _FALSE:
        return 0
    if value.lower() in _TRUE:
        return ALL
    return parse_classes(value)


def privilege(mask: int) -> str:
    """``authority_to_str``: the class names in *mask*, then ``all``; ``<none>`` for 0."""
    names = [name for name, value in _BITS.items() if mask & value]
    return ",".join([*names, "all"]) if names else "<none>"
