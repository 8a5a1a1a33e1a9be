"""How fast the runtime is: scheduling points per second per granularity, executions per second.

The budgets of `nox -s check` are counted in executions, so these two figures say what a budget
costs in seconds. The workloads are the runtime's own test programs
(`stateful_tests/programs/classic.py`), imported only when measuring so that the runtime itself
never depends on the test tree. Timing uses the real `time.perf_counter` (`--clock cpu`: this
process's CPU time, `time.process_time`, which other load on a shared machine disturbs less);
every figure is the median of `repeats` runs.

    python -m interleavings.bench [--repeats 5] [--clock wall|cpu] [--json FILE]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
import types
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from interleavings.explore import run_once
from interleavings.patching import patched
from interleavings.points import lines, watched
from interleavings.strategies import RandomWalk

PROGRAMS = "stateful_tests.programs.classic"
LOOP_ITERATIONS = 250  # per thread: about 1,000 points at sync granularity per execution
POINT_TARGET = 20_000  # scheduling points timed per repeat
EXECUTIONS = 200  # executions timed per program per repeat
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass
class Row:
    measure: str
    workload: str
    granularity: str
    median: float
    unit: str


def _classic() -> types.ModuleType:
    return importlib.import_module(PROGRAMS)


@contextmanager
def _granularity(module: types.ModuleType, granularity: str) -> Iterator[None]:
    """The same program at `sync`, `access` (the counter's value) or `line` points."""
    with ExitStack() as stack:
        stack.enter_context(patched(module))
        if granularity == "access":
            stack.enter_context(watched(module.Counter, "value"))
        elif granularity == "line":
            stack.enter_context(lines(module))
        yield


def _points_per_second(
    module: types.ModuleType, granularity: str, seed: int, clock: Callable[[], float]
) -> float:
    def body() -> None:
        module.tight_loop(LOOP_ITERATIONS)

    strategy = RandomWalk(seed)
    points = 0
    with _granularity(module, granularity):
        start = clock()
        while points < POINT_TARGET:
            outcome = run_once(body, strategy)
            if outcome.status != "ok" or outcome.main_error is not None:
                raise RuntimeError(f"benchmark loop failed: {outcome.status} {outcome.reason}")
            points += outcome.steps
        elapsed = clock() - start
    return points / elapsed


def _executions_per_second(
    module: types.ModuleType,
    program: Callable[[], Any],
    granularity: str,
    seed: int,
    clock: Callable[[], float],
) -> float:
    strategy = RandomWalk(seed)
    with _granularity(module, granularity):
        start = clock()
        for _ in range(EXECUTIONS):
            run_once(program, strategy)
        elapsed = clock() - start
    return EXECUTIONS / elapsed


def _median(sample: Callable[[int], float], repeats: int) -> float:
    return statistics.median(sample(seed) for seed in range(repeats))


def measure(repeats: int = 5, clock: Callable[[], float] = time.perf_counter) -> list[Row]:
    """Every figure, each the median of `repeats` runs (seed = repeat index)."""
    module = _classic()
    rows: list[Row] = []
    for granularity in ("sync", "access", "line"):
        value = _median(lambda s, g=granularity: _points_per_second(module, g, s, clock), repeats)
        rows.append(Row("scheduling points/s", "tight_loop", granularity, value, "points/s"))
    for name, variants in module.BUGS.items():
        granularity = "access" if name == "lost_update" else "sync"
        for label, program in zip(("buggy", "fixed"), variants):
            value = _median(
                lambda s, p=program, g=granularity: _executions_per_second(module, p, g, s, clock),
                repeats,
            )
            rows.append(
                Row("executions/s", f"{name} ({label})", granularity, value, "executions/s")
            )
    return rows


def render(rows: list[Row], repeats: int) -> str:
    """A markdown table, ready for docs/benchmarks.md."""
    out = [
        f"Median of {repeats} repeats; RandomWalk; Python {sys.version.split()[0]}.",
        "",
        "| measure | workload | granularity | median |",
        "|---|---|---|---:|",
    ]
    for r in rows:
        out.append(f"| {r.measure} | {r.workload} | {r.granularity} | {r.median:,.0f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interleavings.bench", description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="wall", help="wall time (default) or CPU time"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    rows = measure(args.repeats, CLOCKS[args.clock])
    print(render(rows, args.repeats))
    print(
        f"\n{args.clock} clock; {os.cpu_count()} cores; load average (1 min) {load:.2f} at start,"
        f" {os.getloadavg()[0]:.2f} at end."
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(r) for r in rows], fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
