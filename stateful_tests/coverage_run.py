"""`nox -s coverage`: which lines and branches of the SDK's scheduler the explorations reach.

A model checker is only as good as the code it drives; this measures that on the SDK itself.
coverage.py runs around a sign-off-like exploration of the REAL `concurrency/executor.py` and
`concurrency/models.py` (every canonical scenario exhaustively within one delay, plus Hypothesis
examples drawing scenario and interleaving together, as `nox -s check` does), for each cached
version, and writes docs/coverage.md: the figures, and every line or branch of the scheduling
paths that no execution reached, each with the reason it is out of reach.

Two settings matter and are checked by the run itself:

- `concurrency=["greenlet"]`: the runtime runs every logical thread as a greenlet on one OS
  thread. Without it coverage's tracer keeps one frame stack per OS thread, so a switch between
  greenlets attributes lines and arcs to the wrong frame. `--compare` measures both ways.
- The SDK's own `# pragma: no branch` marks are NOT honoured (`partial_branches` is emptied):
  they hide branches the SDK's real-thread tests could not reach reliably ("hard to test
  reliably"), which is exactly what a deterministic scheduler should reach.

On Python 3.11 the tracer is the C tracer (`CTracer`); `sys.monitoring` (coverage's `sysmon`
core) only exists from 3.12 and does not support greenlet concurrency, so coverage falls back
to `ctrace` there too. The core actually used is printed and written to the page.

    python -m stateful_tests.coverage_run [--sdk 1.6.0 1.5.0] [--delays 1] [--examples 40]
                                          [--seed 0] [--compare | --no-compare] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import coverage
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from interleavings.strategies import DFS, DelayBound, HypothesisStrategy, PreemptionBound
from scheduler.target import SdkModules, load, resolve
from stateful_tests.scenarios import canonical, scenarios
from stateful_tests.signoff import GRANULARITY, run_case

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "coverage.md"
FILES = ("concurrency/executor.py", "concurrency/models.py")
MAX_STEPS = 6_000

# The scheduling paths: every line and branch of these is listed when missed.
SCHEDULING = (
    "TimerScheduler.__init__",
    "TimerScheduler.__enter__",
    "TimerScheduler.__exit__",
    "TimerScheduler.schedule_resume",
    "TimerScheduler.shutdown",
    "TimerScheduler._timer_loop",
    "ConcurrentExecutor.execute",
    "ConcurrentExecutor.execute.resubmitter",
    "ConcurrentExecutor.execute.submit_task",
    "ConcurrentExecutor.execute.submit_task.on_done",
    "ConcurrentExecutor._on_task_complete",
    "ConcurrentExecutor.should_execution_suspend",
)

# Why a scheduling-path line or branch is missed. Each entry: (function, "line" | "branch" |
# "any", regex on the source text of the missed line (or of the branch's source line), why).
# Checked in order; the first match explains the miss. A miss that matches nothing is reported
# as UNEXPLAINED: a new gap someone must look at (a new SDK version, or a weaker exploration).
_EMPTY = "an empty map returns before anything is scheduled; every scenario has at least one branch"
_RESUME_ERROR = (
    "the refresh's `except Exception` path: the real failure, `BackgroundThreadError`, is a "
    "BaseException and escapes it (that is the refresh-failure hang). The fault model raises "
    "only what the real `ExecutionState` raises (test_contract_refresh.py), so no run gets "
    "here; only a mock raising an Exception, as the fix's own unit test does, reaches it"
)
_CLOCK = (
    "a queued entry is always SUSPENDED_WITH_TIMEOUT (the status is set before the push), so "
    "`can_resume` is False only if the wall clock steps backwards between the timer's "
    "`time.time()` and `can_resume`'s own reading. clock-back steps it at t=1.0, but no "
    "schedule within the bound puts the step inside that window (an exhaustive two-delay "
    "search of clock-back does not either)"
)
_READY_EMPTY = (
    "no due entry was resumable: the backwards clock step above, or `shutdown()` clearing the "
    "heap between the peek and the drain, which needs its 1 s join to time out while the timer "
    "is runnable (virtual time never advances while a thread can run)"
)
_RECHECK = (
    "the SDK's own `# pragma: no branch` double-safety check. Only the timer pops and only "
    "`shutdown()` clears, after `join(timeout=1.0)`: the timer would have to be runnable yet "
    "unscheduled for 1 s between its peek and its re-check. Virtual time never advances while "
    "a thread can run, so no schedule reaches it (an exhaustive two-delay search of a lone due "
    "branch with eager time does not either); on real threads it takes a 1 s stall"
)
_ALL_TERMINAL = (
    "every branch terminal while the counters lag: a done-callback between `complete()` or "
    "`fail()` and its counter update while another callback runs the suspend check. It needs "
    "two branches finishing at the same instant, which no canonical scenario has; a one-delay "
    "DFS of two branches returning values together reaches it (a gap of the canonical set)"
)
_TWO_TIMERS = (
    "two branches waiting on timers at a suspend check, the later one not due earlier, and no "
    "active branch before them in index order. In the canonical scenarios branch 0 (the "
    "keeper) is still running whenever two timers are pending, so the scan stops there; a "
    "one-delay DFS of two timed branches followed by a short keeper reaches it"
)
_ORPHAN = (
    "an attempt ending after execute() returned (min_successful reached, or fail fast) with an "
    "`orphan` outcome. No canonical scenario has one and the Hypothesis examples drawn did not "
    "combine them; the default schedule of `b0=value, b1=orphan after 1s, min_successful=1` "
    "reaches it (a gap of the canonical set)"
)
REASONS: tuple[tuple[str, str, str, str], ...] = (
    ("TimerScheduler._timer_loop", "branch", r"pragma: no branch", _RECHECK),
    ("TimerScheduler._timer_loop", "branch", r"exe_state\.can_resume", _CLOCK),
    ("TimerScheduler._timer_loop", "branch", r"^if ready:", _READY_EMPTY),
    ("ConcurrentExecutor.execute", "any", r"not self\.executables|No items to execute", _EMPTY),
    ("ConcurrentExecutor.execute", "line", r"return self\._create_result\(\)", _EMPTY),
    ("ConcurrentExecutor.execute", "any", r"_resume_error", _RESUME_ERROR),
    (
        "ConcurrentExecutor.execute.resubmitter",
        "any",
        r"_resume_error|_completion_event|^return$",
        _RESUME_ERROR,
    ),
    (
        "ConcurrentExecutor.should_execution_suspend",
        "any",
        r"do_not_suspend\(\)|indefinite_suspend_task",
        _ALL_TERMINAL,
    ),
    ("ConcurrentExecutor.should_execution_suspend", "branch", r"^if \($", _TWO_TIMERS),
    ("ConcurrentExecutor._on_task_complete", "line", r"logger\.debug\(|^return$", _ORPHAN),
)

_SERIALISATION = "serialisation of the result for checkpoints and replay; execute() only builds it"
_ACCESSOR = "read by the caller of map/parallel on the result; the executor never reads it"
_UNUSED = "no 1.x code calls it (the SDK has no caller)"
# Why functions outside the scheduling paths are (partly) missed.
FUNCTION_REASONS: dict[str, str] = {
    "ConcurrentExecutor.replay": "replays checkpointed children without running them: no "
    "thread, timer or pool is involved, so no interleaving can matter",
    "ConcurrentExecutor._execute_item_in_child_context": "the branch body; the scripted "
    "executor overrides it to play the scenario's attempt (the child context needs AWS state)",
    "ConcurrentExecutor._execute_item_in_child_context.run_in_child_handler": "inside the "
    "branch body, overridden as above",
    "ConcurrentExecutor.execute_item": "abstract; the scripted executor implements it",
    "ConcurrentExecutor.get_iteration_name": "called only from the overridden branch body",
    "ConcurrentExecutor._create_result": "the `match` has a case for every BranchStatus, so "
    "its fall-through back to the loop cannot happen",
    "BatchItem.to_dict": _SERIALISATION,
    "BatchItem.from_dict": _SERIALISATION,
    "BatchResult.from_dict": _SERIALISATION,
    "BatchResult.to_dict": _SERIALISATION,
    "BatchResult._get_completion_reason": "the reason for count and configuration "
    "combinations no exploration produced; pure arithmetic on counts, no thread involved "
    "(`outcome_matches_completion` checks every reason that does occur)",
    "BatchResult.succeeded": _ACCESSOR,
    "BatchResult.failed": _ACCESSOR,
    "BatchResult.started": _ACCESSOR,
    "BatchResult.status": _ACCESSOR,
    "BatchResult.has_failure": _ACCESSOR,
    "BatchResult.throw_if_error": _ACCESSOR,
    "BatchResult.get_results": _ACCESSOR,
    "BatchResult.get_errors": _ACCESSOR,
    "BatchResult.success_count": _ACCESSOR,
    "BatchResult.failure_count": _ACCESSOR,
    "BatchResult.started_count": _ACCESSOR,
    "BatchResult.total_count": _ACCESSOR,
    "ExecutableWithState.future": "an accessor the 1.x executor never calls (it keeps the "
    "futures itself)",
    "ExecutableWithState.is_running": _UNUSED,
    "ExecutableWithState.callable": _UNUSED,
    "ExecutableWithState.result": "the InvalidStateError guard: `_create_result` reads a "
    "result only from a COMPLETED branch",
    "ExecutableWithState.error": "the InvalidStateError guard: `_create_result` reads an "
    "error only from a FAILED branch",
    "ExecutableWithState.run": "the InvalidStateError guard against starting a branch that is "
    "not PENDING: no schedule submitted a branch twice (what `no_double_resume` checks too)",
    "ExecutionCounters.should_continue": "failures over a tolerated PERCENTAGE: no exploration "
    "drew a failing branch with a percentage set below its failure rate",
    "ExecutionCounters.is_all_completed": _UNUSED,
    "ExecutionCounters.is_min_successful_reached": _UNUSED,
    "ExecutionCounters.is_failure_tolerance_exceeded": _UNUSED,
    "ExecutionCounters._is_failure_condition_reached": _UNUSED,
}


@dataclass
class Miss:
    """One missed line, or one missed branch (line -> destination; -N = exit of function)."""

    function: str
    line: int
    text: str
    destination: int | None = None  # None for a missed line
    reason: str = ""

    def where(self) -> str:
        if self.destination is None:
            return f"line {self.line}"
        to = "exit" if self.destination < 0 else str(self.destination)
        return f"branch {self.line}->{to}"


@dataclass
class FileFigures:
    path: str  # relative to the package
    statements: int
    covered_lines: int
    branches: int
    covered_branches: int
    partial: int

    @property
    def line_pct(self) -> float:
        return 100.0 * self.covered_lines / self.statements if self.statements else 100.0

    @property
    def branch_pct(self) -> float:
        return 100.0 * self.covered_branches / self.branches if self.branches else 100.0


@dataclass
class VersionCoverage:
    version: str
    core: str
    concurrency: str
    executions: int
    hypothesis_examples: int
    seconds: float
    files: list[FileFigures] = field(default_factory=list)
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)  # qualname -> summary
    misses: list[Miss] = field(default_factory=list)  # scheduling paths only
    other: list[tuple[str, str, str]] = field(default_factory=list)  # (function, figures, why)
    lines_executed: dict[str, set[int]] = field(default_factory=dict)
    arcs_executed: dict[str, set[tuple[int, int]]] = field(default_factory=dict)
    report: str = ""


# ---------------------------------------------------------------------------------------------
# exploring


def explore(sdk: SdkModules, delays: int, examples: int, seed: int) -> tuple[int, int]:
    """The sign-off's two searches, without stopping at violations: every canonical scenario
    under `DelayBound(DFS(), delays)` to exhaustion, then `examples` Hypothesis examples.
    Returns (executions, Hypothesis examples run)."""
    executions = 0
    for scenario in canonical().values():
        strategy = DelayBound(DFS(), delays)
        while strategy.begin():
            executions += 1
            run_case(sdk, scenario, strategy, MAX_STEPS, locations=False)
    ran = [0]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        verbosity=Verbosity.quiet,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(seed)
    @given(scenario=scenarios(max_branches=3), data=st.data())
    def case(scenario: Any, data: st.DataObject) -> None:
        ran[0] += 1
        bound = data.draw(st.integers(0, 3))
        weight = data.draw(st.sampled_from((2, 1, 4, 8)))
        strategy = PreemptionBound(HypothesisStrategy(data.draw, preempt_weight=weight), bound)
        run_case(sdk, scenario, strategy, MAX_STEPS, locations=False)

    if examples:
        case()
    return executions + ran[0], ran[0]


def measure(
    version: str,
    delays: int,
    examples: int,
    seed: int,
    greenlets: bool = True,
    progress: Callable[[str], None] | None = None,
) -> VersionCoverage:
    """Coverage of one version's executor and models under the explorations.

    Coverage starts before the SDK is imported (`load` purges and re-imports it), so the
    module-level lines (class and def statements) count as they would in any test run.
    """
    target = resolve(version)
    paths = {rel: str((target.package_dir / rel).resolve()) for rel in FILES}
    options: dict[str, Any] = {"concurrency": ["greenlet"]} if greenlets else {}
    cov = coverage.Coverage(branch=True, include=list(paths.values()), data_file=None, **options)
    cov.set_option("report:partial_branches", [])  # measure the SDK's "no branch" branches too
    started = time.perf_counter()
    cov.start()
    try:
        sdk = load(target)
        executions, ran = explore(sdk, delays, examples, seed)
    finally:
        cov.stop()
    seconds = time.perf_counter() - started
    core = dict(cov.sys_info()).get("core", "unknown")
    result = VersionCoverage(
        version=version,
        core=str(core),
        concurrency="greenlet" if greenlets else "thread (default)",
        executions=executions,
        hypothesis_examples=ran,
        seconds=seconds,
    )
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.txt"
        with report.open("w") as fh:
            cov.report(show_missing=True, file=fh)
        result.report = report.read_text()
        data_path = Path(tmp) / "coverage.json"
        cov.json_report(outfile=str(data_path))
        data = json.loads(data_path.read_text())
    for rel, path in paths.items():
        _digest(result, rel, path, data["files"][_key(data, path)])
    if progress is not None:
        progress(f"{version}: {executions} executions ({ran} Hypothesis) in {seconds:.0f} s")
    return result


def _key(data: dict[str, Any], path: str) -> str:
    """The JSON report names files relative to the current directory when it can."""
    for key in data["files"]:
        if Path(key).resolve() == Path(path):
            return key
    raise KeyError(path)


def _digest(result: VersionCoverage, rel: str, path: str, entry: dict[str, Any]) -> None:
    """File figures, per-function summaries and explained misses from coverage's JSON."""
    summary = entry["summary"]
    result.files.append(
        FileFigures(
            path=rel,
            statements=summary["num_statements"],
            covered_lines=summary["covered_lines"],
            branches=summary["num_branches"],
            covered_branches=summary["covered_branches"],
            partial=summary["num_partial_branches"],
        )
    )
    result.lines_executed[rel] = set(entry["executed_lines"])
    result.arcs_executed[rel] = {tuple(a) for a in entry["executed_branches"]}  # type: ignore[misc]
    source = Path(path).read_text().splitlines()
    for name, region in entry.get("functions", {}).items():
        if not name:
            continue
        result.functions[f"{rel}:{name}"] = region["summary"]
        if name in SCHEDULING:
            for line in region["missing_lines"]:
                miss = Miss(name, line, source[line - 1].strip())
                miss.reason = _reason(miss)
                result.misses.append(miss)
            for line, dest in region["missing_branches"]:
                miss = Miss(name, line, source[line - 1].strip(), destination=dest)
                miss.reason = _reason(miss)
                result.misses.append(miss)
        elif region["missing_lines"] or region["missing_branches"]:
            s = region["summary"]
            figures = (
                f"{s['covered_lines']}/{s['num_statements']} lines, "
                f"{s['covered_branches']}/{s['num_branches']} branches"
            )
            result.other.append((f"{rel}:{name}", figures, _function_reason(name)))


def _reason(miss: Miss) -> str:
    """The first matching entry of REASONS, or UNEXPLAINED."""
    kind = "line" if miss.destination is None else "branch"
    for function, applies, pattern, reason in REASONS:
        if miss.function == function and applies in (kind, "any") and re.search(pattern, miss.text):
            return reason
    return "UNEXPLAINED"


def _function_reason(name: str) -> str:
    """Why a function outside the scheduling paths is (partly) missed, or UNEXPLAINED."""
    return FUNCTION_REASONS.get(name, "UNEXPLAINED")


# ---------------------------------------------------------------------------------------------
# the page


def compare(with_greenlet: VersionCoverage, without: VersionCoverage) -> list[str]:
    """What the default (thread) concurrency setting gets wrong under greenlets."""
    out = []

    def listed(items: set[Any]) -> str:
        if not items:
            return "0"
        shown = ", ".join(
            str(i) if isinstance(i, int) else f"{i[0]}->{'exit' if i[1] < 0 else i[1]}"
            for i in sorted(items)
        )
        return f"{len(items)} ({shown})"

    for rel in FILES:
        a, b = with_greenlet.lines_executed[rel], without.lines_executed[rel]
        arcs_a, arcs_b = with_greenlet.arcs_executed[rel], without.arcs_executed[rel]
        out.append(
            f"| {rel} | {listed(b - a)} | {listed(a - b)} | {listed(arcs_b - arcs_a)} | "
            f"{listed(arcs_a - arcs_b)} |"
        )
    return out


def render(results: list[VersionCoverage], thread_only: VersionCoverage | None, args: Any) -> str:
    """The whole page, in markdown."""
    lines = [
        "# Coverage of the SDK's scheduler",
        "",
        "Written by `nox -s coverage` (`python -m stateful_tests.coverage_run`). Line and",
        "branch coverage of the SDK's `concurrency/executor.py` and `concurrency/models.py`",
        "(the cached released sources) reached by the checker's explorations under the",
        "deterministic runtime:",
        "",
        "- every canonical scenario (`stateful_tests/scenarios.canonical()`) under",
        f"  `DelayBound(DFS(), {args.delays})`, explored to exhaustion (the sign-off's systematic",
        "  search);",
        f"- {args.examples} Hypothesis examples (seed {args.seed}) drawing a scenario",
        "  (`scenarios(max_branches=3)`) and its interleaving together, as the sign-off does;",
        f"- granularity `{GRANULARITY}`, every execution judged by the invariant catalog.",
        "",
        'coverage.py settings: `branch=True`, `concurrency=["greenlet"]`, and the SDK\'s own',
        "`# pragma: no branch` marks are not honoured (`partial_branches = []`): the branches",
        'the SDK\'s real-thread tests call "hard to test reliably" are counted here.',
        "",
        "## Figures",
        "",
        "| sdk | file | lines | line coverage | branches | branch coverage | partial |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for f in r.files:
            lines.append(
                f"| {r.version} | {f.path} | {f.covered_lines}/{f.statements} | "
                f"{f.line_pct:.1f}% | {f.covered_branches}/{f.branches} | {f.branch_pct:.1f}% "
                f"| {f.partial} |"
            )
    lines += ["", "| sdk | executions | of which Hypothesis | seconds (traced) | tracer core |"]
    lines += ["|---|---:|---:|---:|---|"]
    for r in results:
        lines.append(
            f"| {r.version} | {r.executions:,} | {r.hypothesis_examples} | {r.seconds:.0f} | "
            f"{r.core} |"
        )
    lines += ["", "### Scheduling paths, per function", ""]
    lines += ["| sdk | function | lines | branches |", "|---|---|---:|---:|"]
    for r in results:
        for name in SCHEDULING:
            s = r.functions.get(f"concurrency/executor.py:{name}")
            if s is None:
                continue
            lines.append(
                f"| {r.version} | `{name}` | {s['covered_lines']}/{s['num_statements']} | "
                f"{s['covered_branches']}/{s['num_branches']} |"
            )
    lines += [
        "",
        "## What the explorations miss in the scheduling paths, and why",
        "",
        "`TimerScheduler`, `execute` with its nested `resubmitter`, `submit_task` and `on_done`,",
        "`_on_task_complete` and `should_execution_suspend`. A branch `a->b` is the jump from",
        "line a to line b that never happened (`exit`: leaving the function).",
        "",
    ]
    for r in results:
        lines += [f"### {r.version}", ""]
        if not r.misses:
            lines += ["Nothing missed.", ""]
            continue
        lines += ["| function | missed | code | why it is not reached |", "|---|---|---|---|"]
        groups: dict[tuple[str, str], list[Miss]] = {}
        for m in r.misses:
            groups.setdefault((m.function, m.reason), []).append(m)
        for (function, reason), misses in groups.items():
            where = ", ".join(m.where() for m in misses)
            texts = dict.fromkeys(m.text.replace("|", "\\|") for m in misses)
            code = "<br>".join(f"`{t}`" for t in texts)
            lines.append(f"| `{function}` | {where} | {code} | {reason} |")
        lines.append("")
    lines += [
        "## Outside the scheduling paths",
        "",
        "Functions with any miss that schedule nothing (result building, serialisation, replay,",
        "the branch body the scripted executor replaces).",
        "",
    ]
    for r in results:
        lines += [f"### {r.version}", "", "| function | reached | why not all |", "|---|---|---|"]
        lines += [f"| `{name}` | {figures} | {why} |" for name, figures, why in r.other]
        lines.append("")
    if thread_only is not None:
        with_g = next(r for r in results if r.version == thread_only.version)
        lines += [
            '## Why `concurrency=["greenlet"]`',
            "",
            f"The same exploration of {thread_only.version} measured with coverage's default",
            "concurrency setting (`thread`), against the figures above: under greenlets the",
            "default tracer keeps one frame stack per OS thread, so when the runtime switches",
            'logical threads it charges lines and arcs to the wrong frame. "Phantom" lines and',
            'branches are reported executed only without `greenlet`, "lost" ones only with',
            "it. The greenlet-aware run is the reference: phantom lines seen so far lie in code",
            "that cannot run here (the overridden `_execute_item_in_child_context`,",
            "`BatchItem.to_dict`). Any non-zero cell makes the default setting untrustworthy.",
            "",
            "| file | phantom lines | lost lines | phantom branches | lost branches |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += compare(with_g, thread_only)
        lines += [
            "",
            f"Tracer core in both runs: `{thread_only.core}` (Python {sys.version.split()[0]}).",
            "`sys.monitoring` exists only from 3.12, and there coverage's `sysmon` core refuses",
            "`concurrency=greenlet` and falls back to `ctrace`, so this measurement always runs",
            "on the C tracer.",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure each version, print coverage's own report, write the page."""
    from stateful_tests.cli import Parser, positive_int

    parser = Parser(
        prog="python -m stateful_tests.coverage_run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sdk", nargs="+", default=["1.6.0", "1.5.0"])
    parser.add_argument("--delays", type=positive_int, default=1)
    parser.add_argument("--examples", type=positive_int, default=40)
    parser.add_argument("--seed", type=positive_int, default=0)
    parser.add_argument(
        "--compare",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the first version without concurrency=greenlet",
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--json", dest="json_file", default=None)
    args = parser.parse_args(argv)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    results = []
    for version in args.sdk:
        result = measure(version, args.delays, args.examples, args.seed, progress=progress)
        print(f"== {version} (core {result.core}, concurrency {result.concurrency})")
        print(result.report)
        results.append(result)
    thread_only = None
    if args.compare:
        thread_only = measure(
            args.sdk[0], args.delays, args.examples, args.seed, greenlets=False, progress=progress
        )
    page = render(results, thread_only, args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(page)
    unexplained = [m for r in results for m in r.misses if m.reason == "UNEXPLAINED"]
    unexplained += [o for r in results for o in r.other if o[2] == "UNEXPLAINED"]
    if args.json_file:
        Path(args.json_file).write_text(
            json.dumps(
                [
                    {
                        "sdk": r.version,
                        "core": r.core,
                        "executions": r.executions,
                        "files": [vars(f) for f in r.files],
                        "misses": [vars(m) for m in r.misses],
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    for r in results:
        figures = ", ".join(
            f"{f.path} lines {f.line_pct:.1f}% branches {f.branch_pct:.1f}%" for f in r.files
        )
        print(f"coverage: sdk={r.version} {figures}")
    print(f"coverage: wrote {args.out}; unexplained misses: {len(unexplained)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
