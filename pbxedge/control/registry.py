"""The console's command registry: Asterisk-style word matching and help.

Layers add their commands with ``registry.register("iax2 show peers", handler, ...)``.
A command line is matched against the registered command with the most words
that are a prefix of it (case-insensitively, word by word); the remaining words
are the handler's arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pbxedge import log

__all__ = [
    "Command",
    "CommandContext",
    "CommandRegistry",
    "Handler",
    "UsageError",
]


@dataclass
class CommandContext:
    """What a handler may use besides its own layer's state (bound in its closure)."""

    registry: CommandRegistry
    # Asks the node to shut down once the current response has been sent.
    request_stop: Callable[[], None] = field(default=lambda: None)


Handler = Callable[[CommandContext, list[str]], str | Awaitable[str]]


class UsageError(Exception):
    """Raised by a handler whose arguments are wrong: the console prints the usage."""


@dataclass(frozen=True)
class Command:
    words: tuple[str, ...]
    handler: Handler
    summary: str
    usage: str

    @property
    def name(self) -> str:
        return " ".join(self.words)


def _split(line: str) -> list[str]:
    return line.split()


class CommandRegistry:
    def __init__(self) -> None:
        self._commands: dict[tuple[str, ...], Command] = {}

    def register(self, name: str, handler: Handler, *, summary: str, usage: str = "") -> None:
        words = tuple(word.lower() for word in _split(name))
        if not words:
            raise ValueError("a command needs at least one word")
        if words in self._commands:
            raise ValueError(f"command '{name}' is already registered")
        self._commands[words] = Command(words, handler, summary, usage or f"Usage: {name}")

    def commands(self) -> list[Command]:
        """All commands, sorted by name (the order help lists them in)."""
        return sorted(self._commands.values(), key=lambda c: c.words)

    def find(self, line: str) -> tuple[Command, list[str]] | None:
        """The command *line* invokes and its arguments, or None."""
        args = _split(line)
        lowered = tuple(word.lower() for word in args)
        for length in range(len(lowered), 0, -1):
            command = self._commands.get(lowered[:length])
            if command is not None:
                return command, args[length:]
        return None

    def _best_prefix(self, args: list[str]) -> str:
        """Asterisk's ``find_best``: the typed words up to the first that matches nothing."""
        taken: list[str] = []
        for word in args:
            taken.append(word)
            prefix = tuple(w.lower() for w in taken)
            if not any(words[: len(prefix)] == prefix for words in self._commands):
                break
        return " ".join(taken)

    async def execute(self, ctx: CommandContext, line: str) -> str:
        """Run *line* and return its output; never raises for a bad command."""
        line = line.strip()
        if not line:
            return ""
        found = self.find(line)
        if found is None:
            best = self._best_prefix(_split(line))
            return (
                f"No such command '{line}' "
                f"(type 'core show help {best}' for other possible commands)\n"
            )
        command, args = found
        try:
            result = command.handler(ctx, args)
            if inspect.isawaitable(result):
                result = await result
        except UsageError:
            return _with_newline(command.usage)
        except Exception as exc:
            # A broken command must not take the console (or the node) down with it.
            log.error(f"console command '{line}' failed: {exc!r}")
            return f"Command '{command.name}' failed: {exc}\n"
        return result

    def help_text(self, args: list[str]) -> str:
        """``help``/``core show help [words]``: a list, or one command's usage."""
        prefix = tuple(word.lower() for word in args)
        exact = self._commands.get(prefix)
        if exact is not None:
            return _with_newline(exact.usage)
        matching = [c for c in self.commands() if c.words[: len(prefix)] == prefix]
        if not matching:
            return f"No such command '{' '.join(args)}'.\n"
        return "".join(f"{c.name:<30} -- {c.summary}\n" for c in matching)


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"
