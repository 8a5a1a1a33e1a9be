"""The real-thread baseline: the canonical executor scenarios on REAL threads, repeated.

This is what the SDK's own suite does (real `threading`, a real `ThreadPoolExecutor`, the real
clock, real sleeps) made as strong as such a test can honestly be: the same scenarios the model
checker explores, one scenario second scaled down to 20-300 ms, repeated many times, each run
judged by a real-thread observable of each known defect. The figure it produces, detections per
1000 runs, is the baseline the deterministic search is measured against (docs/benchmarks.md).
It is the only place in the project where real threads and real sleeps are allowed.

Nothing of the SDK is changed. `execute()` runs unmodified; around it sit only observers that a
real-thread test can afford without changing the schedule much:

- the scheduler lock is a real `threading.Lock` wrapped to remember its owner and its waiters
  (`OwnedLock`), so a refresh under the lock and a thread waiting for a lock it holds are seen;
- the executor module's `time.time()` notes the timer thread's last reading, so a wave can be
  compared with what was due when the timer looked;
- the pool is the real `ThreadPoolExecutor`, subclassed to note a submit after `execute()` shut
  it down;
- the refresh is a fake `execution_state` whose `create_checkpoint()` sleeps for the scenario's
  latency and raises the REAL `BackgroundThreadError` (`scheduler.refresh.checkpoint_failure`).

Every wait is bounded. A run whose `execute()` has not returned after its timeout is a
detection ("execute() did not return within X s"), classified as a self-deadlock when a thread
waits for the scheduler lock it already holds. The stuck run is then rescued (the lock wrapper
stops blocking, the completion event is set) so threads do not pile up; all threads of a run
are daemons (the pool's workers inherit it from the daemon threads that submit) and any that
survive the rescue are unhooked from `concurrent.futures`' exit-time join, so a hung run never
blocks process exit.

    python -m stateful_tests.stress [--runs N] [--sdk V ...] [--scenario NAME ...]
                                    [--scale LO:HI] [--seed S] [--jobs J] [--json FILE]
"""

from __future__ import annotations

import _thread
import argparse
import concurrent.futures.thread as futures_thread
import json
import logging
import math
import multiprocessing
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace
from typing import Any

from invariants.outcome import CompletionConfig, is_finished
from scheduler.adapter_v1 import attempt_outcome
from scheduler.refresh import checkpoint_failure
from scheduler.scenario import Attempt, Scenario
from scheduler.target import SdkModules, load, resolve
from stateful_tests.scenarios import canonical

VERSIONS = ("1.5.0", "1.6.0", "1.7.0")

# Real-time constants of the 1.x TimerScheduler that scaling cannot touch (they are the SDK's).
JOIN_S = 1.0  # shutdown(): self._timer_thread.join(timeout=1.0)
POLL_S = 0.1  # _timer_loop: the longest single wait of the timer thread

# One scenario second lasts `scale` real seconds, drawn log-uniformly per run from this range.
# The SDK's own constants do not scale, so each defect has its regime: below ~0.04 the timer's
# fixed 0.1 s poll outlasts a whole scenario and the map suspends before any timer is noticed
# (no in-process resume, so none of the defects that need one); the suspend-decision race of
# due-at-once needs the keeper's end (2 x scale) to meet a poll tick, near 0.05; the refresh
# that outlives the join needs the resume before the fail-fast error, above ~0.08. A range
# spanning all of them is the honest real-thread test; `render_bands` shows the split.
DEFAULT_SCALE = (0.02, 0.3)
TIMEOUT_BASE_S = 0.1  # a run's timeout: base + factor * the real time a correct run needs
TIMEOUT_FACTOR = 1.5
RESCUE_S = 3.0  # how long a rescued run may take to unwind before its threads count as leaked
LOCK_POLL_S = 0.05  # OwnedLock re-checks for a rescue this often while blocked
BATCH = 10  # runs per job handed to a worker process


@dataclass(frozen=True)
class Defect:
    """A known defect, the canonical scenario that shows it, and where the model found it."""

    invariant: str
    scenario: str
    versions: tuple[str, ...]  # SDK versions on which the model checker finds it
    observable: str  # what counts as a detection on real threads


DEFECTS: tuple[Defect, ...] = (
    Defect(
        "no_deadlock",
        "wave",
        ("1.5.0",),
        "execute() did not return and a thread waits for the scheduler lock it holds",
    ),
    Defect(
        "no_hang_on_refresh_failure",
        "refresh-fails",
        VERSIONS,
        "a refresh raised BackgroundThreadError and execute() did not return",
    ),
    Defect(
        "no_refresh_under_lock",
        "wave",
        ("1.5.0",),
        "create_checkpoint() entered by the thread that holds the scheduler lock",
    ),
    Defect(
        "one_refresh_per_wave",
        "wave",
        ("1.5.0",),
        "a wave was handed to the refresh while an entry due at the timer's reading stayed queued",
    ),
    Defect(
        "outcome_matches_completion",
        "lone-due-at-once",
        VERSIONS,
        "execute() raised a suspend with no branch suspended, or with a branch still active",
    ),
    Defect(
        "outcome_matches_completion",
        "due-at-once",
        VERSIONS,
        "execute() raised a suspend with no branch suspended, or with a branch still active",
    ),
    Defect(
        "no_resume_after_exit",
        "slow-refresh-fail-fast",
        ("1.6.0", "1.7.0"),
        "a branch was submitted to the pool after execute() had shut it down",
    ),
)

# The scenarios to stress, each with the share of `runs` it gets. A run of
# slow-refresh-fail-fast lasts over a second whatever the scale (its refresh must outlive the
# SDK's fixed 1 s join), so it gets a tenth of the runs to keep the default run short.
WEIGHTS: dict[str, float] = {
    "wave": 1.0,
    "refresh-fails": 1.0,
    "lone-due-at-once": 1.0,
    "due-at-once": 1.0,
    "slow-refresh-fail-fast": 0.1,
}


def runs_for(scenario: str, runs: int) -> int:
    """How many of `runs` a scenario gets (at least one)."""
    return max(1, math.ceil(runs * WEIGHTS.get(scenario, 1.0)))


def known(version: str) -> set[str]:
    """The invariants the model checker breaks on this version (in some canonical scenario)."""
    return {d.invariant for d in DEFECTS if version in d.versions}


def watched_invariants(scenario: str) -> set[str]:
    """The invariants this scenario is stressed for (others may be detected on the way)."""
    return {d.invariant for d in DEFECTS if d.scenario == scenario}


def unexpected(result: RunResult) -> set[str]:
    """Detections of a watched invariant that the model checker does not find on that version:
    a new defect or a false alarm of the harness; either way someone must look."""
    return (set(result.detections) & watched_invariants(result.scenario)) - known(result.version)


# ---------------------------------------------------------------------------------------------
# Real-time scenario


def real_seconds(virtual: float, scale: float) -> float:
    """A scenario duration or delay in real seconds."""
    return virtual * scale


def real_latency(virtual: float, scale: float) -> float:
    """A refresh latency in real seconds, keeping its order with the SDK's fixed 1 s join.

    Scaling a 1.5 s refresh to 30 ms would make it shorter than `shutdown()`'s join and erase
    exactly the race the scenario is about, so a latency longer than the join is the join plus
    its scaled excess: every ordering of the virtual scenario against the join is kept (in
    slow-refresh-fail-fast the refresh still ends 0.3 scaled seconds after execute() exits).
    """
    if virtual > JOIN_S:
        return JOIN_S + (virtual - JOIN_S) * scale
    return virtual * scale


def expected_seconds(scenario: Scenario, scale: float) -> float:
    """A generous bound on the real time a CORRECT execute() needs for this scenario.

    Each branch's chain of attempts: its durations and delays, each timed attempt noticed one
    timer poll late and refreshed at the slowest latency. Branches run side by side unless
    `max_concurrency` serialises them; the join is added when a refresh outlives it.
    """
    latency = max(real_latency(x, scale) for x in scenario.refresh_latency or (0.0,))

    def chain(script: tuple[Attempt, ...]) -> float:
        work = sum(real_seconds(a.duration + max(a.delay, 0.0), scale) for a in script)
        return work + sum(POLL_S + latency for a in script if a.kind == "timed")

    chains = [chain(script) for script in scenario.branches]
    serial = scenario.max_concurrency is not None and scenario.max_concurrency < len(chains)
    join = JOIN_S if latency > JOIN_S else 0.0
    return (sum(chains) if serial else max(chains, default=0.0)) + join


def timeout_for(scenario: Scenario, scale: float) -> float:
    """How long the harness waits for execute() before calling the run stuck."""
    return TIMEOUT_BASE_S + TIMEOUT_FACTOR * expected_seconds(scenario, scale)


# ---------------------------------------------------------------------------------------------
# Observers


class OwnedLock:
    """A real `threading.Lock` that knows its owner and its waiters, and can be abandoned.

    Blocking waits are real lock waits, cut into `LOCK_POLL_S` slices only so that a rescue can
    end them; `abandon()` turns the lock into a no-op so a self-deadlocked timer thread (and
    everyone queued behind it) can unwind and exit.
    """

    def __init__(self) -> None:
        self._inner = _thread.allocate_lock()
        self.owner: int | None = None
        self.waiting: set[int] = set()
        self.abandoned = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = threading.get_ident()
        if self.abandoned:
            return True
        if self._inner.acquire(False):
            self.owner = me
            return True
        if not blocking:
            return False
        deadline = None if timeout < 0 else time.monotonic() + timeout
        self.waiting.add(me)
        try:
            while True:
                left = LOCK_POLL_S if deadline is None else deadline - time.monotonic()
                if self._inner.acquire(True, max(0.0, min(LOCK_POLL_S, left))):
                    self.owner = me
                    return True
                if self.abandoned:
                    return True
                if deadline is not None and time.monotonic() >= deadline:
                    return False
        finally:
            self.waiting.discard(me)

    def release(self) -> None:
        if self.abandoned:
            return
        self.owner = None
        self._inner.release()

    def locked(self) -> bool:
        return self._inner.locked()

    def held_by_me(self) -> bool:
        return self.owner == threading.get_ident() and self._inner.locked()

    def self_deadlocked(self) -> bool:
        """A thread waits for this lock while it is the owner: it can never get it."""
        owner = self.owner
        return owner is not None and owner in self.waiting

    def abandon(self) -> None:
        self.abandoned = True

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


_current = threading.local()  # .run on the thread that calls execute()
_timers: dict[int, Any] = {}  # timer thread ident -> its scheduler (for the clock observer)
_thread_runs: dict[threading.Thread, RealRun] = {}  # threads of live runs, for crash reports


def _observed_time() -> float:
    """`time.time()` for the executor module: the timer thread's readings are noted."""
    value = time.time()
    scheduler = _timers.get(threading.get_ident())
    if scheduler is not None:
        scheduler.clock_read = (value, scheduler._schedule_counter)
    return value


@contextmanager
def observed(sdk: SdkModules) -> Iterator[None]:
    """Install the observers in the SDK's executor module for one run; restore on exit.

    Only names the executor module looks up at call time are replaced (`threading.Lock`,
    `time.time`, `TimerScheduler`, `ThreadPoolExecutor`); the code of `execute()`, the timer
    loop and the models is the SDK's own.
    """
    executor = sdk.executor
    saved = {
        name: getattr(executor, name)
        for name in ("threading", "time", "TimerScheduler", "ThreadPoolExecutor")
    }
    base_scheduler = saved["TimerScheduler"]
    base_pool = saved["ThreadPoolExecutor"]

    class ObservedTimerScheduler(base_scheduler):  # type: ignore[misc, valid-type]
        """The SDK's scheduler; only the resubmit callback is wrapped to see each wave."""

        clock_read: tuple[float, int] | None = None

        def __init__(self, resubmit_callback: Callable[[Any], None]) -> None:
            run: RealRun = _current.run

            def resubmit(arg: Any) -> None:
                run.on_wave(self, arg)
                resubmit_callback(arg)

            super().__init__(resubmit)
            run.scheduler = self
            _timers[self._timer_thread.ident] = self
            _thread_runs[self._timer_thread] = run

    class ObservedPool(base_pool):  # type: ignore[misc, valid-type]
        """The real pool; notes a submit that arrives after execute() shut it down."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.run: RealRun = _current.run
            self.run.pool = self
            self.closed = False

        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            if self.closed or self.run.exited:
                self.run.detect("no_resume_after_exit")
            future = super().submit(fn, *args, **kwargs)
            for worker in list(self._threads):
                _thread_runs.setdefault(worker, self.run)
            return future

        def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
            self.closed = True
            super().shutdown(wait=wait, cancel_futures=cancel_futures)

    try:
        executor.threading = SimpleNamespace(
            Lock=OwnedLock, Event=threading.Event, Thread=threading.Thread
        )
        executor.time = SimpleNamespace(time=_observed_time, sleep=time.sleep)
        executor.TimerScheduler = ObservedTimerScheduler
        executor.ThreadPoolExecutor = ObservedPool
        yield
    finally:
        for name, value in saved.items():
            setattr(executor, name, value)


class _WorkerDeaths(logging.Handler):
    """`concurrent.futures` logs "Exception in worker" when a BaseException (the SDK's
    BackgroundThreadError out of a done-callback) kills a pool worker: a thread crash too."""

    def __init__(self, stray: list[str]) -> None:
        super().__init__(logging.CRITICAL)
        self.stray = stray

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else "?"
        thread = threading.current_thread()
        _crash(_thread_runs.get(thread), f"{thread.name}: {error}", self.stray)


def _crash(run: RealRun | None, what: str, stray: list[str]) -> None:
    """Attribute a crash to its run, or keep it as a stray one."""
    if run is not None:
        run.crashes.append(what)
    else:
        stray.append(what)


@contextmanager
def crashes_recorded() -> Iterator[list[str]]:
    """Uncaught exceptions of run threads are recorded on their run instead of printed.

    The timer thread dying of BackgroundThreadError is an expected, measured event here, and
    so is a pool worker killed by one; a crash on a thread of no run is kept in the yielded
    list.
    """
    stray: list[str] = []
    previous = threading.excepthook
    logger = logging.getLogger("concurrent.futures")
    handler = _WorkerDeaths(stray)
    propagate = logger.propagate

    def hook(args: Any) -> None:
        run = _thread_runs.get(args.thread) if args.thread is not None else None
        _crash(run, f"{getattr(args.thread, 'name', '?')}: {args.exc_type.__name__}", stray)

    threading.excepthook = hook
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield stray
    finally:
        threading.excepthook = previous
        logger.removeHandler(handler)
        logger.propagate = propagate


# ---------------------------------------------------------------------------------------------
# One run


class FakeExecutionState:
    """Only what execute() needs of ExecutionState: the refresh, with latency and failure."""

    def __init__(self, run: RealRun) -> None:
        self.run = run
        self.calls = 0

    def create_checkpoint(self, operation_update: Any = None, is_sync: bool = True) -> None:
        """The shared refresh: notes a call made under the scheduler lock, sleeps for the
        scenario's latency, raises the sticky BackgroundThreadError once checkpoints failed."""
        run = self.run
        self.calls += 1
        call = self.calls
        scheduler = run.scheduler
        if scheduler is not None and scheduler._lock.held_by_me():
            run.detect("no_refresh_under_lock")
        latency = real_latency(run.scenario.latency(call), run.scale)
        if latency > 0:
            time.sleep(latency)
        if call in run.scenario.refresh_failures:
            run.fail_checkpoints()
        if run.failure is not None:
            run.refresh_failed = True
            raise run.failure


@dataclass
class RunResult:
    """What one real-thread run showed."""

    version: str
    scenario: str
    scale: float
    seconds: float  # until execute() exited, or until the timeout
    timeout: float
    outcome: str  # "return", "suspend", "raise:<Type>", "stuck"
    statuses: list[str]  # branch statuses read just after execute() exited (or was rescued)
    detections: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    leaked_threads: int = 0


class RealRun:
    """One `ConcurrentExecutor.execute()` of the target on a scenario, on real threads."""

    def __init__(self, sdk: SdkModules, name: str, scenario: Scenario, scale: float) -> None:
        self.sdk = sdk
        self.name = name
        self.scenario = scenario
        self.scale = scale
        self.attempts = [0] * len(scenario.branches)
        self.failure: BaseException | None = None  # the checkpoint subsystem's sticky failure
        self.refresh_failed = False
        self.detections: set[str] = set()
        self.crashes: list[str] = []
        self.scheduler: Any = None
        self.pool: Any = None
        self.executor: Any = None
        self.exited = False
        self.stuck = False  # the harness gave up waiting: what execute() does next is rescue
        self.error: BaseException | None = None
        self.result: Any = None
        self.statuses: list[str] = []

    def detect(self, invariant: str) -> None:
        """Note that this run showed a violation of `invariant` (once is enough)."""
        self.detections.add(invariant)

    def fail_checkpoints(self) -> None:
        """The checkpoint subsystem fails, once and for good (one shared exception)."""
        if self.failure is None:
            self.failure = checkpoint_failure(self.sdk)

    def on_wave(self, scheduler: Any, arg: Any) -> None:
        """On the timer thread, just before the refresh: was anything due left behind?

        Due means: on the heap before the timer's last clock reading T (schedule counter lower
        than the one at T) with a resume time <= T. Such an entry waits for another loop turn
        and another refresh: the one-resume-per-refresh behaviour of 1.5.0.
        """
        read = scheduler.clock_read
        if read is None:
            return
        now, counter = read
        left = [e for e in list(scheduler._pending_resumes) if e[0] <= now and e[1] < counter]
        if left:
            self.detect("one_refresh_per_wave")

    def play(self, branch: int) -> Any:
        """The body of one attempt of `branch`, on a real pool worker."""
        self.attempts[branch] += 1
        number = self.attempts[branch]
        attempt = self.scenario.attempt(branch, number)
        for _ in range(attempt.points):
            time.sleep(0)  # the real-thread analogue of a scheduling point: let others run
        if attempt.duration > 0:
            time.sleep(real_seconds(attempt.duration, self.scale))
        if attempt.kind == "checkpoint_failure":
            self.fail_checkpoints()
        if self.failure is not None:
            raise self.failure
        due = time.time() + real_seconds(attempt.delay, self.scale)
        return attempt_outcome(self.sdk, attempt, branch, number, exited=self.exited, due=due)

    def build(self) -> Any:
        """The SDK's ConcurrentExecutor with scripted branch bodies, built as map() does."""
        sdk, sc = self.sdk, self.scenario
        base = sdk.executor.ConcurrentExecutor
        run = self

        class StressExecutor(base):  # type: ignore[misc, valid-type]
            """A map whose branch bodies are scripts; the scheduling code is the SDK's own."""

            def execute_item(self, child_context: Any, executable: Any) -> Any:
                raise NotImplementedError("scripted branches run in _execute_item_in_child_context")

            def _execute_item_in_child_context(self, executor_context: Any, executable: Any) -> Any:
                return run.play(executable.index)

        executables = [sdk.models.Executable(index=i, func=None) for i in range(len(sc.branches))]
        completion = sdk.config.CompletionConfig(
            min_successful=sc.min_successful,
            tolerated_failure_count=sc.tolerated_failure_count,
            tolerated_failure_percentage=sc.tolerated_failure_percentage,
        )
        ls = sdk.lambda_service
        return StressExecutor(
            executables,
            sc.max_concurrency,
            completion,
            ls.OperationSubType.MAP,
            ls.OperationSubType.MAP_ITERATION,
            "map-",
            None,
        )

    def body(self) -> None:
        """The daemon thread that calls the REAL execute() and judges what it reports."""
        _current.run = self
        self.executor = self.build()
        try:
            self.result = self.executor.execute(
                FakeExecutionState(self), SimpleNamespace(_parent_id=None)
            )
        except BaseException as err:  # the SDK's suspends and failures are BaseExceptions
            self.error = err
        finally:
            self.exited = True
            self.statuses = [e.status.name for e in self.executor.executables_with_state]
        if not self.stuck:
            self._judge_outcome()

    def _judge_outcome(self) -> None:
        """outcome_matches_completion, from what a real-thread test can see after exit.

        A suspend is judged against the statuses read right after execute() raised: the timer
        is shut down by then, so a suspended branch cannot have been resumed since; a branch
        active at exit is still active or has finished, and both are violations. A returned
        result is judged on its own items: the completion criteria must hold for them.
        """
        suspend = self.sdk.exceptions.SuspendExecution
        if isinstance(self.error, suspend):
            active = any(s in ("PENDING", "RUNNING") for s in self.statuses)
            waiting = any(s.startswith("SUSPENDED") for s in self.statuses)
            if active or not waiting:
                self.detect("outcome_matches_completion")
        elif self.error is None and self.result is not None:
            names = [item.status.name for item in self.result.all]
            sc = self.scenario
            config = CompletionConfig(
                sc.min_successful, sc.tolerated_failure_count, sc.tolerated_failure_percentage
            )
            succeeded, failed = names.count("SUCCEEDED"), names.count("FAILED")
            if not is_finished(succeeded, failed, len(names), config):
                self.detect("outcome_matches_completion")

    def outcome(self) -> str:
        """How execute() ended, in one word."""
        if not self.exited:
            return "stuck"
        if self.error is None:
            return "return"
        if isinstance(self.error, self.sdk.exceptions.SuspendExecution):
            return "suspend"
        return f"raise:{type(self.error).__name__}"

    def threads(self) -> list[threading.Thread]:
        """The run's threads still alive (timer and pool workers)."""
        own = [t for t, r in list(_thread_runs.items()) if r is self]
        return [t for t in own if t.is_alive()]

    def rescue(self) -> None:
        """Unblock a stuck run so its threads exit: the lock stops blocking, execute() wakes."""
        if self.scheduler is not None:
            self.scheduler._lock.abandon()
        if self.executor is not None:
            self.executor._completion_event.set()

    def forget(self) -> int:
        """Drop the run's bookkeeping; unhook threads still alive from the exit-time join."""
        alive = self.threads()
        for t in alive:
            futures_thread._threads_queues.pop(t, None)
        for t in [t for t, r in list(_thread_runs.items()) if r is self]:
            _thread_runs.pop(t, None)
        if self.scheduler is not None:
            _timers.pop(self.scheduler._timer_thread.ident, None)
        return len(alive)


def run_real(
    sdk: SdkModules,
    name: str,
    scale: float,
    scenario: Scenario | None = None,
    *,
    rescue: bool = True,
) -> RunResult:
    """Play one canonical scenario (or `scenario`) once on real threads, bounded in time.

    A stuck run is detected at its timeout, then rescued so its threads exit; with
    `rescue=False` its threads are left blocked (they are daemons, unhooked from the pool's
    exit-time join), which is what the harness's own test of clean process exit needs.
    """
    scenario = scenario if scenario is not None else canonical()[name]
    if scenario.clock_steps:
        raise ValueError(f"{name}: a real-thread run cannot step the wall clock")
    run = RealRun(sdk, name, scenario, scale)
    timeout = timeout_for(scenario, scale)
    with observed(sdk):
        caller = threading.Thread(target=run.body, name=f"execute-{name}", daemon=True)
        started = time.perf_counter()
        caller.start()
        caller.join(timeout)
        seconds = time.perf_counter() - started
        if caller.is_alive():
            lock = getattr(run.scheduler, "_lock", None)
            if lock is not None and lock.self_deadlocked():
                run.detect("no_deadlock")
            if run.refresh_failed:
                run.detect("no_hang_on_refresh_failure")
            run.detect("no_hang")
            outcome = "stuck"
            run.stuck = True
            if rescue:
                run.rescue()
                caller.join(RESCUE_S)
        else:
            outcome = run.outcome()
    settle = time.perf_counter() + (RESCUE_S if rescue else 0.0)
    while run.threads() and time.perf_counter() < settle:
        time.sleep(0.005)
    leaked = run.forget() + (1 if caller.is_alive() else 0)
    return RunResult(
        version=sdk.target.version,
        scenario=name,
        scale=round(scale, 4),
        seconds=round(seconds, 4),
        timeout=round(timeout, 3),
        outcome=outcome,
        statuses=list(run.statuses),
        detections=sorted(run.detections),
        crashes=list(run.crashes),
        leaked_threads=leaked,
    )


def draw_scale(scale: tuple[float, float], seed: int, version: str, scenario: str, i: int) -> float:
    """Run `i`'s scale: log-uniform in [lo, hi], so each octave of time scales gets the same
    share of runs; a pure function of its arguments, so the CLI and pytest runs agree."""
    lo, hi = scale
    if hi <= lo:
        return lo
    rng = random.Random(f"{seed}:{version}:{scenario}:{i}")
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


_SDKS: dict[str, SdkModules] = {}


def sdk_for(version: str) -> SdkModules:
    """The loaded modules of a version, loaded once per process (earlier loads stay usable)."""
    if version not in _SDKS:
        _SDKS[version] = load(resolve(version))
    return _SDKS[version]


def _batch(job: tuple[str, str, tuple[float, ...]]) -> list[RunResult]:
    """A worker process's share: some runs of one scenario on one version, in order."""
    version, name, scales = job
    sdk = sdk_for(version)
    with crashes_recorded():
        return [run_real(sdk, name, scale) for scale in scales]


# ---------------------------------------------------------------------------------------------
# Tally and table


@dataclass
class Row:
    """Detections of one defect on one version, over the runs of its scenario."""

    invariant: str
    scenario: str
    sdk: str
    runs: int
    detections: int
    per_1000: float
    ci95: tuple[float, float]  # Wilson interval, per 1000 runs
    mean_run_s: float
    model_finds: bool  # the model checker breaks this invariant on this version

    @property
    def runs_per_detection(self) -> float | None:
        return self.runs / self.detections if self.detections else None


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a rate, as (low, high) per 1000."""
    if n == 0:
        return (0.0, 1000.0)
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half) * 1000, min(1.0, centre + half) * 1000)


class Tally:
    """Every run's result, summarised per (defect, version)."""

    def __init__(self) -> None:
        self.results: list[RunResult] = []

    def add(self, result: RunResult) -> None:
        self.results.append(result)

    def rows(self) -> list[Row]:
        """One row per known defect and stressed version, in DEFECTS order."""
        rows = []
        versions = sorted({r.version for r in self.results})
        for defect in DEFECTS:
            for version in versions:
                mine = [
                    r
                    for r in self.results
                    if r.scenario == defect.scenario and r.version == version
                ]
                if not mine:
                    continue
                hits = sum(1 for r in mine if defect.invariant in r.detections)
                rows.append(
                    Row(
                        invariant=defect.invariant,
                        scenario=defect.scenario,
                        sdk=version,
                        runs=len(mine),
                        detections=hits,
                        per_1000=1000 * hits / len(mine),
                        ci95=wilson(hits, len(mine)),
                        mean_run_s=sum(r.seconds for r in mine) / len(mine),
                        model_finds=version in defect.versions,
                    )
                )
        return rows

    def unexpected(self) -> list[RunResult]:
        """Runs that detected something the model checker does not find on that version."""
        out = []
        for r in self.results:
            if unexpected(r):
                out.append(r)
        return out

    def to_json(self, seconds: float, scale: tuple[float, float], jobs: int) -> dict[str, Any]:
        """Rows and every run, for `--json` and for `nox -s bench`."""
        return {
            "scale": list(scale),
            "jobs": jobs,
            "seconds": round(seconds, 2),
            "runs": len(self.results),
            "leaked_threads": sum(r.leaked_threads for r in self.results),
            "rows": [asdict(row) for row in self.rows()],
            "results": [asdict(r) for r in self.results],
        }


def render(rows: Iterable[Row]) -> str:
    """The markdown table of detection rates (docs/benchmarks.md reuses it)."""
    out = [
        "| defect (invariant) | scenario | sdk | model finds it | runs | detections "
        "| per 1000 runs | 95% CI per 1000 | mean s/run |",
        "|---|---|---|---|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r.invariant} | {r.scenario} | {r.sdk} | {'yes' if r.model_finds else 'no'} "
            f"| {r.runs} | {r.detections} | {r.per_1000:.1f} "
            f"| {r.ci95[0]:.1f}-{r.ci95[1]:.1f} | {r.mean_run_s:.3f} |"
        )
    return "\n".join(out)


def render_bands(results: list[RunResult], scale: tuple[float, float], bands: int = 5) -> str:
    """Detections per scale band (log-spaced): how much a real-thread rate owes to timing.

    The SDK's fixed constants (the timer's 0.1 s poll, the 1 s join) do not scale, so each
    defect shows only in some timing regimes; a single rate hides that.
    """
    lo, hi = scale
    edges = [lo * (hi / lo) ** (k / bands) for k in range(bands + 1)] if hi > lo else [lo, hi]
    n = len(edges) - 1

    def band(value: float) -> int:
        for k in range(n):
            if value < edges[k + 1]:
                return k
        return n - 1

    head = " | ".join(f"{edges[k]:.3f}-{edges[k + 1]:.3f}" for k in range(n))
    out = [
        f"| defect (invariant) | scenario | sdk | {head} |",
        "|---|---|---|" + "---:|" * n,
    ]
    versions = sorted({r.version for r in results})
    for defect in DEFECTS:
        for version in versions:
            if version not in defect.versions:
                continue
            counts = [[0, 0] for _ in range(n)]
            for r in results:
                if r.scenario == defect.scenario and r.version == version:
                    cell = counts[band(r.scale)]
                    cell[0] += 1
                    cell[1] += defect.invariant in r.detections
            if not any(c[0] for c in counts):
                continue
            cells = " | ".join(f"{hit}/{runs}" for runs, hit in counts)
            out.append(f"| {defect.invariant} | {defect.scenario} | {version} | {cells} |")
    return "\n".join(out)


def stress(
    versions: Iterable[str] = VERSIONS,
    scenarios: Iterable[str] = tuple(WEIGHTS),
    runs: int = 100,
    scale: tuple[float, float] = DEFAULT_SCALE,
    seed: int = 0,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> Tally:
    """Every scenario on every version, `runs_for(scenario, runs)` times each.

    With `jobs` > 1 the runs are shared among that many worker processes (spawned, so no
    process is forked from one that has threads). A run is mostly sleeping, so processes
    rarely compete for a core; `jobs=1` runs everything in this process, one run at a time.
    """
    plan = []
    for version in versions:
        for name in scenarios:
            scales = [
                draw_scale(scale, seed, version, name, i) for i in range(runs_for(name, runs))
            ]
            plan += [
                (version, name, tuple(scales[i : i + BATCH])) for i in range(0, len(scales), BATCH)
            ]
    tally = Tally()
    done: dict[tuple[str, str], int] = {}

    def collect(job: tuple[str, str, tuple[float, ...]], results: list[RunResult]) -> None:
        for result in results:
            tally.add(result)
        key = (job[0], job[1])
        done[key] = done.get(key, 0) + len(results)
        if progress is not None and done[key] == runs_for(job[1], runs):
            mine = [r for r in tally.results if (r.version, r.scenario) == key]
            seen = sorted({d for r in mine for d in r.detections})
            progress(
                f"{key[0]} {key[1]}: {len(mine)} runs, detected {', '.join(seen) or 'nothing'}"
            )

    if jobs <= 1:
        for job in plan:
            collect(job, _batch(job))
    else:
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            for job, results in zip(plan, pool.imap(_batch, plan)):
                collect(job, results)
    return tally


def parse_scale(text: str) -> tuple[float, float]:
    """`0.02` (fixed) or `0.01:0.05` (uniform per run)."""
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a scale: {text!r}") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or not 0 < parts[0] <= parts[1] <= 1:
        raise argparse.ArgumentTypeError(f"scale must be LO[:HI] with 0 < LO <= HI <= 1: {text}")
    return (parts[0], parts[1])


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 when a run detected what the model does not find there."""
    from stateful_tests.cli import Parser, positive_int

    parser = Parser(prog="python -m stateful_tests.stress", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive_int, default=100, help="runs per scenario")
    parser.add_argument("--sdk", nargs="+", default=list(VERSIONS), help="released 1.x versions")
    parser.add_argument("--scenario", nargs="+", default=list(WEIGHTS), choices=list(WEIGHTS))
    parser.add_argument("--scale", type=parse_scale, default=DEFAULT_SCALE)
    parser.add_argument("--seed", type=positive_int, default=0)
    parser.add_argument("--jobs", type=positive_int, default=4, help="worker processes (1: none)")
    parser.add_argument("--json", dest="json_file", default=None, help="write rows and runs here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tally = stress(
        args.sdk,
        args.scenario,
        args.runs,
        args.scale,
        args.seed,
        args.jobs,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    seconds = time.perf_counter() - started
    print(render(tally.rows()))
    print()
    print("Detections / runs per scale band (real seconds per scenario second):")
    print()
    print(render_bands(tally.results, args.scale))
    if args.json_file:
        data = tally.to_json(seconds, args.scale, args.jobs)
        data["source"] = "`python -m stateful_tests.stress " + " ".join(argv or sys.argv[1:]) + "`"
        with open(args.json_file, "w") as fh:
            json.dump(data, fh, indent=2)
    leaked = sum(r.leaked_threads for r in tally.results)
    surprises = tally.unexpected()
    for r in surprises[:5]:
        print(f"UNEXPECTED {r.version} {r.scenario}: {r.detections} (scale {r.scale})")
    print(
        f"stress: runs={len(tally.results)} detections="
        f"{sum(1 for r in tally.results if r.detections)} unexpected={len(surprises)} "
        f"leaked_threads={leaked} seconds={seconds:.1f}"
    )
    return 1 if surprises else 0


if __name__ == "__main__":
    sys.exit(main())
