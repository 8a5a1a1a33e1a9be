"""The issue's map in virtual time, across invocations: what the resume path costs in wall time.

The sign-off (`nox -s check`) says whether the scheduler is *correct*; this module says what its
shape *costs*. It plays the upstream issue's reproduction (a keeper branch that keeps the map
in-process, N pollers each doing P polls `delay` seconds apart) on the REAL `ConcurrentExecutor`
and `TimerScheduler` of a target SDK, under the deterministic runtime and its virtual clock.
What the SDK does not contain is modelled here, each model where it lives:

- the state refresh the timer's resubmit callback makes (`execution_state.create_checkpoint()`)
  takes `rtt` virtual seconds per call (the adapter's `FakeExecutionState`);
- every branch attempt that writes a checkpoint costs `attempt_cost` seconds of *serialised*
  work (`ThroughputRun.play`): all branches share one FIFO server, as they share the SDK's
  single checkpoint-batching thread and the interpreter lock;
- the Lambda function timeout ends an invocation (`FunctionTimeout`) and the backend invokes
  again: every branch resumes from its durable progress (`plan_invocation`), as a replay does;
- when `execute()` suspends (every branch waits on a timer), the backend invokes again at the
  earliest resume time: an invocation, but not a timeout.

The schedule is `FairScheduler` (round robin), so the same arguments give the same numbers.
docs/throughput.md explains the models and how the defaults were calibrated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from interleavings import timing
from interleavings.clock import EPOCH
from interleavings.execution import Decision, Execution, Outcome, active
from interleavings.trace import Step
from scheduler.adapter_v1 import ExecutorRun, instrumented
from scheduler.record import Record
from scheduler.scenario import Attempt, Scenario

# The issue's reproduction, as invoked: {"num_stress": 300, "polls": 8, "delay_seconds": 2,
# "keeper_seconds": 18}, deployed with a 60 s function timeout.
ISSUE_BRANCHES = 300
ISSUE_POLLS = 8
ISSUE_DELAY_S = 2.0
ISSUE_KEEPER_S = 18.0
ISSUE_FUNCTION_TIMEOUT_S = 60.0

# Fitted to the issue's table (docs/throughput.md, "Calibration"): 1.5.0's row fixes the
# refresh round trip, 1.6.0's row then fixes the per-attempt cost.
DEFAULT_RTT_S = 0.13
DEFAULT_ATTEMPT_COST_S = 0.014

# A map that never finishes (a keeper longer than the function timeout restarts from scratch
# in every invocation) is cut off here and reported as not completed.
DEFAULT_MAX_INVOCATIONS = 100

# Timestamps travel as wall-clock floats near 1.7e9 (resolution ~2.4e-7 s): a check due within
# this much of an invocation's start is due at that start, not a wait of "zero" seconds.
DUE_TOLERANCE_S = 1e-6

# Roles of the attempts in one invocation's branch scripts.
KEEPER = "keeper"  # the keeper's step: sleeps `keeper` seconds, then completes
POLL = "poll"  # a wait_for_condition check that decides to keep waiting: TimedSuspend(now+delay)
FINAL = "final"  # the last check: the condition holds and the branch completes
WAIT = "wait"  # replay of a poller whose next check is not due yet: TimedSuspend(its due time)
REPLAYED = "replayed"  # replay of a completed branch: its checkpointed result

# Attempts that write a checkpoint of their own, and so pay `attempt_cost`.
CHECKPOINTING = frozenset({KEEPER, POLL, FINAL})

# How an invocation can end; anything else is the runtime's status for a run gone wrong.
ENDINGS = ("completed", "suspended", "timeout")


@dataclass(frozen=True)
class Workload:
    """Everything one measurement depends on; the defaults are the issue's values."""

    branches: int = ISSUE_BRANCHES  # pollers; the keeper is one more branch
    polls: int = ISSUE_POLLS
    delay: float = ISSUE_DELAY_S
    keeper: float = ISSUE_KEEPER_S
    rtt: float = DEFAULT_RTT_S
    attempt_cost: float = DEFAULT_ATTEMPT_COST_S
    function_timeout: float = ISSUE_FUNCTION_TIMEOUT_S
    reinvoke_delay: float = 0.0  # seconds between an invocation's end and the backend's next
    max_invocations: int = DEFAULT_MAX_INVOCATIONS

    def __post_init__(self) -> None:
        if self.branches < 0 or self.polls < 0:
            raise ValueError("branches and polls must be >= 0")
        if min(self.delay, self.keeper, self.rtt, self.attempt_cost, self.reinvoke_delay) < 0:
            raise ValueError("delay, keeper, rtt, attempt cost and reinvoke delay must be >= 0")
        if self.function_timeout <= 0:
            raise ValueError("the function timeout must be > 0")
        if self.max_invocations < 1:
            raise ValueError("max invocations must be >= 1")

    @property
    def ideal_s(self) -> float:
        """The issue's "ideal completion": the keeper, or the polls back to back."""
        return max(self.keeper, self.polls * self.delay if self.branches else 0.0)


@dataclass
class Branch:
    """A poller's durable progress: what a replay finds in the checkpoint log."""

    polls_done: int = 0
    next_due: float = 0.0  # global virtual time its next check is due (once it has polled)
    done: bool = False


@dataclass(frozen=True)
class Plan:
    """One invocation's branch scripts, the role of each attempt, and the replayed waits."""

    scenario: Scenario
    roles: tuple[tuple[str, ...], ...]
    due: dict[int, float]  # branch -> local virtual time its replayed wait is due

    def role(self, branch: int, number: int) -> str:
        """The role of attempt `number` (1-based) of `branch`; past the script, a replay."""
        script = self.roles[branch]
        return script[number - 1] if number <= len(script) else REPLAYED


@dataclass
class Invocation:
    """One Lambda invocation: when it ran, how it ended, and what the resume path did in it."""

    number: int
    start: float  # global virtual seconds
    end: float
    ending: str  # one of ENDINGS, or the runtime's status when the run went wrong
    refreshes: int
    resumes: int
    checks: int  # wait_for_condition checks made durable (polls and final checks)
    steps: int  # scheduling points the runtime executed: what the simulation cost
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"], data["end"] = round(self.start, 6), round(self.end, 6)
        if not self.detail:
            del data["detail"]
        return data


@dataclass
class Measurement:
    """The result of `measure`: the design's totals, and each invocation."""

    sdk: str
    workload: Workload
    invocations: list[Invocation] = field(default_factory=list)
    records: list[Record] = field(default_factory=list, repr=False)  # one per invocation
    completed: bool = False

    @property
    def timeouts(self) -> int:
        return sum(1 for i in self.invocations if i.ending == "timeout")

    @property
    def virtual_wall_s(self) -> float:
        return self.invocations[-1].end if self.invocations else 0.0

    @property
    def refreshes(self) -> int:
        return sum(i.refreshes for i in self.invocations)

    @property
    def resumes(self) -> int:
        return sum(i.resumes for i in self.invocations)

    @property
    def failure(self) -> Invocation | None:
        """The invocation whose run ended in none of the modelled ways, if any."""
        return next((i for i in self.invocations if i.ending not in ENDINGS), None)

    def to_json(self) -> dict[str, Any]:
        """The design's keys first, then the details; nothing here reads the real clock."""
        return {
            "invocations": len(self.invocations),
            "timeouts": self.timeouts,
            "virtual_wall_s": round(self.virtual_wall_s, 6),
            "refreshes": self.refreshes,
            "resumes": self.resumes,
            "sdk": self.sdk,
            "completed": self.completed,
            "workload": asdict(self.workload),
            "per_invocation": [i.to_json() for i in self.invocations],
        }


class FairScheduler:
    """Round robin: at each scheduling point the least recently chosen runnable thread goes.

    Why not "never preempt" (choice 0 everywhere)? 1.5.0's timer thread releases the scheduler
    lock and takes it again a few instructions later; never preempted, it keeps the lock for its
    whole backlog while every worker waiting in `schedule_resume` starves, the heap runs dry and
    the map suspends, which a multi-core process does not do (a released lock wakes a waiter).
    Round robin lets every runnable thread progress, as threads running in parallel do, and it
    is still one deterministic schedule.

    `holding` says whether the current thread holds the scheduler lock; such a thread is not
    preempted while it can run. Those critical sections are microseconds of code around the
    blocking refresh, so preempting inside them stages interleavings that are possible but
    vanishingly rare in wall time (the sign-off explores those; a throughput figure should not).
    """

    def __init__(self, holding: Callable[[], bool] | None = None) -> None:
        self.holding = holding
        self._last: dict[int, int] = {}
        self._turn = 0

    def begin(self) -> bool:
        return True

    def choose(self, decision: Decision) -> int:
        self._turn += 1
        options, last = decision.options, self._last
        choice = 0
        if not (decision.current_runnable and self.holding is not None and self.holding()):
            oldest = last.get(options[0], -1)
            for index in range(1, len(options)):
                turn = last.get(options[index], -1)
                if turn < oldest:
                    choice, oldest = index, turn
        last[options[choice]] = self._turn
        return choice


class _Unread(dict):
    """The recorder's `reading` table, kept empty so no `status_read` event is recorded.

    The adapter records each status `should_execution_suspend` reads, for the suspend
    invariants. That check scans the branches, so a wave of N callbacks records O(N^2) events:
    85% of a 300-branch record and most of its time. A throughput run judges no suspend
    invariant; it keeps the verdict of each check (`suspend_check`) and drops what it read.
    """

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


class ThroughputRun(ExecutorRun):
    """One invocation's `execute()`: the adapter's run, plus the serialised per-attempt cost.

    An attempt that writes a checkpoint reserves `cost` seconds on one FIFO server and sleeps
    until its reservation ends, so a wave of N attempts takes N x cost, not cost: what one
    checkpoint-batching thread and the interpreter lock impose on branches resuming together.
    Then the adapter's `play` runs the scripted outcome.
    """

    def __init__(self, sdk: Any, plan: Plan, cost: float) -> None:
        super().__init__(sdk, plan.scenario, "sync")
        self.recorder.reading = _Unread()
        self.plan = plan
        self.cost = cost
        self.server_free = 0.0  # local virtual time the shared server is next idle

    def play(self, branch: int) -> Any:
        if self.cost > 0 and self.plan.role(branch, self.attempts[branch] + 1) in CHECKPOINTING:
            ex = active()
            assert ex is not None
            now = ex.clock.now
            self.server_free = max(now, self.server_free) + self.cost
            timing.sleep(self.server_free - now)
        return super().play(branch)

    def _outcome(self, branch: int, number: int, attempt: Attempt, ex: Execution) -> Any:
        if self.plan.role(branch, number) == WAIT:
            # As the SDK's replay of a PENDING retry: suspend until the stored timestamp.
            raise self.sdk.exceptions.TimedSuspendExecution(
                f"branch {branch} waits for its next check", EPOCH + self.plan.due[branch]
            )
        return super()._outcome(branch, number, attempt, ex)


def plan_invocation(work: Workload, keeper_done: bool, pollers: list[Branch], start: float) -> Plan:
    """The branch scripts of an invocation starting at global time `start`, from durable state.

    A replay does not redo durable work. A completed branch returns its checkpointed result. A
    poller whose next check is already due finds its operation READY (the backend turns a
    PENDING retry READY when its timer fires; that is why the in-process resume refreshes
    state) and runs the check at once, with no timer and no refresh. A poller whose next check
    is still ahead finds it PENDING and raises TimedSuspendExecution(that time), so it waits on
    the in-process timer like any branch. The keeper is one step: if the timeout killed it
    mid-sleep, it runs again in full.
    """
    scripts: list[tuple[Attempt, ...]] = []
    roles: list[tuple[str, ...]] = []
    if keeper_done:
        scripts.append((Attempt("value"),))
        roles.append((REPLAYED,))
    else:
        scripts.append((Attempt("value", duration=work.keeper),))
        roles.append((KEEPER,))
    due: dict[int, float] = {}
    poll = Attempt("timed", delay=work.delay)
    for index, branch in enumerate(pollers, start=1):
        if branch.done:
            scripts.append((Attempt("value"),))
            roles.append((REPLAYED,))
            continue
        script: list[Attempt] = []
        role: list[str] = []
        if branch.polls_done and branch.next_due > start + DUE_TOLERANCE_S:
            due[index] = branch.next_due - start
            script.append(Attempt("timed"))
            role.append(WAIT)
        left = work.polls - branch.polls_done
        script += [poll] * left + [Attempt("value")]
        role += [POLL] * left + [FINAL]
        scripts.append(tuple(script))
        roles.append(tuple(role))
    scenario = Scenario(branches=tuple(scripts), refresh_latency=(work.rtt,))
    return Plan(scenario, tuple(roles), due)


class FunctionTimeout:
    """Ends the run at the first scheduling point at or past the function timeout (local time):
    the Lambda runtime stops the process there, and nothing after it becomes durable."""

    def __init__(self, ex: Execution, seconds: float) -> None:
        self.ex = ex
        self.seconds = seconds

    def __call__(self, step: Step) -> None:
        if step.time >= self.seconds:
            self.ex.stop("timeout", f"the function timeout of {self.seconds:g}s elapsed")


def run_invocation(
    sdk: Any,
    work: Workload,
    plan: Plan,
    *,
    execution: type[Execution] = Execution,
    max_steps: int = 50_000_000,
) -> tuple[Outcome, ThroughputRun]:
    """One `execute()` of the target under the fair schedule, cut at the function timeout.

    The step budget is only a backstop: the function timeout bounds every run, and the timer's
    0.1 s polling adds a few points per idle tenth of a second. `execution` is the runtime's
    `Execution` unless a test substitutes a reference to compare it with.
    """
    run = ThroughputRun(sdk, plan, work.attempt_cost)
    ex = execution(
        FairScheduler(holding=run.recorder.lock_held), max_steps=max_steps, record_locations=False
    )
    ex.observe(FunctionTimeout(ex, work.function_timeout))
    with instrumented(sdk, run.recorder, "sync"):
        outcome = ex.run(run.body, main_name="main")
    run.recorder.end(ex, outcome)
    return outcome, run


def measure(sdk: Any, work: Workload) -> Measurement:
    """Invoke until the map completes, as the backend would (at most `max_invocations`)."""
    result = Measurement(sdk=sdk.target.version, workload=work)
    pollers = [Branch() for _ in range(work.branches)]
    keeper_done = False
    clock = 0.0
    for number in range(1, work.max_invocations + 1):
        plan = plan_invocation(work, keeper_done, pollers, clock)
        outcome, run = run_invocation(sdk, work, plan)
        invocation, keeper_done, next_start = _account(
            number, clock, work, outcome, run, pollers, keeper_done
        )
        result.invocations.append(invocation)
        result.records.append(run.record)
        if invocation.ending == "completed":
            result.completed = True
            break
        if next_start is None:
            break  # the run went wrong: report it, do not guess a continuation
        clock = next_start
    return result


def _account(
    number: int,
    start: float,
    work: Workload,
    outcome: Outcome,
    run: ThroughputRun,
    pollers: list[Branch],
    keeper_done: bool,
) -> tuple[Invocation, bool, float | None]:
    """Fold one invocation's record into durable progress; say when the next one starts.

    Only what happened before the invocation ended counts: before `execute()` returned or
    raised, and strictly before the function timeout. A check is durable when its attempt
    ended (the attempt's cost includes its own checkpoint).
    """
    events = run.record.events
    exit_event = run.record.exit_event()
    if exit_event is not None and exit_event.time < work.function_timeout:
        events = events[: exit_event.seq]
        end_local = exit_event.time
    else:
        exit_event = None
        events = [e for e in events if e.time < work.function_timeout]
        end_local = work.function_timeout
    refreshes = resumes = checks = 0
    for event in events:
        if event.kind == "refresh_start":
            refreshes += 1
        elif event.kind == "status":
            if event["old"] == "SUSPENDED_WITH_TIMEOUT" and event["new"] == "PENDING":
                resumes += 1
        elif event.kind == "attempt_end" and event.branch is not None:
            role = run.plan.role(event.branch, event["attempt"])
            if role == KEEPER:
                keeper_done = True
            elif role in (POLL, FINAL):
                checks += 1
                branch = pollers[event.branch - 1]
                if role == FINAL:
                    branch.done = True
                else:
                    branch.polls_done += 1
                    branch.next_due = start + event.time + work.delay
    detail = ""
    next_start: float | None = None
    if exit_event is None and outcome.status == "timeout":
        ending = "timeout"
        next_start = start + work.function_timeout + work.reinvoke_delay
    elif exit_event is None:
        ending, detail = outcome.status, outcome.reason
    elif exit_event.kind == "execute_return":
        ending = "completed"
    elif isinstance(run.error, run.sdk.exceptions.TimedSuspendExecution):
        ending = "suspended"
        wake = max(end_local, float(run.error.scheduled_timestamp) - EPOCH)
        next_start = start + wake + work.reinvoke_delay
    else:  # nothing in this workload waits on a callback or fails: the model is broken
        ending, detail = "error", f"execute() raised {run.error!r}"
    invocation = Invocation(
        number=number,
        start=start,
        end=start + end_local,
        ending=ending,
        refreshes=refreshes,
        resumes=resumes,
        checks=checks,
        steps=outcome.steps,
        detail=detail,
    )
    return invocation, keeper_done, next_start
