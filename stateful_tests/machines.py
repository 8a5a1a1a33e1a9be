"""Hypothesis rule-based state machines over the REAL executor and timer scheduler.

Rules are the events the scheduler lives through: branch attempts ending (a timed suspend is a
`schedule_resume`), the clock advancing (timer ticks), suspend checks from another thread,
refresh latency and terminal refresh failures, wall-clock steps. Between rules every thread runs
as far as it can; how the threads interleave inside a rule is drawn from the same test case
(every scheduling decision is a draw, 0 = no preemption), so one shrinker minimises the rule
program and the preemptions together. The safety invariants are checked after every rule (they
are prefix-safe, so this equals checking at every scheduling point); liveness at teardown,
after every waiting attempt has been allowed to finish.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from interleavings.strategies import HypothesisStrategy
from invariants import CATALOG, Violation
from scheduler.rig import ExecutorRig
from scheduler.scenario import Attempt

LIVENESS = frozenset({"no_deadlock", "no_hang", "no_hang_on_refresh_failure", "no_lost_resume"})
SAFETY = tuple(inv for inv in CATALOG if inv.name not in LIVENESS)


class InvariantBroken(AssertionError):
    pass


def _no_draw(_strategy: Any) -> int:
    return 0


@st.composite
def _interleaved(draw: st.DrawFn, machine: ExecutorMachine, action: Any) -> str:
    """Run `action` with this draw feeding the scheduling decisions; the value is a summary,
    so the falsifying example prints one line per rule instead of one per decision."""
    strategy = machine.strategy
    before = len(machine.rig.ex.choices)
    strategy._draw = draw
    try:
        action()
    finally:
        strategy._draw = _no_draw
    made = machine.rig.ex.choices[before:]
    return f"{len(made)} decisions, {sum(1 for c in made if c)} off the default"


class ExecutorMachine(RuleBasedStateMachine):
    """Subclass and set `sdk` (a loaded target) and `branches`."""

    sdk: Any = None
    branches = 3
    granularity = "access"

    def __init__(self) -> None:
        super().__init__()
        self.strategy = HypothesisStrategy(_no_draw)
        self.rig = ExecutorRig(self.sdk, self.branches, self.strategy, self.granularity)
        self.found: list[Violation] = []

    def _step(self, data: st.DataObject, action: Any) -> None:
        data.draw(_interleaved(self, action))

    def _live(self) -> bool:
        return not self.rig.ended and not self.rig.exited

    @precondition(lambda self: self._live() and bool(self.rig.waiting()))
    @rule(
        data=st.data(),
        kind=st.sampled_from(("timed", "value", "error", "suspend")),
        delay=st.sampled_from((1.0, 0.0, 2.0, -1.0)),
    )
    def finish_attempt(self, data: st.DataObject, kind: str, delay: float) -> None:
        branch = data.draw(st.sampled_from(self.rig.waiting()), label="branch")
        attempt = Attempt(kind, delay=delay if kind == "timed" else 0.0)
        self._step(data, lambda: self.rig.finish(branch, attempt))

    @precondition(lambda self: self._live())
    @rule(data=st.data(), seconds=st.sampled_from((0.5, 1.0, 0.05, 2.0)))
    def advance_clock(self, data: st.DataObject, seconds: float) -> None:
        self._step(data, lambda: self.rig.advance(seconds))

    @precondition(lambda self: self._live())
    @rule(data=st.data())
    def suspend_check_from_another_thread(self, data: st.DataObject) -> None:
        self._step(data, self.rig.check_suspend)

    @precondition(lambda self: self._live())
    @rule(latency=st.sampled_from((0.0, 0.05, 1.5)))
    def refresh_latency(self, latency: float) -> None:
        self.rig.run.latency = latency

    @precondition(lambda self: self._live() and self.rig.run.checkpoints.failure is None)
    @rule()
    def checkpoint_subsystem_fails(self) -> None:
        self.rig.fail_checkpoints()

    @precondition(lambda self: self._live())
    @rule(data=st.data(), delta=st.sampled_from((-2.0, 5.0)))
    def wall_clock_steps(self, data: st.DataObject, delta: float) -> None:
        self._step(data, lambda: self.rig.step_clock(delta))

    @invariant()
    def safety(self) -> None:
        record = self.rig.record
        for inv in SAFETY:
            violation = inv.check(record)
            if violation is not None:
                self.found.append(violation)
                raise InvariantBroken(f"{violation.invariant}: {violation.summary}")

    def teardown(self) -> None:
        try:
            self.rig.drain()
        finally:
            self.rig.close()
        for inv in CATALOG:
            violation = inv.check(self.rig.record)
            if violation is not None:
                self.found.append(violation)
                raise InvariantBroken(f"{violation.invariant}: {violation.summary}")


def machine_for(sdk: Any, branches: int = 3, granularity: str = "access") -> type:
    """A state machine class bound to one loaded SDK target."""
    return type(
        f"ExecutorMachine_{sdk.target.version.replace('.', '_')}",
        (ExecutorMachine,),
        {"sdk": sdk, "branches": branches, "granularity": granularity},
    )
