"""pbxedge.private_state: the state folder and database are for the node's user only."""

from __future__ import annotations

import stat
from pathlib import Path

from pbxedge.private_state import ModeChange, make_state_private
from pbxedge.store import DEFAULT_FILENAME


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def made(path: Path, mode: int, *, folder: bool = False) -> Path:
    """*path* created with *mode* exactly (chmod, so the umask does not interfere)."""
    if folder:
        path.mkdir()
    else:
        path.touch()
    path.chmod(mode)
    return path


def test_a_missing_folder_is_created_private(tmp_path: Path) -> None:
    state = tmp_path / "a" / "var"
    assert make_state_private(state, state / DEFAULT_FILENAME) == []
    assert mode(state) == 0o700


def test_an_open_folder_and_database_files_are_tightened_and_reported(tmp_path: Path) -> None:
    state = made(tmp_path / "var", 0o755, folder=True)
    database = state / DEFAULT_FILENAME
    modes = {database: 0o644, state / f"{DEFAULT_FILENAME}-wal": 0o664,
             state / f"{DEFAULT_FILENAME}-journal": 0o640, state / "other.txt": 0o644}
    for path, old in modes.items():
        made(path, old)
    changes = make_state_private(state, database)
    assert changes == [ModeChange(state, 0o755, 0o700), ModeChange(database, 0o644, 0o600),
                       ModeChange(state / f"{DEFAULT_FILENAME}-wal", 0o664, 0o600),
                       ModeChange(state / f"{DEFAULT_FILENAME}-journal", 0o640, 0o600)]
    assert str(changes[0]) == (f"{state}: mode changed from 0755 to 0700 "
                               "(the node's state is for its own user only)")
    assert mode(state) == 0o700
    assert [mode(p) for p in modes] == [0o600, 0o600, 0o600, 0o644]  # other files are not the node's
    assert make_state_private(state, database) == []


def test_owner_bits_are_kept_as_they_are(tmp_path: Path) -> None:
    state = made(tmp_path / "var", 0o750, folder=True)
    database = made(state / DEFAULT_FILENAME, 0o444)
    assert [(c.old, c.new) for c in make_state_private(state, database)] == [(0o750, 0o700), (0o444, 0o400)]


def test_a_shared_sticky_folder_is_left_alone_but_the_database_is_tightened(tmp_path: Path) -> None:
    state = made(tmp_path / "shared", 0o1777, folder=True)
    database = made(state / DEFAULT_FILENAME, 0o644)
    changes = make_state_private(state, database)
    assert [c.changed for c in changes] == [False, True]
    assert str(changes[0]) == (f"{state}: mode 1777 lets other users reach the node's state, and it "
                               "was not changed: it is a shared folder (sticky bit)")
    assert (mode(state), mode(database)) == (0o1777, 0o600)
