"""Start-up cost of the offline commands: `costwarden check -f` of the bundled examples
against `python -c pass`, whole processes, interleaved so that both see the same machine.

Prints the median wall time of each and their ratio (issue 19 bounds it at 25×).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

RUNS = 21


USERS_ENVIRONMENT = {
    name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"
}
"""The environment both commands run in: this one, but that Python keeps the bytecode it
compiles, as on a user's machine after the first run. With PYTHONDONTWRITEBYTECODE set (some
sandboxes set it) every run would compile every module it imports, changed since the last
install, from source: a measure of the compiler, not of costwarden's start-up."""


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        env=USERS_ENVIRONMENT,
    )
    return time.perf_counter() - start


def main() -> None:
    examples = str(resources.files("costwarden").joinpath("data", "examples"))
    script = Path(sys.executable).parent / "costwarden"  # the console script users run
    costwarden = [str(script)] if script.exists() else [sys.executable, "-m", "costwarden"]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "costwarden check -f examples": [*costwarden, "check", "-f", examples],
    }
    for command in commands.values():  # warm the page cache and the bytecode
        _wall(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(RUNS):
        for name, command in commands.items():
            times[name].append(_wall(command))
    medians = {name: statistics.median(runs) for name, runs in times.items()}
    # The interpreter's build matters to the ratio: start-up is mostly imports and class
    # creation, which an optimised (PGO/LTO) build such as Debian's runs faster than the bare
    # `python -c pass` it is divided by.
    print(f"interpreter: {sys.executable} (Python {sys.version.split()[0]})")
    for name, median in medians.items():
        print(f"{name:32} {median * 1000:8.1f} ms  (median of {RUNS}, interleaved)")
    baseline, check = medians.values()
    print(f"{'ratio':32} {check / baseline:8.1f} ×  (bound: 25 ×)")
