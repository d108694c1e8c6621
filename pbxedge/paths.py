"""Where a node finds its files: iax.conf, extensions.conf, RSA keys, state.

Everything is derived from the iax.conf path unless given explicitly, so one
``-c`` option is enough to run a node and to reach its console with ``-rx``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pbxedge.store import DEFAULT_FILENAME

__all__ = [
    "CONTROL_SOCKET_NAME",
    "DEFAULT_CONFIG",
    "PACKAGE_SOUNDS",
    "NodePaths",
    "default_keys_dir",
    "resolve_paths",
]

DEFAULT_CONFIG = Path("configs/iax.conf")
# The English core prompts, generated into the package at install time (`make sounds`).
PACKAGE_SOUNDS = Path(__file__).resolve().parent / "sounds"
CONTROL_SOCKET_NAME = "pbxedge.ctl"


@dataclass(frozen=True)
class NodePaths:
    config: Path
    extensions: Path
    keys: Path
    state: Path
    sounds: Path
    logs: Path  # logger.conf's relative file names (Asterisk's astlogdir)

    @property
    def sound_dirs(self) -> tuple[Path, ...]:
        """Where prompts are looked up: the admin's folder, then the package's own set."""
        return (self.sounds, PACKAGE_SOUNDS)

    @property
    def config_dir(self) -> Path:
        """Asterisk's config directory: admin Python modules are imported from here."""
        return self.config.parent

    @property
    def agi_bin(self) -> Path:
        """Where ``AGI(script)`` finds a relative script name (Asterisk's astagidir)."""
        return self.config_dir / "agi-bin"

    @property
    def control_socket(self) -> Path:
        return self.state / CONTROL_SOCKET_NAME

    @property
    def database(self) -> Path:
        return self.state / DEFAULT_FILENAME


def default_keys_dir(config_dir: Path) -> Path:
    """``<confdir>/keys`` if it exists, else ``<confdir>/../keys`` if that exists.

    The second place serves a checkout where configs/ and keys/ are siblings.
    When neither exists the first is returned, so messages name the expected place.
    """
    beside = config_dir / "keys"
    if beside.is_dir():
        return beside
    parent = config_dir.parent / "keys"
    if parent.is_dir():
        return parent
    return beside


def resolve_paths(
    config: Path,
    extensions: Path | None = None,
    keys: Path | None = None,
    state: Path | None = None,
    sounds: Path | None = None,
    logs: Path | None = None,
) -> NodePaths:
    """Absolute paths for a node; unset ones are derived from *config*'s folder."""
    config = config.expanduser().absolute()
    config_dir = config.parent
    state = state.expanduser().absolute() if state else config_dir / "var"
    return NodePaths(
        config=config,
        extensions=(extensions.expanduser().absolute() if extensions
                    else config_dir / "extensions.conf"),
        keys=keys.expanduser().absolute() if keys else default_keys_dir(config_dir),
        state=state,
        sounds=sounds.expanduser().absolute() if sounds else config_dir / "sounds",
        logs=logs.expanduser().absolute() if logs else state / "log",
    )
