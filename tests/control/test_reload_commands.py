"""The reload commands over a :class:`~pbxedge.reload.Reloader` with real files: one module
or all, a broken file that changes nothing, unknown module names, ``logger …``."""

from __future__ import annotations

from pathlib import Path

from dialplan.engine import Engine
from dialplan.loader import load_dialplan
from pbxedge.control.check import LoadedFiles, Part
from pbxedge.control.dialplan_commands import register_dialplan_commands
from pbxedge.control.registry import CommandContext, CommandRegistry
from pbxedge.control.reload_commands import register_reload_commands
from pbxedge.paths import resolve_paths
from pbxedge.reload import Reloader, ReloadError, module_named

FIRST = "[office]\nexten => 100,1,NoOp(first)\n"
SECOND = "[office]\nexten => 100,1,NoOp(second)\nexten => 200,1,Hangup()\n"
IAX = "[general]\nbindaddr = 127.0.0.1\n\n[alice]\ntype = user\n"


def _console(folder: Path) -> tuple[Engine, Reloader, CommandRegistry, CommandContext]:
    (folder / "iax.conf").write_text(IAX)
    extensions = folder / "extensions.conf"
    extensions.write_text(FIRST)
    engine = Engine(load_dialplan(extensions))
    reloader = Reloader(resolve_paths(folder / "iax.conf"))

    def apply_dialplan(files: LoadedFiles) -> list[str]:
        assert files.dialplan is not None
        engine.reload(files.dialplan)
        return ["swapped"]

    reloader.add(Part.DIALPLAN, apply_dialplan)
    registry = CommandRegistry()
    register_dialplan_commands(registry, engine)
    register_reload_commands(registry, reloader)
    return engine, reloader, registry, CommandContext(registry)


async def test_dialplan_reload_swaps_the_plan_and_keeps_run_time_extensions(
        tmp_path: Path) -> None:
    engine, _, registry, ctx = _console(tmp_path)
    engine.plan.add_extension("iaxregistrations", "alice", 1, "NoOp", "alice")
    assert "NoOp(first)" in await registry.execute(ctx, "dialplan show office")

    (tmp_path / "extensions.conf").write_text(SECOND)
    assert await registry.execute(ctx, "dialplan reload") == "Dialplan reloaded.\n"
    shown = await registry.execute(ctx, "dialplan show")
    assert "NoOp(second)" in shown and "'200' =>" in shown and "NoOp(first)" not in shown
    assert engine.plan.exists("iaxregistrations", "alice")  # registrations survive


async def test_a_broken_file_leaves_the_running_plan_alone(tmp_path: Path) -> None:
    engine, reloader, registry, ctx = _console(tmp_path)
    plan, last = engine.plan, reloader.last_reload
    extensions = tmp_path / "extensions.conf"
    extensions.write_text("[office]\nexten => 100,banana,NoOp()\n")
    reply = await registry.execute(ctx, "dialplan reload")
    assert reply.endswith("Dialplan not reloaded.\n")
    assert f"{extensions}:2: error:" in reply
    assert engine.plan is plan and reloader.last_reload == last
    reply = await registry.execute(ctx, "module reload pbx_config.so")
    assert f"{extensions}:2: error:" in reply
    assert reply.endswith("Not reloaded (pbx_config.so): the running configuration stays.\n")


async def test_an_error_in_any_file_stops_a_full_reload(tmp_path: Path) -> None:
    engine, _, registry, ctx = _console(tmp_path)
    plan = engine.plan
    (tmp_path / "extensions.conf").write_text(SECOND)
    (tmp_path / "iax.conf").write_text(IAX + "[bob]\ntype = user\nmaxauthreq = lots\n")
    reply = await registry.execute(ctx, "reload")
    assert f"{tmp_path / 'iax.conf'}:8: error: maxauthreq:" in reply
    assert engine.plan is plan
    # The dialplan alone has no error: its module reloads.
    reply = await registry.execute(ctx, "module reload pbx_config")
    assert reply == "Module 'pbx_config.so' reloaded successfully.\n"
    assert engine.plan is not plan


async def test_module_names_as_asterisk_admins_type_them(tmp_path: Path) -> None:
    _, reloader, registry, ctx = _console(tmp_path)
    assert module_named("chan_iax2.so") is module_named("iax2") is Part.IAX
    assert module_named("PBX_CONFIG") is Part.DIALPLAN
    assert module_named("res_musiconhold.so") is Part.MOH
    assert module_named("chan_console") is module_named("console") is Part.CONSOLE
    assert module_named("app_queue.so") is None
    assert await registry.execute(ctx, "module reload app_queue.so") == (
        "No such module 'app_queue.so'\n")
    result = await reloader.reload("app_queue.so")
    assert (result.ok, result.found, result.status) == (False, False, 2)
    reply = await registry.execute(ctx, "reload")
    assert reply.splitlines() == [f"Module '{m}' reloaded successfully." for m in (
        "chan_iax2.so", "logger", "pbx_config.so", "res_musiconhold.so", "indications", "cdr",
        "manager", "chan_console.so")]


async def test_an_applier_that_fails_stops_the_modules_after_it(tmp_path: Path) -> None:
    engine, reloader, _, _ = _console(tmp_path)
    plan = engine.plan

    def refuse(files: LoadedFiles) -> list[str]:
        raise ReloadError(["iax.conf: error: bindaddr: cannot bind UDP 127.0.0.1:1: in use"])

    reloader.add(Part.IAX, refuse)
    result = await reloader.reload()
    assert not result.ok and result.status == 4
    assert "cannot bind UDP 127.0.0.1:1" in result.text()
    assert engine.plan is plan  # the dialplan comes after chan_iax2


async def test_an_applier_that_breaks_does_not_break_the_node(tmp_path: Path) -> None:
    _, reloader, _, _ = _console(tmp_path)

    def broken(files: LoadedFiles) -> list[str]:
        raise KeyError("bug")

    reloader.add(Part.DIALPLAN, broken)
    result = await reloader.reload("dialplan")
    assert not result.ok and "reload of pbx_config.so failed: KeyError('bug')" in result.text()


async def test_reloads_are_heard_by_the_listeners(tmp_path: Path) -> None:
    _, reloader, _, _ = _console(tmp_path)
    heard: list[object] = []
    reloader.listeners.started.append(lambda: heard.append("started"))
    reloader.listeners.finished.append(heard.append)
    result = await reloader.reload("dialplan")
    assert heard == ["started", result] and result.ok and result.status == 0
    assert result.changes == ("swapped",)
