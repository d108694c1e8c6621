"""Tab completion of console commands."""

from __future__ import annotations

from pbxedge.control.completion import command_names_from_help, completions

HELP = (
    f"{'core show version':<30} -- Display version info\n"
    f"{'iax2 show peer':<30} -- Show details on specific IAX peer\n"
    f"{'iax2 show peers':<30} -- List defined IAX peers\n"
    f"{'iax2 show users':<30} -- List defined IAX users\n"
)
NAMES = command_names_from_help(HELP)


def test_names_are_read_from_help() -> None:
    assert NAMES == ["core show version", "iax2 show peer", "iax2 show peers", "iax2 show users"]


def test_completes_the_word_being_typed() -> None:
    assert completions(NAMES, "") == ["core", "iax2"]
    assert completions(NAMES, "ia") == ["iax2"]
    assert completions(NAMES, "iax2 show ") == ["peer", "peers", "users"]
    assert completions(NAMES, "IAX2 show pe") == ["peer", "peers"]
    assert completions(NAMES, "iax2 show peers ") == []
    assert completions(NAMES, "nothing ") == []
