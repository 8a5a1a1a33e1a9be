"""`nox -s bench`: what the checker costs and what it buys, written to docs/benchmarks.md.

Four measurements, each a median of repeated runs, none of them a test (nothing here asserts a
speed; a slow machine gets a slower page, not a failure):

1. The mechanism: one greenlet switch against one handoff between two OS threads through
   `threading.Event`. This is why the runtime is built on greenlets.
2. The runtime's speed: scheduling points and executions per second at each granularity
   (`interleavings.bench.measure`, on the classic programs), and the same for the REAL SDK
   executor on the canonical "wave" scenario.
3. Detection cost: for each known defect and each strategy, how many executions and seconds
   it takes to first break the defect's invariant in its canonical scenario (median over seeds;
   each attempt capped; a strategy that runs out of schedules or hits the cap says so).
4. The real-thread baseline (`stateful_tests.stress`): detections per 1000 real runs of the
   same scenarios, and what one detection costs there in runs and seconds.

    python -m stateful_tests.bench [--quick] [--seeds 5] [--cap 2000] [--cap-seconds 60]
                                   [--stress-json FILE | --stress-runs N] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import multiprocessing
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import greenlet
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from interleavings import bench as runtime_bench
from interleavings.points import lines as line_points
from interleavings.strategies import (
    DFS,
    PCT,
    DelayBound,
    PreemptionBound,
    RandomWalk,
)
from scheduler.adapter_v1 import GRANULARITIES, run_executor
from scheduler.scenario import Scenario
from scheduler.target import SdkModules
from stateful_tests import stress
from stateful_tests.scenarios import canonical
from stateful_tests.signoff import drawn_interleaving, run_case

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "benchmarks.md"
MAX_STEPS = 6_000  # the quick sign-off's per-execution step budget


# ---------------------------------------------------------------------------------------------
# 1. the mechanism


def _thread_handoff(n: int) -> float:
    """Seconds per handoff between two OS threads passing a baton through two Events."""
    ping, pong = threading.Event(), threading.Event()

    def other() -> None:
        for _ in range(n):
            ping.wait()
            ping.clear()
            pong.set()

    worker = threading.Thread(target=other, daemon=True)
    worker.start()
    start = time.perf_counter()
    for _ in range(n):
        ping.set()
        pong.wait()
        pong.clear()
    elapsed = time.perf_counter() - start
    worker.join(10)
    return elapsed / (2 * n)


def _greenlet_handoff(n: int) -> float:
    """Seconds per greenlet switch, the same baton passed between two greenlets."""
    main = greenlet.getcurrent()

    def other() -> None:
        while True:
            main.switch()

    peer = greenlet.greenlet(other)
    start = time.perf_counter()
    for _ in range(n):
        peer.switch()
    elapsed = time.perf_counter() - start
    peer.throw(greenlet.GreenletExit)
    return elapsed / (2 * n)


def handoff(repeats: int) -> dict[str, float]:
    """Median microseconds per handoff, OS threads vs greenlets."""
    threads = statistics.median(_thread_handoff(5_000) for _ in range(repeats))
    glets = statistics.median(_greenlet_handoff(100_000) for _ in range(repeats))
    return {"thread_us": threads * 1e6, "greenlet_us": glets * 1e6, "ratio": threads / glets}


def trace_switch() -> dict[str, int]:
    """Line events a `sys.settrace` tracer sees in two greenlets when it switches between them
    from inside its own callback, as a settrace-based scheduler would at every line.

    Why `line` granularity instruments the source (`interleavings.points.lines`) instead: the
    interpreter is still "inside the tracer" when the other greenlet resumes, so that one runs
    untraced (its count is 0 where the tracer works).
    """
    seen = {"first": 0, "second": 0}
    glets: dict[str, greenlet.greenlet] = {}

    def work(name: str, n: int) -> int:
        total = 0
        for i in range(n):
            total += i
        return total

    def tracer(frame: Any, event: str, _arg: Any) -> Any:
        if event == "line" and frame.f_code is work.__code__:
            me = frame.f_locals["name"]
            seen[me] += 1
            other = glets["second" if me == "first" else "first"]
            if not other.dead:
                other.switch()
        return tracer

    def run(name: str) -> None:
        sys.settrace(tracer)  # each greenlet asks to be traced; the outer finally clears it
        work(name, 50)

    previous = sys.gettrace()
    glets["first"] = greenlet.greenlet(lambda: run("first"))
    glets["second"] = greenlet.greenlet(lambda: run("second"))
    try:
        while not all(g.dead for g in glets.values()):
            for g in glets.values():
                if not g.dead:
                    g.switch()
    finally:
        sys.settrace(previous)
    return seen


# ---------------------------------------------------------------------------------------------
# 2. the runtime on the SDK


@dataclass
class SdkSpeed:
    granularity: str
    executions_per_s: float
    points_per_s: float
    points_per_execution: float


def lines_setup_ms(sdk: SdkModules, repeats: int) -> float:
    """Milliseconds to enter and leave `lines(executor, models)`: paid once per execution at
    `line` granularity, because `run_executor` opens it around every run."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        with line_points(sdk.executor, sdk.models):
            pass
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def sdk_speed(sdk: SdkModules, repeats: int, executions: int = 60) -> list[SdkSpeed]:
    """The real executor on "wave" under RandomWalk, at each granularity (no source locations,
    as the sign-off runs): executions/s and scheduling points/s, medians of `repeats`."""
    scenario = canonical()["wave"]
    rows = []
    for granularity in GRANULARITIES:
        samples = []
        for seed in range(repeats):
            strategy = RandomWalk(seed)
            points = 0
            start = time.perf_counter()
            for _ in range(executions):
                strategy.begin()
                outcome, _run = run_executor(
                    sdk, scenario, strategy, granularity=granularity, record_locations=False
                )
                points += outcome.steps
            elapsed = time.perf_counter() - start
            samples.append((executions / elapsed, points / elapsed, points / executions))
        rows.append(
            SdkSpeed(
                granularity,
                statistics.median(s[0] for s in samples),
                statistics.median(s[1] for s in samples),
                statistics.median(s[2] for s in samples),
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------
# 3. detection cost


@dataclass(frozen=True)
class Case:
    """A known defect as the model checker meets it: invariant, canonical scenario, version."""

    label: str
    invariant: str
    scenario: str
    version: str


TARGETS: tuple[Case, ...] = (
    Case("1.5.0 self-deadlock (inline done-callback on the timer)", "no_deadlock", "wave", "1.5.0"),
    Case(
        "refresh failure hang (BackgroundThreadError)",
        "no_hang_on_refresh_failure",
        "refresh-fails",
        "1.6.0",
    ),
    Case("1.5.0 refresh under the scheduler lock", "no_refresh_under_lock", "wave", "1.5.0"),
    Case("1.5.0 one refresh per resume", "one_refresh_per_wave", "wave", "1.5.0"),
    Case(
        "1.6.0 suspend-decision race",
        "outcome_matches_completion",
        "lone-due-at-once",
        "1.6.0",
    ),
    Case(
        "1.6.0 submit after exit (refresh outlives the 1 s join)",
        "no_resume_after_exit",
        "slow-refresh-fail-fast",
        "1.6.0",
    ),
)

STRATEGIES: dict[str, tuple[str, bool]] = {
    # name: (how it is built, seeded)
    "Hypothesis": ("@given: PreemptionBound(HypothesisStrategy(draw, w), b), b in 0..3", True),
    "RandomWalk": ("RandomWalk(seed)", True),
    "PCT d=2": ("PCT(seed, depth=2)", True),
    "PCT d=3": ("PCT(seed, depth=3)", True),
    "DFS delay<=1": ("DelayBound(DFS(), 1)", False),
    "DFS preempt<=1": ("PreemptionBound(DFS(), 1)", False),
    "DFS preempt<=2": ("PreemptionBound(DFS(), 2)", False),
}


def _strategy(name: str, seed: int) -> Any:
    """A fresh strategy object for one attempt."""
    if name == "RandomWalk":
        return RandomWalk(seed)
    if name == "PCT d=2":
        return PCT(seed, depth=2)
    if name == "PCT d=3":
        return PCT(seed, depth=3)
    if name == "DFS delay<=1":
        return DelayBound(DFS(), 1)
    if name == "DFS preempt<=1":
        return PreemptionBound(DFS(), 1)
    if name == "DFS preempt<=2":
        return PreemptionBound(DFS(), 2)
    raise ValueError(name)


@dataclass
class Attempt:
    """One search for one defect: how it ended and what it cost."""

    status: str  # "found", "exhausted" (no schedule left), "cap"
    executions: int
    seconds: float


def _found(sdk: SdkModules, scenario: Scenario, invariant: str, strategy: Any) -> bool:
    """One execution under `strategy`, judged by the whole catalog; did `invariant` break?"""
    _outcome, _run, violations = run_case(sdk, scenario, strategy, MAX_STEPS, locations=False)
    return any(v.invariant == invariant for v in violations)


def search(sdk: SdkModules, target: Case, name: str, seed: int, cap: int, cap_s: float) -> Attempt:
    """Run one strategy on the target's scenario until its invariant first breaks, or a cap."""
    scenario = canonical()[target.scenario]
    if name == "Hypothesis":
        return _hypothesis_search(sdk, scenario, target.invariant, seed, cap, cap_s)
    strategy = _strategy(name, seed)
    start = time.perf_counter()
    n = 0
    while n < cap and time.perf_counter() - start < cap_s:
        if not strategy.begin():
            return Attempt("exhausted", n, time.perf_counter() - start)
        n += 1
        if _found(sdk, scenario, target.invariant, strategy):
            return Attempt("found", n, time.perf_counter() - start)
    return Attempt("cap", n, time.perf_counter() - start)


class _Detected(Exception):
    """Raised inside the @given body to end the search at the first detection."""


def _hypothesis_search(
    sdk: SdkModules, scenario: Scenario, invariant: str, seed: int, cap: int, cap_s: float
) -> Attempt:
    """A small @given search over interleavings, shaped like the sign-off's: the preemption
    bound and weight are drawn first, then every scheduling decision. Generation only: the
    cost of FINDING is measured, shrinking comes after and is not counted. Only the executions
    cap applies (`max_examples`): stopping a Hypothesis run on a clock would make its example
    tree inconsistent, so `cap_s` is reported, not enforced, here."""
    state: dict[str, Any] = {"n": 0, "hit": None}
    start = time.perf_counter()

    @settings(
        max_examples=cap,
        deadline=None,
        database=None,
        derandomize=False,
        verbosity=Verbosity.quiet,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(seed)
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        strategy = drawn_interleaving(data)
        if state["hit"] is None:
            state["n"] += 1  # Hypothesis replays the failing example at the end: not counted
        if _found(sdk, scenario, invariant, strategy):
            if state["hit"] is None:
                state["hit"] = Attempt("found", state["n"], time.perf_counter() - start)
            raise _Detected(invariant)

    try:
        case()
    except (_Detected, BaseExceptionGroup):
        pass
    except Exception:
        if state["hit"] is None:
            raise
        # e.g. Hypothesis judging the replay of the detection flaky: the first detection stands
    if state["hit"] is not None:
        return state["hit"]
    elapsed = time.perf_counter() - start
    status = "cap" if state["n"] >= cap or elapsed > cap_s else "exhausted"
    return Attempt(status, state["n"], elapsed)


@dataclass
class Cost:
    """The attempts of one strategy on one target, summarised."""

    target: str
    invariant: str
    scenario: str
    version: str
    strategy: str
    attempts: list[Attempt]

    @property
    def found(self) -> int:
        return sum(1 for a in self.attempts if a.status == "found")

    def median(self, what: str) -> float:
        """Median over attempts, a miss counting as infinitely late (so a median of inf means
        more than half the attempts missed)."""
        values = [getattr(a, what) if a.status == "found" else math.inf for a in self.attempts]
        return statistics.median(values)

    def cell(self, cap: int, cap_s: float) -> str:
        n = len(self.attempts)
        if self.found == 0:
            a = self.attempts[0]
            if all(x.status == "exhausted" for x in self.attempts):
                return f"not found: space exhausted after {a.executions} executions"
            most = max(x.executions for x in self.attempts)
            return f"not found within cap ({most} executions / {cap_s:g} s)"
        execs, secs = self.median("executions"), self.median("seconds")
        if math.isinf(execs):
            return f"found in {self.found}/{n} only (median not found within cap)"
        runs = "" if n == 1 else f" ({self.found}/{n} seeds)"
        return f"{execs:,.0f} exec, {secs:.2f} s{runs}"


def _cost_job(job: tuple[Case, str, int, int, float]) -> tuple[Case, str, int, Attempt]:
    """A worker process's attempt (spawned workers load the SDK once each)."""
    target, name, seed, cap, cap_s = job
    sdk = stress.sdk_for(target.version)
    return target, name, seed, search(sdk, target, name, seed, cap, cap_s)


def detection_costs(
    seeds: int, cap: int, cap_s: float, jobs: int, progress: Callable[[str], None]
) -> list[Cost]:
    """Every strategy on every target; seeded strategies over `seeds` seeds, DFS once."""
    plan = []
    for target in TARGETS:
        for name, (_how, seeded) in STRATEGIES.items():
            for seed in range(seeds if seeded else 1):
                plan.append((target, name, seed, cap, cap_s))
    # The longest attempts first, so the pool's last job is a short one.
    plan.sort(key=lambda j: (not j[1].startswith("DFS"), j[0].invariant != "no_deadlock"))
    found: dict[tuple[str, str], list[tuple[int, Attempt]]] = {}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(max(1, jobs)) as pool:
        for target, name, seed, attempt in pool.imap_unordered(_cost_job, plan):
            found.setdefault((target.label, name), []).append((seed, attempt))
            progress(
                f"{target.version} {target.invariant} {name} seed {seed}: {attempt.status} "
                f"after {attempt.executions} executions, {attempt.seconds:.2f} s"
            )
    costs = []
    for target in TARGETS:
        for name in STRATEGIES:
            attempts = [a for _s, a in sorted(found[(target.label, name)], key=lambda x: x[0])]
            costs.append(
                Cost(
                    target.label, target.invariant, target.scenario, target.version, name, attempts
                )
            )
    return costs


# ---------------------------------------------------------------------------------------------
# the page


def machine() -> dict[str, Any]:
    """What the figures were measured on; a benchmark without its machine means nothing."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or "unknown"
    try:
        load = os.getloadavg()
    except OSError:
        load = (math.nan, math.nan, math.nan)
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "greenlet": greenlet.__version__,
        "os": platform.platform(),
        "load average (1 min) at start": round(load[0], 2),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def baseline_rows(tally_json: dict[str, Any]) -> list[stress.Row]:
    """The stress table's rows back from its JSON."""
    rows = []
    for r in tally_json["rows"]:
        r = dict(r)
        r["ci95"] = tuple(r["ci95"])
        rows.append(stress.Row(**r))
    return rows


def comparison(costs: list[Cost], rows: list[stress.Row]) -> list[str]:
    """Per defect: the cheapest strategy's median against one real-thread detection."""
    out = [
        "| defect | best model strategy: median to first detection | real threads "
        "(same version): runs per detection | real threads: seconds per detection |",
        "|---|---|---|---|",
    ]
    for target in TARGETS:
        mine = [c for c in costs if c.target == target.label and c.found]
        best = min(mine, key=lambda c: c.median("seconds"), default=None)
        model = (
            "not found"
            if best is None or math.isinf(best.median("seconds"))
            else f"{best.strategy}: {best.median('executions'):,.0f} exec, "
            f"{best.median('seconds'):.2f} s"
        )
        real = [r for r in rows if r.invariant == target.invariant and r.sdk == target.version]
        hits = sum(r.detections for r in real)
        runs = sum(r.runs for r in real)
        seconds = sum(r.mean_run_s * r.runs for r in real)
        if not runs:
            per_runs = per_s = "not measured"
        elif hits:
            per_runs = f"{runs / hits:,.1f} ({hits}/{runs})"
            per_s = f"{seconds / hits:,.2f} s"
        else:
            per_runs = f"none in {runs} runs (> {runs / 3:,.0f} at 95%)"
            per_s = f"> {seconds / 3:,.0f} s at 95% (none seen)"
        out.append(f"| {target.label} | {model} | {per_runs} | {per_s} |")
    return out


def render(
    info: dict[str, Any],
    mech: dict[str, float],
    trace: dict[str, int],
    lines_ms: float,
    runtime_rows: list[runtime_bench.Row],
    sdk_rows: list[SdkSpeed],
    costs: list[Cost],
    baseline: dict[str, Any],
    args: argparse.Namespace,
    seconds: float,
) -> str:
    """The whole page, in markdown."""
    rows = baseline_rows(baseline)
    lines = [
        "# Benchmarks",
        "",
        "Written by `nox -s bench` (`python -m stateful_tests.bench`); every figure is a median of",
        "repeated runs. Benchmarks are not tests: nothing here asserts a speed. Re-run on your",
        "machine before comparing numbers; the load average below says how busy this one was.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += [
        "",
        "## Mechanism: greenlet switch vs OS-thread handoff",
        "",
        "A baton passed back and forth between two OS threads through `threading.Event`",
        "(set, wait, clear) against the same baton passed between two greenlets with `switch()`;",
        f"median of {args.repeats} repeats, time per one-way handoff.",
        "",
        "| mechanism | per handoff |",
        "|---|---:|",
        f"| OS threads, `threading.Event` | {mech['thread_us']:.2f} us |",
        f"| greenlet `switch()` | {mech['greenlet_us']:.3f} us |",
        "",
        f"A greenlet switch is about {mech['ratio']:,.0f}x cheaper, and a greenlet only runs",
        "when switched to, so no real thread can race the model: every interleaving is one",
        "the strategy chose. This is why `interleavings/` is built on greenlets.",
        "",
        "### Why `line` points instrument the source rather than use `sys.settrace`",
        "",
        "A tracer that switches greenlets from inside its own callback (what a",
        "settrace-based scheduler does at every line), two greenlets each running the same",
        "50-iteration loop: line events the tracer saw in each.",
        "",
        "| greenlet | line events seen |",
        "|---|---:|",
        f"| first | {trace['first']} |",
        f"| second | {trace['second']} |",
        "",
        "The interpreter is still inside the first greenlet's trace callback when the second",
        "resumes, so the second runs untraced. `interleavings.points.lines` recompiles the",
        "module with a plain call before every statement instead.",
        "",
        "## Runtime speed",
        "",
        "### Classic programs (`interleavings/bench.py`)",
        "",
        runtime_bench.render(runtime_rows, args.repeats),
        "",
        '### The real SDK executor (1.6.0, scenario "wave", RandomWalk, no source locations)',
        "",
        f"Median of {args.repeats} repeats of {args.sdk_executions} executions each.",
        "",
        "| granularity | executions/s | scheduling points/s | points per execution |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r.granularity} | {r.executions_per_s:,.0f} | {r.points_per_s:,.0f} "
        f"| {r.points_per_execution:,.0f} |"
        for r in sdk_rows
    ]
    lines += [
        "",
        "The sign-off explores at `access` granularity (every read and write of a branch's",
        "status is a scheduling point), so its budgets in executions convert to seconds with",
        "the `access` row. At `line` granularity each execution also opens",
        "`lines(executor, models)`, which swaps in the instrumented code objects (compiled once",
        f"per source and cached): {lines_ms:.1f} ms (median) per execution.",
        "",
        "## Detection cost per strategy",
        "",
        "Each known defect in its canonical scenario (`stateful_tests/scenarios.canonical()`),",
        "on the version named, at `access` granularity, judged by the sign-off's checks",
        "(`run_case`): executions and seconds until the defect's invariant first breaks.",
        f"Seeded strategies: median over {args.seeds} seeds (0..{args.seeds - 1}), a miss counting",
        "as infinitely late; DFS is deterministic and runs once. Each attempt is capped at",
        f"{args.cap:,} executions or {args.cap_seconds:g} s (Hypothesis: executions only, as a",
        'clock would make its example tree inconsistent). "space exhausted" means the bounded',
        "search tried every schedule within its bound: a proof that none of them shows the",
        "defect.",
        "",
        "Strategies:",
        "",
    ]
    lines += [f"- {name}: `{how}`" for name, (how, _s) in STRATEGIES.items()]
    lines += ["", "| defect | invariant | scenario | sdk | " + " | ".join(STRATEGIES) + " |"]
    lines += ["|---|---|---|---|" + "---|" * len(STRATEGIES)]
    for target in TARGETS:
        cells = [
            next(c for c in costs if c.target == target.label and c.strategy == name).cell(
                args.cap, args.cap_seconds
            )
            for name in STRATEGIES
        ]
        lines.append(
            f"| {target.label} | {target.invariant} | {target.scenario} | {target.version} | "
            + " | ".join(cells)
            + " |"
        )
    lines += [
        "",
        "## Real-thread baseline (`nox -s stress`)",
        "",
        "The same scenarios on real threads (`stateful_tests/stress.py`): real `threading`,",
        "real `ThreadPoolExecutor`, real clock and sleeps, one scenario second scaled to",
        f"{baseline['scale'][0]:g}-{baseline['scale'][1]:g} real seconds (log-uniform per run; the",
        "SDK's own 0.1 s timer poll and 1 s shutdown join cannot be scaled), every wait bounded.",
        f"{baseline['runs']:,} runs in {baseline['seconds']:,.0f} s over {baseline.get('jobs', 1)} "
        f"worker process(es); source: {baseline.get('source', 'this run')}.",
        "",
        stress.render(rows),
        "",
        "Detections / runs per band of scales (real seconds per scenario second). The SDK's",
        "0.1 s poll and 1 s join do not scale, so each defect shows only in some timing",
        "regimes; the rate above is an average over the range chosen.",
        "",
        stress.render_bands(
            [stress.RunResult(**r) for r in baseline.get("results", [])],
            tuple(baseline["scale"]),
        ),
        "",
        '"model finds it" says whether the model checker breaks that invariant on that',
        "version. due-at-once is a real-thread-only channel for the suspend-decision race:",
        "in virtual time the keeper's 2 s and the timer's 0.1 s poll never line up, while a",
        "real run at a scale near 0.05 lines them up.",
        "",
        "## Model checker vs real threads",
        "",
        "Per defect, the cheapest strategy's median cost to a first detection against what one",
        "detection costs on real threads at the baseline's rate (all of the defect's scenarios",
        "on that version; seconds are the runs' own time until execute() returned or was",
        "declared stuck). A real-thread rate also depends on the scale chosen (bands above);",
        "the model's cost does not, because its clock is virtual.",
        "",
    ]
    lines += comparison(costs, rows)
    lines += [
        "",
        '"> N at 95%": with no detection in n runs, the rate is below 3/n with 95%',
        "confidence (rule of three), so one detection costs more than n/3 runs.",
        "",
        f"This page took {seconds:,.0f} s to produce.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure everything, write the page; always exit 0 (benchmarks assert nothing)."""
    from stateful_tests.cli import Parser, positive_int

    parser = Parser(prog="python -m stateful_tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, seeds and runs")
    parser.add_argument("--repeats", type=positive_int, default=5)
    parser.add_argument("--sdk-executions", type=positive_int, default=60)
    parser.add_argument("--seeds", type=positive_int, default=5)
    parser.add_argument("--cap", type=positive_int, default=2_000, help="executions per attempt")
    parser.add_argument("--cap-seconds", type=float, default=60.0, help="seconds per attempt")
    parser.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument("--stress-json", default=None, help="reuse a `stress --json` result")
    parser.add_argument("--stress-runs", type=positive_int, default=60)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--json", dest="json_file", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.seeds, args.cap, args.cap_seconds = 3, 3, 500, 15.0
        args.stress_runs, args.sdk_executions = 20, 30

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.perf_counter()
    info = machine()
    progress("mechanism: greenlet switch vs thread handoff")
    mech = handoff(args.repeats)
    trace = trace_switch()
    progress("runtime speed on the classic programs")
    runtime_rows = runtime_bench.measure(args.repeats)
    progress("runtime speed on the SDK executor")
    sdk_rows = sdk_speed(stress.sdk_for("1.6.0"), args.repeats, args.sdk_executions)
    lines_ms = lines_setup_ms(stress.sdk_for("1.6.0"), args.repeats)
    progress("detection cost per strategy")
    costs = detection_costs(args.seeds, args.cap, args.cap_seconds, args.jobs, progress)
    if args.stress_json:
        baseline = json.loads(Path(args.stress_json).read_text())
        baseline.setdefault("source", f"`{args.stress_json}`")
    else:
        progress(f"real-thread baseline: {args.stress_runs} runs per scenario")
        t0 = time.perf_counter()
        tally = stress.stress(runs=args.stress_runs, jobs=max(4, args.jobs), progress=progress)
        baseline = tally.to_json(time.perf_counter() - t0, stress.DEFAULT_SCALE, max(4, args.jobs))
        baseline["source"] = (
            f"`stress.stress(runs={args.stress_runs}, jobs={max(4, args.jobs)})` run by this bench"
        )
    if hasattr(os, "getloadavg"):
        info["load average (1 min) at end"] = round(os.getloadavg()[0], 2)
    seconds = time.perf_counter() - started
    page = render(
        info, mech, trace, lines_ms, runtime_rows, sdk_rows, costs, baseline, args, seconds
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(page)
    print(page)
    if args.json_file:
        data = {
            "machine": info,
            "handoff": mech,
            "trace_switch": trace,
            "runtime": [asdict(r) for r in runtime_rows],
            "sdk": [asdict(r) for r in sdk_rows],
            "lines_setup_ms": lines_ms,
            "costs": [
                {
                    **{k: v for k, v in asdict(c).items() if k != "attempts"},
                    "attempts": [asdict(a) for a in c.attempts],
                }
                for c in costs
            ],
            "stress": {k: v for k, v in baseline.items() if k != "results"},
        }
        Path(args.json_file).write_text(json.dumps(data, indent=2, default=str))
    print(f"bench: wrote {args.out} in {seconds:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
