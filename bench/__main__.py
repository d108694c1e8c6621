"""`make bench`: speed and memory figures.

Every ``bench/bench_*.py`` module exposes ``run() -> list[str]``; this runs them all in
name order and prints their lines, so a figure is always measured the same way.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench
from pbxedge import iax2


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    print(f"IAX2 core: {iax2.build_name()}", flush=True)
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        print(f"== {name[len('bench_'):]} ==", flush=True)
        for line in module.run():
            print(f"  {line}", flush=True)
        print(f"  ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
