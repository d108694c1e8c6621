"""Splitting application and function arguments the way Asterisk does.

``ast_app_separate_args`` splits on a delimiter outside parentheses, brackets and double
quotes; by default it also removes the quotes and backslash escapes.  Applications,
``IF``, ``GotoIf`` and friends all rely on it, so one faithful copy lives here.
"""

from __future__ import annotations

__all__ = ["separate_args", "split_app_call"]


def separate_args(text: str, delim: str = ",", *, remove_chars: bool = True,
                  max_args: int | None = None) -> list[str]:
    """Split *text* like ``__ast_app_separate_args``; the last of *max_args* takes the rest."""
    if not text:
        return []
    args: list[str] = []
    current: list[str] = []
    paren = bracket = 0
    quote = False
    index = 0
    while index < len(text):
        char = text[index]
        if max_args is not None and len(args) == max_args - 1:
            current.append(text[index:])
            break
        if char == "(":
            paren += 1
        elif char == ")":
            paren = max(paren - 1, 0)
        elif char == "[":
            bracket += 1
        elif char == "]":
            bracket = max(bracket - 1, 0)
        elif char == '"' and delim != '"':
            quote = not quote
            if remove_chars:
                index += 1
                continue
        elif char == "\\":
            if remove_chars:
                index += 1  # the next character is taken literally
                if index < len(text):
                    current.append(text[index])
                index += 1
                continue
            current.append(char)
            index += 1
            if index < len(text):
                current.append(text[index])
            index += 1
            continue
        elif char == delim and not paren and not quote and not bracket:
            args.append("".join(current))
            current = []
            index += 1
            if index == len(text):  # a trailing delimiter means one more, empty, argument
                args.append("")
                return args
            continue
        current.append(char)
        index += 1
    args.append("".join(current))
    return args


def split_app_call(text: str) -> tuple[str, str]:
    """``App(args)`` → (``App``, ``args``); the data runs to the last ``)``."""
    name, paren, rest = text.partition("(")
    if not paren:
        return text.strip(), ""
    end = rest.rfind(")")
    return name.strip(), rest[:end] if end >= 0 else rest
