"""The classic mistakes of a two-way IAX2 trunk, found before the first call fails.

Two offices that register to each other and list each other as ``type=friend
host=dynamic trunk=yes`` are the reference setup. Within one ``iax.conf`` this checks what
can be checked alone; given the far node's ``iax.conf`` too (``--check --trunk-peer``), it
checks that the two files fit together: each ``register =>`` names a dynamic peer the far
side knows (with the same secret), and trunking is on at both ends or at neither.

(A ``type=user`` with ``host=dynamic`` is reported by the config builder itself, at the
line that says so.)
"""

from __future__ import annotations

from pbxedge.config.diagnostics import Diagnostic, Severity, excerpt
from pbxedge.config.iax_models import IaxConfig, Peer, Registration, User

__all__ = ["check_trunk_pair", "check_trunk_setup"]


def _warn(message: str, entry: Peer | User | Registration) -> Diagnostic:
    return Diagnostic(Severity.WARNING, message, entry.origin)


def check_trunk_setup(config: IaxConfig) -> list[Diagnostic]:
    """Mistakes visible in one file."""
    found = []
    for name, peer in config.peers.items():
        user = config.users.get(name)
        if user is None or user.origin == peer.origin:
            continue  # a friend: one section, one setting
        if user.requirecalltoken != peer.requirecalltoken:
            found.append(_warn(
                f"user '{excerpt(name)}' (requirecalltoken={user.requirecalltoken}, at "
                f"{user.origin}) and peer '{excerpt(name)}' (requirecalltoken="
                f"{peer.requirecalltoken}) differ: a registration is judged by the peer's "
                "setting and a call by the user's, so one of them will surprise you", peer))
    return found


def _entry(config: IaxConfig, name: str) -> Peer | User | None:
    return config.peers.get(name) or config.users.get(name)


def _for_far(config: IaxConfig, far: IaxConfig) -> Peer | User | None:
    """Our entry for the far node: the name the far node registers to us with."""
    for reg in far.registrations:
        entry = _entry(config, reg.username)
        if entry is not None:
            return entry
    return None


def check_trunk_pair(config: IaxConfig, far: IaxConfig, far_label: str) -> list[Diagnostic]:
    """Mistakes between this node's file and the far node's (*far_label* names that file)."""
    found = []
    for reg in config.registrations:
        who = f"register => {excerpt(reg.username)}@{excerpt(reg.host)}"
        peer = far.peers.get(reg.username)
        if peer is None:
            found.append(_warn(
                f"{who}: {far_label} has no type=peer or type=friend '{excerpt(reg.username)}' "
                "(a type=user cannot take a registration); the far side will refuse it", reg))
            continue
        if not peer.dynamic:
            found.append(_warn(
                f"{who}: '{excerpt(reg.username)}' in {far_label} is not host=dynamic, so "
                "it does not take registrations", reg))
        if reg.secret is not None and peer.secret is not None and reg.secret != peer.secret:
            found.append(_warn(
                f"{who}: the secret differs from the one '{excerpt(reg.username)}' has in "
                f"{far_label}; the registration will fail to authenticate", reg))
    ours, theirs = _for_far(config, far), _for_far(far, config)
    if ours is not None and theirs is not None and ours.trunk != theirs.trunk:
        has, lacks = ("here", f"in {far_label}") if ours.trunk else (f"in {far_label}", "here")
        found.append(_warn(
            f"trunk=yes on one side only: '{excerpt(ours.name)}' here and "
            f"'{excerpt(theirs.name)}' in {far_label} disagree; calls placed by the node "
            f"configured {has} are trunked, those placed by the node configured {lacks} are "
            "not", ours))
    return found
