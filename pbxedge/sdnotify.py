"""Telling a service manager how the node is doing: systemd's ``sd_notify`` protocol.

When systemd starts the node as ``Type=notify`` it sets ``NOTIFY_SOCKET`` to a Unix
datagram socket (a path, or ``@name`` in the abstract namespace) and waits for
``READY=1``. The protocol is one datagram of ``KEY=VALUE`` lines, so a few lines of the
standard library do it; without ``NOTIFY_SOCKET`` every call does nothing. A failure to
send is logged once and never affects the node.
"""

from __future__ import annotations

import os
import socket
import time

from pbxedge import log

__all__ = ["notify", "ready", "reloading", "stopping"]

_ENV = "NOTIFY_SOCKET"


def _address(value: str) -> str:
    # "@name" is Linux's abstract namespace, spelled with a leading NUL byte.
    return "\0" + value[1:] if value.startswith("@") else value


def notify(message: str) -> bool:
    """Send *message* (``KEY=VALUE`` lines); False when there is no manager to tell."""
    target = os.environ.get(_ENV)
    if not target:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(_address(target))
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning(f"cannot notify the service manager at {target}: {exc.strerror or exc}")
        return False
    return True


def ready() -> bool:
    """Started (or done reloading): systemd's unit becomes active."""
    return notify(f"READY=1\nSTATUS=Ready\nMAINPID={os.getpid()}")


def reloading() -> bool:
    """A reload begins; :func:`ready` ends it. MONOTONIC_USEC lets systemd match the two."""
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify(f"RELOADING=1\nSTATUS=Reloading\nMONOTONIC_USEC={usec}")


def stopping() -> bool:
    return notify("STOPPING=1\nSTATUS=Shutting down")
