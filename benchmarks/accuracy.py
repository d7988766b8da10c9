"""Accuracy of every processor beside its classic baseline, computed in the same run:
change detection (leave-one-city-out on OSCD), flood mapping and cloud masking (each
from its own module, when present).

    .venv/bin/python -m benchmarks.accuracy [change|flood|cloud ...]

Quicklook PNGs go to ``benchmarks/out/`` (not committed).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

PARTS = {
    "change": "benchmarks.accuracy_change",
    "flood": "benchmarks.accuracy_flood",
    "cloud": "benchmarks.accuracy_cloud",
}


def main(argv: list[str]) -> int:
    wanted = argv or list(PARTS)
    unknown = [name for name in wanted if name not in PARTS]
    if unknown:
        print(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
        return 2
    for name in wanted:
        module_name = PARTS[name]
        if importlib.util.find_spec(module_name) is None:
            print(f"== {name}: {module_name} is not there yet, skipped")
            continue
        print(f"== {name}")
        importlib.import_module(module_name).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
