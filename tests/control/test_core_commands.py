"""``core show uptime|settings|version``, ``core set verbose``, ``help``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pbxedge import log
from pbxedge.control.core_commands import CoreInfo, format_uptime, register_core_commands
from pbxedge.control.registry import CommandContext, CommandRegistry
from pbxedge.paths import resolve_paths


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (60, "60 seconds"),  # Asterisk moves to minutes only strictly past a whole unit
        (65, "1 minute, 5 seconds"),
        (120, "2 minutes"),
        (3 * 3600 + 7, "3 hours, 7 seconds"),
        (8 * 86400 + 2 * 3600 + 1, "1 week, 1 day, 2 hours, 1 second"),
        (366 * 86400, "1 year, 24 hours"),  # the same quirk, one unit down
    ],
)
def test_format_uptime(seconds: int, text: str) -> None:
    assert format_uptime(seconds) == text


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[CommandRegistry, Clock, list[int]]]:
    clock = Clock()
    info = CoreInfo(resolve_paths(tmp_path / "iax.conf"), started_at=clock.now,
                    last_reload=clock.now, clock=clock)
    registry = CommandRegistry()
    register_core_commands(registry, info)
    saved = log.verbosity()
    yield registry, clock, []
    log.set_verbosity(saved)


async def _run(registry: CommandRegistry, line: str, stops: list[int] | None = None) -> str:
    def stop() -> None:
        if stops is not None:
            stops.append(1)

    return await registry.execute(CommandContext(registry, stop), line)


async def test_uptime(console: tuple[CommandRegistry, Clock, list[int]]) -> None:
    registry, clock, _ = console
    clock.now += 65
    assert await _run(registry, "core show uptime") == (
        "System uptime: 1 minute, 5 seconds\nLast reload: 1 minute, 5 seconds\n")
    assert await _run(registry, "core show uptime seconds") == (
        "System uptime: 65\nLast reload: 65\n")
    assert (await _run(registry, "core show uptime weeks")).startswith("Usage:")


async def test_settings_lists_paths(console: tuple[CommandRegistry, Clock, list[int]],
                                    tmp_path: Path) -> None:
    registry, _, _ = console
    text = await _run(registry, "core show settings")
    assert text.startswith("\nPBX Core settings\n-----------------\n  Version:                     0.1.0\n")
    assert f"  Configuration file:          {tmp_path / 'iax.conf'}\n" in text
    assert f"  Control socket:              {tmp_path / 'var' / 'pbxedge.ctl'}\n" in text
    assert f"  AGI Scripts directory:       {tmp_path / 'agi-bin'}\n" in text


async def test_set_verbose_replies_like_asterisk(
    console: tuple[CommandRegistry, Clock, list[int]],
) -> None:
    registry, _, _ = console
    log.set_verbosity(0)
    assert await _run(registry, "core set verbose 3") == "Verbosity was 0 and is now 3\n"
    assert log.verbosity() == 3
    assert await _run(registry, "core set verbose 3") == "Verbosity is at least 3\n"
    assert await _run(registry, "core set verbose atleast 1") == "Verbosity is at least 3\n"
    assert await _run(registry, "core set verbose off") == "Verbosity is now OFF\n"
    assert log.verbosity() == 0
    assert (await _run(registry, "core set verbose loud")).startswith("Usage: core set verbose")


async def test_set_debug_replies_like_asterisk(
    console: tuple[CommandRegistry, Clock, list[int]],
) -> None:
    registry, _, _ = console
    log.set_debug_level(0)
    try:
        assert await _run(registry, "core set debug 2") == "Core debug was 0 and is now 2\n"
        assert log.debug_level() == 2
        assert await _run(registry, "core set debug atleast 1") == "Core debug is at least 2\n"
        assert await _run(registry, "core set debug off") == "Core debug is now OFF\n"
        assert log.debug_level() == 0
        assert (await _run(registry, "core set debug x y")).startswith("Usage: core set debug")
    finally:
        log.set_debug_level(0)


async def test_stop_now_requests_a_stop(console: tuple[CommandRegistry, Clock, list[int]]) -> None:
    registry, _, stops = console
    assert await _run(registry, "core stop now", stops) == ""
    assert stops == [1]


async def test_help_and_core_show_help(console: tuple[CommandRegistry, Clock, list[int]]) -> None:
    registry, _, _ = console
    listing = await _run(registry, "help")
    assert listing == await _run(registry, "core show help")
    assert f"{'core show uptime':<30} -- Show uptime information\n" in listing
    assert (await _run(registry, "core show help core set verbose")).startswith(
        "Usage: core set verbose")
    assert await _run(registry, "help core show") == "".join(
        line + "\n" for line in listing.splitlines() if line.startswith("core show "))


async def test_version_names_the_machine(
    console: tuple[CommandRegistry, Clock, list[int]],
) -> None:
    registry, _, _ = console
    text = await _run(registry, "core show version")
    assert text.startswith("pbxedge 0.1.0 running on ")
    assert " running Linux " in text
