"""The sign-off engine behind `nox -s check`: search, shrink, and report per invariant.

One Hypothesis search draws a scenario and its interleaving together (every scheduling decision
is a draw, 0 = no preemption), runs the REAL executor under the runtime and checks the whole
catalog. A violation raises an exception class of its own per invariant, so Hypothesis shrinks
that failure: fewer branches, simpler scripts, fewer preemptions. The search is then repeated
without the invariants already found, until a full pass finds nothing more (an execution that
breaks two invariants would otherwise hide the second).
"""

from __future__ import annotations

import time as wallclock
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from interleavings.execution import Outcome
from interleavings.strategies import HypothesisStrategy
from invariants import BY_NAME, CATALOG, Violation, check_all
from scheduler.adapter_v1 import ExecutorRun, run_executor
from scheduler.scenario import Scenario
from stateful_tests.scenarios import scenarios


@dataclass(frozen=True)
class Budget:
    examples: int  # generated examples per pass (shrinking comes on top)
    max_steps: int  # scheduling points per execution before it counts as a budget overrun
    max_branches: int
    shrink_examples: int  # cap on shrink attempts per finding


BUDGETS = {
    "quick": Budget(examples=150, max_steps=6_000, max_branches=3, shrink_examples=400),
    "ci": Budget(examples=600, max_steps=10_000, max_branches=4, shrink_examples=1_500),
    "deep": Budget(examples=6_000, max_steps=20_000, max_branches=5, shrink_examples=10_000),
}

GRANULARITY = "access"  # branch status reads and writes are scheduling points


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


_CLASSES: dict[str, type[InvariantViolated]] = {}


def _violation_class(name: str) -> type[InvariantViolated]:
    if name not in _CLASSES:
        _CLASSES[name] = type(f"Violated_{name}", (InvariantViolated,), {})
    return _CLASSES[name]


def run_case(
    sdk: Any, scenario: Scenario, strategy: Any, max_steps: int
) -> tuple[Outcome, ExecutorRun, list[Violation]]:
    outcome, run = run_executor(
        sdk, scenario, strategy, granularity=GRANULARITY, max_steps=max_steps
    )
    return outcome, run, check_all(run.record)


def _search(
    sdk: Any, targets: set[str], budget: Budget, seed: int, counter: list[int]
) -> list[Finding]:
    """One Hypothesis run reporting every distinct invariant it breaks, each shrunk apart."""
    last: dict[str, Finding] = {}

    @settings(
        max_examples=budget.examples,
        deadline=None,
        database=None,
        derandomize=False,
        verbosity=Verbosity.quiet,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=True,
    )
    @hypothesis_seed(seed)
    @given(scenario=scenarios(max_branches=budget.max_branches), data=st.data())
    def case(scenario: Scenario, data: st.DataObject) -> None:
        counter[0] += 1
        strategy = HypothesisStrategy(data.draw)
        outcome, run, violations = run_case(sdk, scenario, strategy, budget.max_steps)
        hits = [v for v in violations if v.invariant in targets]
        if hits:
            v = hits[0]
            # Hypothesis replays each shrunk example last: the last one kept is the minimum.
            last[v.invariant] = Finding(v, scenario, list(outcome.choices), outcome, run)
            raise _violation_class(v.invariant)(v.summary)

    try:
        case()
    except InvariantViolated as exc:
        return [last[_name_of(exc)]]
    except BaseExceptionGroup as group:
        names = [_name_of(e) for e in group.exceptions if isinstance(e, InvariantViolated)]
        if len(names) != len(group.exceptions):
            raise
        return [last[n] for n in names]
    return []


def _name_of(exc: BaseException) -> str:
    return type(exc).__name__.removeprefix("Violated_")


def sign_off(
    sdk: Any,
    *,
    budget: str = "ci",
    seed: int = 0,
    on_finding: Callable[[Finding], None] | None = None,
) -> SignOff:
    """Search for violations of every catalog invariant on `sdk`; deterministic for a seed."""
    plan = BUDGETS[budget]
    result = SignOff(sdk=sdk.target.version)
    started = wallclock.perf_counter()
    counter = [0]
    targets = {inv.name for inv in CATALOG}
    while targets:
        found = _search(sdk, targets, plan, seed, counter)
        if not found:
            break
        for finding in found:
            targets.discard(finding.invariant)
            result.findings.append(finding)
            if on_finding is not None:
                on_finding(finding)
    result.executions = counter[0]
    result.seconds = wallclock.perf_counter() - started
    result.findings.sort(key=lambda f: list(BY_NAME).index(f.invariant))
    return result
