"""Command matching, unknown commands, usage errors and help."""

from __future__ import annotations

import pytest

from pbxedge.control.registry import CommandContext, CommandRegistry, UsageError


def _registry() -> CommandRegistry:
    registry = CommandRegistry()

    def peers(ctx: CommandContext, args: list[str]) -> str:
        return f"peers {args}\n"

    def peer(ctx: CommandContext, args: list[str]) -> str:
        if len(args) != 1:
            raise UsageError
        return f"peer {args[0]}\n"

    async def later(ctx: CommandContext, args: list[str]) -> str:
        return "async\n"

    def broken(ctx: CommandContext, args: list[str]) -> str:
        raise RuntimeError("boom")

    registry.register("iax2 show peers", peers, summary="List peers")
    registry.register("iax2 show peer", peer, summary="One peer", usage="Usage: iax2 show peer <name>")
    registry.register("core wait", later, summary="Async")
    registry.register("core broken", broken, summary="Fails")
    return registry


async def _run(line: str) -> str:
    registry = _registry()
    return await registry.execute(CommandContext(registry), line)


async def test_longest_prefix_wins_and_rest_are_arguments() -> None:
    assert await _run("iax2 show peers like ^md5") == "peers ['like', '^md5']\n"
    assert await _run("iax2 show peer md5peer") == "peer md5peer\n"


async def test_words_match_case_insensitively_and_spacing_is_free() -> None:
    assert await _run("  IAX2   Show  PEER  MixedCase ") == "peer MixedCase\n"


async def test_async_handlers_are_awaited() -> None:
    assert await _run("core wait") == "async\n"


@pytest.mark.parametrize(
    ("line", "best"),
    [("x", "x"), ("iax2 show foo bar", "iax2 show foo"), ("iax2 sh", "iax2 sh"),
     ("iax2 show", "iax2 show")],
)
async def test_unknown_command_answers_like_asterisk(line: str, best: str) -> None:
    assert await _run(line) == (
        f"No such command '{line}' (type 'core show help {best}' for other possible commands)\n"
    )


async def test_usage_error_prints_usage() -> None:
    assert await _run("iax2 show peer") == "Usage: iax2 show peer <name>\n"


async def test_failing_handler_is_contained() -> None:
    assert await _run("core broken") == "Command 'core broken' failed: boom\n"


async def test_empty_line_is_empty_output() -> None:
    assert await _run("   ") == ""


def test_help_lists_by_prefix_and_shows_usage_of_exact_command() -> None:
    registry = _registry()
    assert registry.help_text(["iax2"]) == (
        f"{'iax2 show peer':<30} -- One peer\n{'iax2 show peers':<30} -- List peers\n"
    )
    assert registry.help_text(["iax2", "show", "peer"]) == "Usage: iax2 show peer <name>\n"
    assert registry.help_text(["nothing"]) == "No such command 'nothing'.\n"
    assert len(registry.help_text([]).splitlines()) == 4


def test_duplicate_and_empty_registrations_are_refused() -> None:
    registry = _registry()

    def handler(ctx: CommandContext, args: list[str]) -> str:
        return ""

    with pytest.raises(ValueError):
        registry.register("IAX2 show peers", handler, summary="again")
    with pytest.raises(ValueError):
        registry.register("  ", handler, summary="empty")
