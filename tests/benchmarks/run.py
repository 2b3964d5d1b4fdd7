"""Run every benchmark (`bench_*.py` beside this file) and print its figures and ratios.

Benchmarks are not tests: they assert nothing about time. `make bench` runs them all but
the ones in `ON_DEMAND`; `make bench BENCH=estimate` runs the ones whose file name
contains "estimate".
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).parent
ON_DEMAND = frozenset({"bench_soak"})
"""Run only when named (`make soak-serve`): they take minutes."""


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE.parent.parent / "src"))
    wanted = argv[0] if argv else ""
    for path in sorted(HERE.glob("bench_*.py")):
        if wanted not in path.stem or (path.stem in ON_DEMAND and not wanted):
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # as an import would (dataclasses look it up)
        spec.loader.exec_module(module)
        print(f"== {path.stem}")
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
