"""Tab completion for the interactive console (``pbxedge -r``).

The console learns the command names from the node's ``help`` listing, so it
completes exactly what the running node offers, including later layers' commands.
"""

from __future__ import annotations

__all__ = ["command_names_from_help", "completions"]


def command_names_from_help(help_text: str) -> list[str]:
    """Command names out of ``help`` output (``name<padding> -- summary`` lines)."""
    names = []
    for line in help_text.splitlines():
        name, separator, _ = line.partition(" -- ")
        if separator:
            names.append(name.strip())
    return names


def completions(names: list[str], line: str) -> list[str]:
    """Candidates for the word being typed at the end of *line*."""
    words = line.split()
    if line and not line[-1].isspace():
        done, partial = words[:-1], words[-1].lower()
    else:
        done, partial = words, ""
    depth = len(done)
    found: list[str] = []
    for name in names:
        parts = name.split()
        if len(parts) <= depth or [p.lower() for p in parts[:depth]] != [w.lower() for w in done]:
            continue
        word = parts[depth]
        if word.startswith(partial) and word not in found:
            found.append(word)
    return found
