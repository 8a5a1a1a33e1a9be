"""A steerable executor for rule-based state machines.

The REAL `ConcurrentExecutor.execute()` runs on an "invoker" thread of a runtime session, and
every branch attempt waits until the state machine decides its outcome. So each rule of the
machine maps onto a real SDK path: a branch finishing with `TimedSuspendExecution` is a
`schedule_resume` (through the real done-callback), advancing the clock lets the real timer
thread drain its heap, a refresh fault hits the real resubmitter, and a suspend check is the real
`should_execution_suspend` called from a thread of its own.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from interleavings.event import Event
from interleavings.execution import Execution, Outcome, active
from interleavings.thread import Thread
from scheduler.adapter_v1 import ExecutorRun, instrumented
from scheduler.scenario import Attempt, Scenario


@dataclass
class Pending:
    """An attempt that has started and waits for the machine to decide how it ends."""

    branch: int
    number: int
    ready: Event
    outcome: list[Attempt] = field(default_factory=list)


class SteeredRun(ExecutorRun):
    """An `ExecutorRun` whose attempts take their outcome from the machine, not a script."""

    def __init__(self, sdk: Any, branches: int, granularity: str) -> None:
        super().__init__(sdk, Scenario(branches=((),) * branches), granularity)
        self.pending: dict[int, Pending] = {}
        self.latency = 0.0

    def play(self, branch: int) -> Any:
        self.attempts[branch] += 1
        number = self.attempts[branch]
        ex = active()
        assert ex is not None
        slot = Pending(branch, number, Event())
        self.pending[branch] = slot
        self.recorder.emit("attempt_start", branch, attempt=number)
        try:
            slot.ready.wait()
            attempt = slot.outcome[0]
            if self.checkpoints.failure is not None:
                raise self.checkpoints.failure
            return self._outcome(branch, number, attempt, ex)
        finally:
            self.pending.pop(branch, None)
            self.recorder.emit("attempt_end", branch, attempt=number)


class ExecutorRig:
    """Owns the session, the instrumentation and the steered run; `close()` undoes all."""

    def __init__(self, sdk: Any, branches: int, strategy: Any, granularity: str = "access"):
        self.run = SteeredRun(sdk, branches, granularity)
        self.ex = Execution(strategy, max_steps=50_000)
        self._stack = ExitStack()
        self._stack.enter_context(instrumented(sdk, self.run.recorder, granularity))

        def on_step(step: Any) -> None:
            if step.op == "crash":
                self.run.recorder.emit(
                    "thread_crash", error=step.detail.split(":")[0], message=step.detail
                )

        self.ex.observe(on_step)
        self._state_latency()
        self.ex.open(main_name="main")
        self.do(lambda: Thread(target=self.run.body, name="invoker").start())

    def _state_latency(self) -> None:
        """Refresh latency is a rule's choice here, not a scenario constant."""
        run = self.run

        class Latency(Scenario):
            def latency(self, call: int) -> float:
                return run.latency

        run.scenario = Latency(branches=run.scenario.branches)

    @property
    def record(self) -> Any:
        return self.run.record

    @property
    def exited(self) -> bool:
        return self.run.record.exit_event() is not None

    @property
    def ended(self) -> bool:
        return self.ex.ended is not None

    def do(self, fn: Any) -> dict[str, Any]:
        return self.ex.do(fn)

    def waiting(self) -> list[int]:
        """Branches whose current attempt awaits an outcome."""
        return sorted(b for b, slot in self.run.pending.items() if not slot.outcome)

    def finish(self, branch: int, attempt: Attempt) -> None:
        slot = self.run.pending[branch]
        slot.outcome.append(attempt)
        self.do(slot.ready.set)

    def advance(self, seconds: float) -> None:
        self.ex.advance(seconds)

    def check_suspend(self) -> None:
        executor = self.run.executor

        def spawn() -> None:
            Thread(target=executor.should_execution_suspend, name="reader").start()

        self.do(spawn)

    def fail_checkpoints(self) -> None:
        self.run.checkpoints.fail()

    def step_clock(self, delta: float) -> None:
        def step() -> None:
            self.ex.clock.step_wall(delta)
            self.run.recorder.emit("clock_step", delta=delta)

        self.do(step)

    def drain(self, horizon: float = 30.0) -> None:
        """Let every waiting attempt complete and time pass until execute() exits or the
        horizon: what is still running then is a hang."""
        deadline = self.ex.clock.now + horizon
        while not self.exited and not self.ended and self.ex.clock.now < deadline:
            for b in self.waiting():
                self.finish(b, Attempt("value"))
            self.advance(5.0)

    def close(self) -> Outcome:
        try:
            status = self.ex.ended
            outcome = self.ex.close()
            if status is None and not self.exited:
                outcome.status, outcome.reason = "hang", "execute() still waiting at teardown"
            outcome.main_done = self.exited
            self.run.recorder.end(self.ex, outcome)
            return outcome
        finally:
            self._stack.close()
