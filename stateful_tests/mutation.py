"""`nox -s mutants`: how many realistic scheduler mistakes the sign-off catches.

Each mutant of `scheduler.mutants` is the REAL target with one mistake made in its source. A
mutant is *killed* when the sign-off's searches find a violation of an invariant that the
unmutated target does not violate at the same budget and seed. The baseline is one `sign_off`
of the target; its violated invariants are excluded, so a mutant is never credited with a bug
the release already has.

Per mutant, in one worker process of its own (deterministic for a seed, whatever runs beside
it), the sign-off's searches run with the target set restricted to the invariants the
baseline keeps, and stop at the first hit: first the delay-bounded exhaustive search over the
canonical scenarios (bound 0 over every scenario, then bound 1, ...), then the regression
corpus, then the Hypothesis search (`signoff.search`), one pass per sign-off search group
seed, stopping and shrinking at its first failure. A survivor that breaks an excluded
invariant on a canonical scenario where the release, searched exhaustively, never does is
reported MASKED: evidence, not a kill.

Output: a table, then as the LAST line `mutants: killed=<k> total=<n>` (total counts the
mutants that apply to the target and are not argued equivalent). Exit 0 when every one of them
is killed, 1 otherwise, 2 on unusable input.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time as wallclock
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from invariants import CATALOG
from scheduler.mutants import MUTANTS, Mutant, MutantError, load_mutant, materialize, mutant
from scheduler.scenario import Scenario, describe
from scheduler.target import SdkModules, Target, load
from stateful_tests.cli import Parser, die, json_ready, load_sdk, positive_int
from stateful_tests.report import replay_payload, write_replay
from stateful_tests.scenarios import EXTRA_DELAYS, canonical
from stateful_tests.signoff import (
    BUDGETS,
    GRANULARITY,
    SEARCH_GROUPS,
    Budget,
    SearchHit,
    delay_bounded,
    group_seed,
    replay_corpus,
    reproduce,
    search,
    sign_off,
)

PROG = "mutants"


@dataclass(frozen=True)
class Kill:
    """The first new violation found on a mutant, shrunk, with what it cost to find."""

    invariant: str
    summary: str
    phase: str  # "systematic <scenario> d<bound>" or "search <pass>"
    executions: int  # executions run up to and including the first one that broke it
    seconds: float  # wall time to that first hit
    steps: int  # of the (shrunk) counterexample
    preemptions: int
    scenario: Scenario
    choices: tuple[int, ...]
    replay: str | None = None


@dataclass(frozen=True)
class Masked:
    """Why a survivor is not a blind spot of the invariants: one of them tells it apart from the
    release on a canonical scenario, but the release breaks that invariant elsewhere, so the
    per-invariant kill criterion cannot credit it."""

    invariant: str
    scenario: str  # the canonical scenario
    bound: int  # delay bound: the mutant breaks it within it, the release never does
    baseline_executions: int  # schedules of the release explored to show that


@dataclass(frozen=True)
class MutantResult:
    name: str
    description: str
    file: str
    equivalent: str | None
    status: str  # "killed", "survived", "n/a" (pattern absent in this target)
    source_hash: str | None = None
    sdk_dir: str | None = None
    kill: Kill | None = None
    masked: Masked | None = None  # for a survivor: the evidence that only masking saved it
    executions: int = 0  # everything run on this mutant, shrinking included
    seconds: float = 0.0

    @property
    def told_apart(self) -> bool:
        """Some invariant distinguishes it from the release (a kill, or masked evidence)."""
        return self.status == "killed" or self.masked is not None

    @property
    def counted(self) -> bool:
        """In `total`: applies to the target and is not argued equivalent."""
        return self.status != "n/a" and self.equivalent is None


@dataclass
class MutationReport:
    sdk: str
    source_hash: str
    budget: str
    seed: int
    baseline: list[str]  # invariants the unmutated target violates
    baseline_executions: int
    baseline_seconds: float
    results: list[MutantResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def killed(self) -> int:
        return sum(1 for r in self.results if r.counted and r.status == "killed")

    @property
    def total(self) -> int:
        return sum(1 for r in self.results if r.counted)

    @property
    def refuted(self) -> list[str]:
        """Mutants argued equivalent that a run nevertheless told apart: the argument is wrong."""
        return [r.name for r in self.results if r.equivalent is not None and r.told_apart]

    @property
    def passed(self) -> bool:
        return self.killed == self.total and not self.refuted


# ---------------------------------------------------------------------------------------------
# the hunt: the sign-off's searches, restricted to the invariants the baseline keeps


@dataclass
class _Hit:
    invariant: str
    phase: str
    scenario: Scenario
    choices: list[int]
    executions: int
    seconds: float


def hunt(
    sdk: SdkModules,
    targets: Iterable[str],
    budget: str = "ci",
    seed: int = 0,
    *,
    search: bool = True,
    observed: dict[str, tuple[str, int]] | None = None,
) -> tuple[Kill | None, int]:
    """The first violation of one of `targets` on `sdk`, and the executions it took.

    Deterministic for a seed: the exhaustive search runs in a fixed order, the Hypothesis
    passes are seeded as the sign-off's SEARCH_GROUPS search groups are. `search=False` runs
    the exhaustive search only (cheap; for tests). `observed`, when given, receives the first
    canonical scenario and delay bound at which each invariant outside `targets` broke.
    """
    wanted = frozenset(targets)
    plan = BUDGETS[budget]
    counter = [0]
    started = wallclock.perf_counter()
    seen = observed if observed is not None else {}
    hit = _systematic(sdk, wanted, plan, counter, started, seen) if wanted else None
    if hit is None and wanted:
        hit = _corpus(sdk, wanted, plan, counter, started)
    for group in range(SEARCH_GROUPS if search and wanted and hit is None else 0):
        found = _search(sdk, wanted, plan, group_seed(seed, group), counter)
        if found is not None:
            hit = _Hit(
                found.invariant,
                f"search {group}",
                found.scenario,
                found.choices,
                found.executions,
                found.clock - started,
            )
            break
    if hit is None:
        return None, counter[0]
    violation, outcome, _run = reproduce(
        sdk, hit.invariant, hit.scenario, hit.choices, plan.max_steps
    )
    kill = Kill(
        invariant=hit.invariant,
        summary=violation.summary,
        phase=hit.phase,
        executions=hit.executions,
        seconds=hit.seconds,
        steps=outcome.steps,
        preemptions=outcome.preemptions,
        scenario=hit.scenario,
        choices=tuple(outcome.choices),
    )
    return kill, counter[0]


def _systematic(
    sdk: SdkModules,
    wanted: frozenset[str],
    plan: Budget,
    counter: list[int],
    started: float,
    observed: dict[str, tuple[str, int]],
) -> _Hit | None:
    """The sign-off's delay-bounded DFS over the canonical scenarios, fewest delays first.

    Each scenario gets the sign-off's bound (the budget's, plus its `EXTRA_DELAYS`); all
    scenarios are explored at bound 0 before any at bound 1, so a kill costs what it must.
    """
    bounds = {name: plan.delays + EXTRA_DELAYS.get(name, 0) for name in canonical()}
    for bound in range(max(bounds.values(), default=-1) + 1):
        for name, scenario in canonical().items():
            if bound > bounds[name]:
                continue
            for outcome, violations in delay_bounded(sdk, scenario, bound, plan.max_steps):
                counter[0] += 1
                for v in violations:
                    observed.setdefault(v.invariant, (name, bound))
                hits = [v for v in violations if v.invariant in wanted]
                if hits:
                    return _Hit(
                        hits[0].invariant,
                        f"systematic {name} d{bound}",
                        scenario,
                        list(outcome.choices),
                        counter[0],
                        wallclock.perf_counter() - started,
                    )
    return None


def _corpus(
    sdk: SdkModules, wanted: frozenset[str], plan: Budget, counter: list[int], started: float
) -> _Hit | None:
    """The sign-off's regression phase: every kept counterexample replayed on the target."""
    for kept in replay_corpus(sdk, plan.max_steps, locations=False):
        counter[0] += 1
        hits = [v for v in kept.violations if v.invariant in wanted]
        if hits:
            return _Hit(
                hits[0].invariant,
                f"corpus {kept.path.stem}",
                kept.scenario,
                list(kept.outcome.choices),
                counter[0],
                wallclock.perf_counter() - started,
            )
    return None


def _search(
    sdk: SdkModules, wanted: frozenset[str], plan: Budget, seed: int, counter: list[int]
) -> SearchHit | None:
    """One pass of the sign-off's Hypothesis search (`signoff.search`), stopping and shrinking
    at its first hit: one new violation is enough to kill a mutant."""
    hits = search(sdk, wanted, plan, seed, counter, report_multiple_bugs=False)
    return hits[0] if hits else None


# ---------------------------------------------------------------------------------------------
# running the mutants


@dataclass(frozen=True)
class _Job:
    target: Target
    name: str
    budget: str
    seed: int
    targets: tuple[str, ...]
    out: str | None  # directory for replay files, None: write none


def _run_job(job: _Job) -> MutantResult:
    """One mutant, start to verdict (a worker process, or in-process with one worker)."""
    m = mutant(job.name)
    started = wallclock.perf_counter()
    mutated = materialize(m, job.target)
    if mutated is None:
        return MutantResult(m.name, m.description, m.file, m.equivalent, "n/a")
    sdk = load_mutant(m, job.target)
    assert sdk is not None
    observed: dict[str, tuple[str, int]] = {}
    kill, executions = hunt(sdk, job.targets, job.budget, job.seed, observed=observed)
    if kill is not None and job.out is not None:
        kill = _with_replay(sdk, kill, Path(job.out), m.name, job.budget)
    masked = None
    if kill is None:
        excluded = {name: at for name, at in observed.items() if name not in job.targets}
        masked = _masking(job.target, excluded, BUDGETS[job.budget])
    return MutantResult(
        m.name,
        m.description,
        m.file,
        m.equivalent,
        "killed" if kill is not None else "survived",
        source_hash=mutated.source_hash,
        sdk_dir=str(mutated.root),
        kill=kill,
        masked=masked,
        executions=executions,
        seconds=wallclock.perf_counter() - started,
    )


def _masking(target: Target, excluded: dict[str, tuple[str, int]], plan: Budget) -> Masked | None:
    """For a survivor: an excluded invariant it breaks on a canonical scenario within a delay
    bound where the release, searched exhaustively, never does.

    Sound, because the delay-bounded DFS of one scenario is complete: the release cannot break
    that invariant there within that bound, the mutant can. Reported, never counted as a kill.
    """
    if not excluded:
        return None
    release = load(target)
    explored: dict[tuple[str, int], tuple[set[str], int]] = {}  # -> (broken, executions)
    order = [inv.name for inv in CATALOG]
    for invariant in sorted(excluded, key=order.index):
        where = excluded[invariant]
        if where not in explored:
            name, bound = where
            broken, runs = set(), 0
            for _outcome, violations in delay_bounded(
                release, canonical()[name], bound, plan.max_steps
            ):
                runs += 1
                broken.update(v.invariant for v in violations)
            explored[where] = (broken, runs)
        broken, runs = explored[where]
        if invariant not in broken:
            return Masked(invariant, where[0], where[1], runs)
    return None


def _with_replay(sdk: SdkModules, kill: Kill, out: Path, name: str, budget: str) -> Kill:
    """Write the kill's replay file (`nox -s replay -- FILE --sdk <mutant dir>`)."""
    plan = BUDGETS[budget]
    violation, outcome, run = reproduce(
        sdk, kill.invariant, kill.scenario, kill.choices, plan.max_steps
    )
    payload = replay_payload(
        sdk,
        kill.scenario,
        violation,
        outcome,
        run,
        granularity=GRANULARITY,
        max_steps=plan.max_steps,
    )
    payload["mutant"] = name
    path = out / "mutants" / sdk.target.version / f"{name}.json"
    write_replay(path, outcome.choices, payload)
    return replace(kill, replay=str(path))


def baseline_violations(sdk: SdkModules, budget: str, seed: int) -> tuple[list[str], int, float]:
    """What the unmutated target already violates (never credited to a mutant): one sign-off,
    the same on any number of cores (its SEARCH_GROUPS are fixed), like the hunt."""
    result = sign_off(sdk, budget=budget, seed=seed)
    return [f.invariant for f in result.findings], result.executions, result.seconds


def run_mutants(
    sdk: SdkModules,
    mutants: Sequence[Mutant] = MUTANTS,
    *,
    budget: str = "ci",
    seed: int = 0,
    workers: int | None = None,
    baseline: Sequence[str] | None = None,
    out: str | None = None,
    progress: Callable[[MutantResult], None] | None = None,
) -> MutationReport:
    """Judge every mutant of `sdk`'s target; `baseline` skips the baseline sign-off (tests)."""
    started = wallclock.perf_counter()
    if baseline is None:
        violated, base_executions, base_seconds = baseline_violations(sdk, budget, seed)
    else:
        violated, base_executions, base_seconds = list(baseline), 0, 0.0
    report = MutationReport(
        sdk=sdk.target.version,
        source_hash=sdk.target.source_hash,
        budget=budget,
        seed=seed,
        baseline=violated,
        baseline_executions=base_executions,
        baseline_seconds=base_seconds,
    )
    targets = tuple(inv.name for inv in CATALOG if inv.name not in violated)
    jobs = [_Job(sdk.target, m.name, budget, seed, targets, out) for m in mutants]
    # The argued-equivalent mutants run their whole budget: start them first.
    ordered = sorted(jobs, key=lambda job: mutant(job.name).equivalent is None)
    n = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    results: dict[str, MutantResult] = {}
    if n == 1:
        for job in ordered:
            results[job.name] = _report(_run_job(job), progress)
    else:
        context = multiprocessing.get_context("fork")
        with context.Pool(n, maxtasksperchild=1) as pool:
            for result in pool.imap_unordered(_run_job, ordered, chunksize=1):
                results[result.name] = _report(result, progress)
    report.results = [results[job.name] for job in jobs]
    report.seconds = wallclock.perf_counter() - started
    return report


def _report(result: MutantResult, progress: Callable[[MutantResult], None] | None) -> MutantResult:
    if progress is not None:
        progress(result)
    return result


# ---------------------------------------------------------------------------------------------
# output


def _verdict(r: MutantResult) -> str:
    if r.status == "n/a":
        return "n/a"
    if r.equivalent is not None:
        return "EQUIV?!" if r.told_apart else "equivalent"
    return "MASKED" if r.masked is not None else r.status.upper()


def table(report: MutationReport) -> str:
    """The mutation table: one row per mutant, the kill's cost and counterexample size."""
    header = (
        f"{'mutant':<30} {'file':<12} {'result':<10} {'killed by':<26} {'found in':<32} "
        f"{'execs':>6} {'secs':>6} {'steps':>6} {'pre':>4}"
    )
    rows = [header, "-" * len(header)]
    for r in report.results:
        k, m = r.kill, r.masked
        by = k.invariant if k else f"({m.invariant})" if m else "-"
        where = k.phase if k else f"systematic {m.scenario} d{m.bound}" if m else "-"
        rows.append(
            f"{r.name:<30} {Path(r.file).name:<12} {_verdict(r):<10} {by:<26} {where:<32} "
            f"{(k.executions if k else r.executions):>6} "
            f"{(k.seconds if k else r.seconds):>6.1f} "
            f"{(k.steps if k else '-'):>6} {(k.preemptions if k else '-'):>4}"
        )
    return "\n".join(rows)


def details(report: MutationReport) -> str:
    """Under the table: each kill's violation and counterexample, each equivalence's reason."""
    lines = []
    for r in report.results:
        k = r.kill
        if k is not None:
            lines.append(f"{r.name}: {k.invariant}: {k.summary}")
            lines.append(f"    scenario: {describe(k.scenario)}")
            if k.replay is not None:
                lines.append(f"    replay: {k.replay} --sdk {r.sdk_dir}")
        elif r.masked is not None:
            m = r.masked
            lines.append(
                f"{r.name}: masked: breaks {m.invariant} on {m.scenario} within {m.bound} "
                f"deviation(s), which the release never does there ({m.baseline_executions} "
                f"schedules); the release breaks {m.invariant} elsewhere, so it cannot count"
            )
        elif r.equivalent is not None and r.status != "n/a":
            lines.append(f"{r.name}: equivalent: {r.equivalent}")
    return "\n".join(lines)


def _progress_line(r: MutantResult) -> None:
    what = f"killed by {r.kill.invariant}" if r.kill else r.status
    if r.masked is not None:
        what += f", masked ({r.masked.invariant} on {r.masked.scenario} d{r.masked.bound})"
    print(f"{PROG}: {r.name}: {what} ({r.executions} executions)", file=sys.stderr, flush=True)


def to_json(report: MutationReport) -> dict[str, Any]:
    """The `--json` document: the table's figures, plus each kill's counterexample."""
    mutants = []
    for r in report.results:
        k = r.kill
        mutants.append(
            {
                "name": r.name,
                "description": r.description,
                "file": r.file,
                "status": r.status,
                "equivalent": r.equivalent,
                "source_hash": r.source_hash,
                "sdk_dir": r.sdk_dir,
                "invariant": k.invariant if k else None,
                "summary": k.summary if k else None,
                "phase": k.phase if k else None,
                "executions_to_kill": k.executions if k else None,
                "seconds_to_kill": round(k.seconds, 2) if k else None,
                "steps": k.steps if k else None,
                "preemptions": k.preemptions if k else None,
                "scenario": describe(k.scenario) if k else None,
                "replay": k.replay if k else None,
                "masked": r.masked.__dict__ if r.masked else None,
                "executions": r.executions,
                "seconds": round(r.seconds, 2),
            }
        )
    return {
        "sdk": report.sdk,
        "source_hash": report.source_hash,
        "budget": report.budget,
        "seed": report.seed,
        "baseline": {
            "violated": report.baseline,
            "executions": report.baseline_executions,
            "seconds": round(report.baseline_seconds, 2),
        },
        "mutants": mutants,
        "killed": report.killed,
        "total": report.total,
        "seconds": round(report.seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--sdk", default=None, help="version, wheel, package dir or checkout")
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="ci")
    parser.add_argument("--seed", type=positive_int, default=0)
    parser.add_argument(
        "--mutant",
        action="append",
        dest="mutants",
        metavar="NAME",
        help="run only this mutant (repeatable; default: all)",
    )
    parser.add_argument("--workers", type=positive_int, default=None, help="default: all cores")
    parser.add_argument("--json", dest="json_file", default=None, help="write the table here")
    parser.add_argument(
        "--out",
        default=os.environ.get("INTERLEAVINGS_FAILURES", "failures"),
        help="directory for the kills' replay files (default: failures/)",
    )
    args = parser.parse_args(argv)
    if args.workers == 0:
        parser.error("--workers: must be >= 1")
    if args.json_file is not None:
        parent = Path(args.json_file).resolve().parent
        if not parent.is_dir():
            parser.error(f"--json: directory does not exist: {parent}")
    try:
        chosen = [mutant(name) for name in dict.fromkeys(args.mutants or [])] or list(MUTANTS)
    except MutantError as error:
        parser.error(str(error))
    sdk = load_sdk(PROG, args.sdk)
    if args.mutants:
        absent = [m.name for m in chosen if materialize(m, sdk.target) is None]
        if absent:
            die(
                PROG,
                f"mutant {', '.join(absent)} does not apply to SDK {sdk.target.version}: "
                "its pattern is absent from that version's source",
            )
    print(
        f"{PROG}: sdk={sdk.target.version} hash={sdk.target.source_hash} budget={args.budget} "
        f"seed={args.seed}: baseline sign-off, then {len(chosen)} mutant(s)",
        file=sys.stderr,
        flush=True,
    )
    report = run_mutants(
        sdk,
        chosen,
        budget=args.budget,
        seed=args.seed,
        workers=args.workers,
        out=args.out,
        progress=_progress_line,
    )
    print(
        f"baseline: sdk={report.sdk} hash={report.source_hash} budget={report.budget} "
        f"seed={report.seed} violates {len(report.baseline)} (excluded): "
        f"{', '.join(report.baseline) or 'none'}; executions={report.baseline_executions} "
        f"seconds={report.baseline_seconds:.1f}"
    )
    print(table(report))
    print()
    print(details(report))
    for r in report.results:
        if r.equivalent is not None and r.told_apart:
            print(f"{PROG}: REFUTED {r.name}: argued equivalent, yet told apart; fix the argument")
        elif r.counted and r.status == "survived":
            masked = f" (masked: {r.masked.invariant})" if r.masked else ""
            print(f"{PROG}: SURVIVED {r.name}{masked}: {r.description}")
    if report.total == 0:
        print(f"{PROG}: note: no counted mutant applies to SDK {report.sdk}")
    if args.json_file is not None:
        Path(args.json_file).write_text(json.dumps(json_ready(to_json(report)), indent=1) + "\n")
    print(f"seconds={report.seconds:.1f}")
    print(f"mutants: killed={report.killed} total={report.total}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
