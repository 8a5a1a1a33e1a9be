"""The sign-off engine behind `nox -s check`: search, shrink, and report per invariant.

One Hypothesis search draws a scenario and its interleaving together (every scheduling decision
is a draw, 0 = no preemption), runs the REAL executor under the runtime and checks the whole
catalog. A violation raises an exception class of its own per invariant, so Hypothesis shrinks
that failure: fewer branches, simpler scripts, fewer preemptions. The search is then repeated
without the invariants already found, until a full pass finds nothing more (an execution that
breaks two invariants would otherwise hide the second).

The catalog is searched in SEARCH_GROUPS groups whatever the number of cores: the number of
worker processes changes how long a sign-off takes, never what it finds. `nox -s mutants`
(stateful_tests/mutation.py) runs the same searches: `search`, `delay_bounded`, `replay_corpus`.
"""

from __future__ import annotations

import multiprocessing
import os
import time as wallclock
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis.internal.conjecture.engine as hypothesis_engine
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from interleavings.execution import Outcome
from interleavings.replay import load as load_replay
from interleavings.strategies import DFS, DelayBound, HypothesisStrategy, PreemptionBound, Replay
from invariants import CATALOG, Violation, check_all
from scheduler.adapter_v1 import ExecutorRun, run_executor
from scheduler.scenario import Scenario
from stateful_tests.scenarios import EXTRA_DELAYS, canonical, scenarios


@dataclass(frozen=True)
class Budget:
    examples: int  # generated examples per pass (shrinking comes on top)
    max_steps: int  # scheduling points per execution before it counts as a budget overrun
    max_branches: int
    shrinks: int  # cap on successful shrinks per finding (Hypothesis's default is 500)
    delays: int  # delay bound of the exhaustive search over the canonical scenarios


BUDGETS = {
    "quick": Budget(examples=100, max_steps=6_000, max_branches=3, shrinks=60, delays=1),
    "ci": Budget(examples=400, max_steps=10_000, max_branches=4, shrinks=150, delays=1),
    "deep": Budget(examples=4_000, max_steps=20_000, max_branches=5, shrinks=500, delays=2),
}

GRANULARITY = "access"  # branch status reads and writes are scheduling points

# The catalog is dealt round-robin into this many groups, one Hypothesis search each, seeded
# `group_seed(seed, i)`: fixed, so the verdict and the execution count are the same on any
# machine (2 is what the 2-core development machine has always used).
SEARCH_GROUPS = 2


@dataclass
class Finding:
    violation: Violation
    scenario: Scenario
    choices: list[int]
    outcome: Outcome
    run: ExecutorRun

    @property
    def invariant(self) -> str:
        return self.violation.invariant

    @property
    def step(self) -> int:
        """The trace step at which the record first broke the invariant."""
        steps = self.run.recorder.steps
        seq = self.violation.seq
        return steps[seq] if 0 <= seq < len(steps) else len(self.outcome.trace.steps) - 1


@dataclass
class SignOff:
    sdk: str
    findings: list[Finding] = field(default_factory=list)
    executions: int = 0
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        return "FAIL" if self.findings else "PASS"


class InvariantViolated(Exception):
    """Base of the per-invariant exception classes Hypothesis tells apart."""

    invariant = ""


_CLASSES: dict[str, type[InvariantViolated]] = {}


def _violation_class(name: str) -> type[InvariantViolated]:
    """One exception class per invariant, so Hypothesis shrinks each as a bug of its own."""
    if name not in _CLASSES:
        _CLASSES[name] = type(f"Violated_{name}", (InvariantViolated,), {"invariant": name})
    return _CLASSES[name]


def run_case(
    sdk: Any, scenario: Scenario, strategy: Any, max_steps: int, *, locations: bool = True
) -> tuple[Outcome, ExecutorRun, list[Violation]]:
    outcome, run = run_executor(
        sdk,
        scenario,
        strategy,
        granularity=GRANULARITY,
        max_steps=max_steps,
        record_locations=locations,
    )
    return outcome, run, check_all(run.record)


class _StoppedClock:
    """The only clock Hypothesis's engine sees during a search: it never advances.

    The engine stops generating 10 s (wall clock) after its first failure when it reports
    multiple bugs, and stops shrinking after 300 s: cut-offs that make what a search finds
    depend on the machine's speed and load. With this clock neither fires; `max_examples` and
    the shrink cap bound the search instead. The engine reads time for nothing else
    (phase statistics, which nobody here reads).
    """

    @staticmethod
    def monotonic() -> float:
        return 0.0

    @staticmethod
    def perf_counter() -> float:
        return 0.0


@contextmanager
def shrink_cap(limit: int) -> Iterator[None]:
    """Bound a Hypothesis search by counts, never by the wall clock: cap its successful shrinks
    per failure (its internal MAX_SHRINKS, 500 by default) and stop its clock."""
    # Both are engine internals of Hypothesis >= 6.100; a release without them is left alone
    # (test_a_search_is_bounded_by_counts_not_by_the_wall_clock would then say so).
    saved = (
        getattr(hypothesis_engine, "MAX_SHRINKS", None),
        getattr(hypothesis_engine, "time", None),
    )
    if saved[0] is not None:
        hypothesis_engine.MAX_SHRINKS = limit
    if saved[1] is not None:
        hypothesis_engine.time = _StoppedClock  # type: ignore[assignment]
    try:
        yield
    finally:
        if saved[0] is not None:
            hypothesis_engine.MAX_SHRINKS = saved[0]
        if saved[1] is not None:
            hypothesis_engine.time = saved[1]


def group_seed(seed: int, group: int) -> int:
    """The Hypothesis seed of search group `group` of a run seeded `seed`."""
    return seed * 1000 + group


@dataclass(frozen=True)
class SearchHit:
    """One invariant's shrunk counterexample from `search`, and when the search first broke it."""

    invariant: str
    scenario: Scenario
    choices: list[int]
    executions: int  # the search's execution count at the first example that broke it
    clock: float  # `time.perf_counter()` at that first example


def drawn_interleaving(data: st.DataObject) -> PreemptionBound:
    """The interleaving as Hypothesis draws: the preemption bound first (as CHESS bounds context
    switches, so shrinking lowers it before anything else), then a swarm weight (preemption
    odds out of 16), then every scheduling decision."""
    bound = data.draw(st.integers(0, 3))
    weight = data.draw(st.sampled_from((2, 1, 4, 8)))
    return PreemptionBound(HypothesisStrategy(data.draw, preempt_weight=weight), bound)


def search(
    sdk: Any,
    targets: Iterable[str],
    budget: Budget,
    seed: int,
    counter: list[int],
    *,
    report_multiple_bugs: bool = True,
) -> list[SearchHit]:
    """One Hypothesis run against the invariants `targets`, each violation shrunk.

    Every decision is a draw; the preemption bound is drawn first (as CHESS bounds context
    switches) so that shrinking lowers it before anything else and lands on few preemptions.
    `counter[0]` counts the executions, shrinking included.

    `report_multiple_bugs=True` (the sign-off) reports every distinct invariant broken, each
    shrunk apart. `False` (the mutants) stops generating at the first example that breaks one
    and shrinks that one, allowing slips to any wanted invariant with a smaller example: at
    most one hit.
    """
    wanted = frozenset(targets)
    last: dict[str, tuple[Scenario, list[int]]] = {}
    first: dict[str, tuple[int, float]] = {}

    @settings(
        max_examples=budget.examples,
        deadline=None,
        database=None,
        derandomize=False,
        verbosity=Verbosity.quiet,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=report_multiple_bugs,
    )
    @hypothesis_seed(seed)
    @given(scenario=scenarios(max_branches=budget.max_branches), data=st.data())
    def case(scenario: Scenario, data: st.DataObject) -> None:
        counter[0] += 1
        strategy = drawn_interleaving(data)
        outcome, _run, violations = run_case(
            sdk, scenario, strategy, budget.max_steps, locations=False
        )
        hits = [v for v in violations if v.invariant in wanted]
        if hits:
            name = hits[0].invariant
            first.setdefault(name, (counter[0], wallclock.perf_counter()))
            # Hypothesis replays each shrunk example last: the last one kept is the minimum.
            last[name] = (scenario, list(outcome.choices))
            raise _violation_class(name)(hits[0].summary)

    with shrink_cap(budget.shrinks):
        try:
            case()
        except InvariantViolated as exc:
            raised: list[BaseException] = [exc]
        except BaseExceptionGroup as group:
            raised = list(group.exceptions)
            if not all(isinstance(e, InvariantViolated) for e in raised):
                raise
        else:
            return []
    names = [e.invariant for e in raised if isinstance(e, InvariantViolated)]
    return [SearchHit(n, *last[n], *first[n]) for n in names]


_FORK_SDK: Any = None  # the loaded target, inherited by forked workers


def _search_group(job: tuple[tuple[str, ...], str, int]) -> tuple[list[tuple], int]:
    """A worker process: repeat the search until a pass finds nothing new in its group."""
    targets, budget_name, seed = job
    remaining, counter = set(targets), [0]
    found: list[tuple] = []
    while remaining:
        hits = search(_FORK_SDK, remaining, BUDGETS[budget_name], seed, counter)
        if not hits:
            break
        for hit in hits:
            remaining.discard(hit.invariant)
            found.append((hit.invariant, hit.scenario.to_json(), hit.choices))
    return found, counter[0]


def delay_bounded(
    sdk: Any, scenario: Scenario, bound: int, max_steps: int
) -> Iterator[tuple[Outcome, list[Violation]]]:
    """Run, in DFS order, every schedule of `scenario` that `DelayBound(DFS(), bound)` explores."""
    strategy = DelayBound(DFS(), bound)
    while strategy.begin():
        outcome, _run, violations = run_case(sdk, scenario, strategy, max_steps, locations=False)
        yield outcome, violations


def systematic(
    sdk: Any, scenario: Scenario, delays: int, max_steps: int
) -> tuple[dict[str, tuple[int, list[int]]], int]:
    """Every schedule of `scenario` within `delays` deviations from the default one, bound 0
    first: invariant -> (fewest deviations that break it, that schedule's choices)."""
    found: dict[str, tuple[int, list[int]]] = {}
    executions = 0
    for bound in range(delays + 1):
        for outcome, violations in delay_bounded(sdk, scenario, bound, max_steps):
            executions += 1
            for v in violations:
                found.setdefault(v.invariant, (bound, list(outcome.choices)))
    return found, executions


def _systematic(job: tuple[str, str]) -> tuple[list[tuple], int]:
    """A worker process: the systematic search of one canonical scenario."""
    name, budget_name = job
    plan = BUDGETS[budget_name]
    scenario = canonical()[name]
    delays = plan.delays + EXTRA_DELAYS.get(name, 0)
    found, executions = systematic(_FORK_SDK, scenario, delays, plan.max_steps)
    hits = [(inv, scenario.to_json(), choices) for inv, (_, choices) in found.items()]
    return hits, executions


def reproduce(
    sdk: Any, invariant: str, scenario: Scenario, choices: Iterable[int], max_steps: int
) -> tuple[Violation, Outcome, ExecutorRun]:
    """Re-run a found schedule, with source locations, to measure and report it."""
    outcome, run, violations = run_case(sdk, scenario, Replay(list(choices)), max_steps)
    for v in violations:
        if v.invariant == invariant:
            return v, outcome, run
    raise RuntimeError(f"the counterexample of {invariant} did not reproduce on replay")


def _rebuild(sdk: Any, name: str, scenario: Scenario, choices: list[int], plan: Budget) -> Finding:
    """Replay a worker's shrunk example here, with source locations, to report it."""
    violation, outcome, run = reproduce(sdk, name, scenario, choices, plan.max_steps)
    return Finding(violation, scenario, list(outcome.choices), outcome, run)


CORPUS = Path(__file__).parent / "corpus"


@dataclass(frozen=True)
class Replayed:
    """One kept counterexample of the corpus, replayed on a target."""

    path: Path
    payload: dict[str, Any]  # the file's: "invariant" it was kept for, "scenario" JSON, ...
    scenario: Scenario
    choices: list[int]  # as kept in the file
    outcome: Outcome
    violations: list[Violation]


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.json"))


def replay_corpus(
    sdk: Any, max_steps: int, *, locations: bool = True, files: Iterable[Path] | None = None
) -> Iterator[Replayed]:
    """Replay, in file order, every kept counterexample at the executor level and this
    granularity (of `files`, by default the whole corpus); the others are skipped."""
    for path in corpus_files() if files is None else files:
        kept = load_replay(path)
        p = kept.payload
        if p.get("level") != "executor" or p.get("granularity") != GRANULARITY:
            continue
        scenario = Scenario.from_json(p["scenario"])
        choices = list(kept.choices)
        outcome, _run, violations = run_case(
            sdk, scenario, Replay(choices), max_steps, locations=locations
        )
        yield Replayed(path, p, scenario, choices, outcome, violations)


def _corpus(sdk: Any, plan: Budget) -> tuple[list[tuple], int]:
    """The regression phase: every counterexample kept in the repository is replayed on the
    target, as Hypothesis replays its database first. What reproduces is a finding even when
    this run's searches would not reach it again (some need two deviations and eager time)."""
    hits: list[tuple] = []
    files = corpus_files()
    for r in replay_corpus(sdk, plan.max_steps, files=files):
        if any(v.invariant == r.payload.get("invariant") for v in r.violations):
            hits.append((r.payload["invariant"], r.payload["scenario"], r.choices))
    return hits, len(files)


def _size(finding: Finding) -> tuple[int, int, int]:
    """Smaller is a better counterexample: fewer preemptions, fewer branches, fewer steps."""
    o = finding.outcome
    return (o.preemptions, len(finding.scenario.branches), o.steps)


def sign_off(
    sdk: Any,
    *,
    budget: str = "ci",
    seed: int = 0,
    workers: int | None = None,
) -> SignOff:
    """Search every catalog invariant on `sdk`; deterministic for a seed, on any machine.

    The catalog is dealt round-robin into SEARCH_GROUPS groups, searched one per worker
    process, so an invariant in one group never masks one in another. `workers` (default: the
    cores, at most one per group) sets only how many processes share the work: the findings and
    the execution count do not depend on it.
    """
    global _FORK_SDK
    plan = BUDGETS[budget]
    result = SignOff(sdk=sdk.target.version)
    started = wallclock.perf_counter()
    names = [inv.name for inv in CATALOG]
    groups = max(1, min(SEARCH_GROUPS, len(names)))
    jobs = [(tuple(names[i::groups]), budget, group_seed(seed, i)) for i in range(groups)]
    systematic_jobs = [(name, budget) for name in canonical()]
    processes = max(1, min(workers or os.cpu_count() or 1, groups))
    _FORK_SDK = sdk
    try:
        if processes == 1:
            outputs = [_search_group(job) for job in jobs]
            systematic = [_systematic(job) for job in systematic_jobs]
        else:
            with multiprocessing.get_context("fork").Pool(processes) as pool:
                outputs = pool.map(_search_group, jobs)
                systematic = pool.map(_systematic, systematic_jobs)
    finally:
        _FORK_SDK = None
    best: dict[str, Finding] = {}
    outputs.append(_corpus(sdk, plan))
    for found, executions in outputs + systematic:
        result.executions += executions
        for name, scenario_json, choices in found:
            finding = _rebuild(sdk, name, Scenario.from_json(scenario_json), choices, plan)
            if name not in best or _size(finding) < _size(best[name]):
                best[name] = finding
    result.findings.extend(best.values())
    result.seconds = wallclock.perf_counter() - started
    result.findings.sort(key=lambda f: names.index(f.invariant))
    return result
