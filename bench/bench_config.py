"""How long ``load_iax_config`` takes on a 10 000-peer iax.conf (budget: under 2 s)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pbxedge.config.diagnostics import Severity
from pbxedge.config.iax import load_iax_config

PEERS = 10_000
ROUNDS = 3


# [general] and the [phone](!) template the generated sections are made from.
HEAD = (
    "[general]",
    "bindaddr=127.0.0.1",
    "disallow=all",
    "allow=ulaw",
    "allow=alaw",
    "[phone](!)",
    "type=friend",
    "host=dynamic",
    "context=from-internal",
    "qualify=yes",
    "permit=127.0.0.0/8",
)


def _write_config(path: Path, peers: int) -> None:
    lines = list(HEAD)
    for n in range(peers):
        lines += [
            f"[ext{n:05d}](phone)",
            f"secret=secret{n}",
            f'callerid="Extension {n}" <{n}>',
            "allow=gsm",
            f"regexten={n}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "iax.conf"
        _write_config(path, PEERS)
        size_kib = path.stat().st_size / 1024
        timings: list[float] = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            config, diagnostics = load_iax_config(path)
            timings.append(time.perf_counter() - started)
        errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    best = min(timings)
    return [
        f"iax.conf with {PEERS} friends ({size_kib:.0f} KiB, templates): "
        f"best {best:.3f} s of {ROUNDS} (budget 2 s) -> {len(config.users)} users, {len(config.peers)} peers",
        f"per friend: {best / PEERS * 1e6:.0f} us; errors: {errors}",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
