"""Which prompt files Asterisk's say.c plays for digits and (English) numbers."""

from __future__ import annotations

__all__ = ["digit_files", "number_files"]

_DIGIT_NAMES = {"*": "star", "#": "pound", "-": "minus"}


def digit_files(text: str) -> list[str]:
    """SayDigits: ``digits/N`` per digit, ``star``/``pound``/``minus``; others skipped."""
    files = []
    for char in text:
        if char.isdigit():
            files.append(f"digits/{char}")
        elif char in _DIGIT_NAMES:
            files.append(f"digits/{_DIGIT_NAMES[char]}")
    return files


def number_files(number: int) -> list[str]:
    """SayNumber in English (``ast_say_number_full_en``): no "and", teens and tens have
    their own files, then hundred / thousand / million / billion."""
    if number == 0:
        return ["digits/0"]
    files: list[str] = []
    if number < 0:
        files.append("digits/minus")
        number = -number
    for scale, word in ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand")):
        if number >= scale:
            files += [*number_files(number // scale), f"digits/{word}"]
            number %= scale
    if number >= 100:
        files += [f"digits/{number // 100}", "digits/hundred"]
        number %= 100
    if number >= 20:
        files.append(f"digits/{number - number % 10}")
        number %= 10
    if number:
        files.append(f"digits/{number}")
    return files
