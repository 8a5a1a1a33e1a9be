"""The 1.x generation (TimerScheduler + ConcurrentExecutor) wired to the runtime.

Nothing of the SDK is copied: its modules are patched in place for the duration of a run
(`instrumented`), and every observation becomes an event of `scheduler.record`. Two levels:
`ExecutorRun` plays a whole `ConcurrentExecutor.execute()` on scripted branches;
`SchedulerRig` drives a bare `TimerScheduler` one command at a time for the state machines.
"""

from __future__ import annotations

import functools
import heapq as std_heapq
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import SimpleNamespace
from typing import Any

from interleavings import timing
from interleavings.execution import Execution, Outcome, active
from interleavings.futures import ThreadPoolExecutor as ControlledPool
from interleavings.patching import patched
from interleavings.points import lines, watched
from scheduler.record import TIMER_THREAD, Record
from scheduler.refresh import checkpoint_failure
from scheduler.scenario import Attempt, Scenario

GRANULARITIES = ("sync", "access", "line")


class Recorder:
    """Turns what the adapter sees into `Record` events, stamped with time, thread and lock."""

    def __init__(self, branches: int, meta: dict[str, Any] | None = None) -> None:
        self.record = Record(branches=branches, meta=dict(meta or {}))
        self.steps: list[int] = []  # event seq -> index of the trace step it happened after
        self.scheduler: Any = None  # the live TimerScheduler, once built
        self.reading: dict[int, dict[int, str]] = {}  # tid -> statuses read in a suspend check

    def lock_held(self) -> bool:
        ex = active()
        lock = getattr(self.scheduler, "_lock", None)
        inner = getattr(lock, "inner", None)
        return ex is not None and inner is not None and inner.owner_state is ex.current

    def emit(self, kind: str, branch: int | None = None, **data: Any) -> None:
        ex = active()
        if ex is None or ex.finishing or ex.current is None:
            return
        self.steps.append(len(ex.trace.steps) - 1)
        self.record.add(
            kind,
            time=ex.clock.now,
            thread=ex.current.name,
            branch=branch,
            lock_held=self.lock_held(),
            **data,
        )

    def end(self, ex: Execution, outcome: Outcome) -> None:
        self.steps.append(len(ex.trace.steps) - 1)
        self.record.add(
            "run_end",
            time=ex.clock.now,
            thread="runtime",
            status=outcome.status,
            main_done=outcome.main_done,
            reason=outcome.reason,
        )


class RecordingLock:
    """Wraps the scheduler's controlled lock so each acquire and release is an event."""

    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    def acquire(self, *args: Any, **kwargs: Any) -> bool:
        got = self.inner.acquire(*args, **kwargs)
        if got:
            self.recorder.emit("lock_acquire", lock="scheduler")
        return got

    def release(self) -> None:
        self.recorder.emit("lock_release", lock="scheduler")
        self.inner.release()

    def locked(self) -> bool:
        return self.inner.locked()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


class RecordingHeap(list):
    """The pending-resume heap; `clear()` (shutdown) is recorded with the entries it drops."""

    recorder: Recorder

    def clear(self) -> None:
        self.recorder.emit("heap_clear", entries=[e[1] for e in self])
        super().clear()


def _heapq_facade(recorder: Recorder) -> SimpleNamespace:
    def heappush(heap: list, item: Any) -> None:
        std_heapq.heappush(heap, item)
        recorder.emit("heap_push", _index(item[2]), resume_time=_rel(item[0]), entry=item[1])

    def heappop(heap: list) -> Any:
        item = std_heapq.heappop(heap)
        recorder.emit("heap_pop", _index(item[2]), resume_time=_rel(item[0]), entry=item[1])
        return item

    return SimpleNamespace(
        heappush=heappush, heappop=heappop, heapify=std_heapq.heapify, nsmallest=std_heapq.nsmallest
    )


def _time_facade(recorder: Recorder, real_facade: Any) -> Any:
    """`time` for the SDK modules: the controlled clock, each reading recorded."""

    def time() -> float:
        value = timing.time()
        recorder.emit("time_read", value=_rel(value))
        return value

    ns = SimpleNamespace(time=time, monotonic=timing.monotonic, sleep=timing.sleep)
    ns.perf_counter = timing.perf_counter
    return ns


def _rel(wall: float) -> float:
    """Wall-clock values are recorded relative to the virtual epoch, rounded for stable text."""
    from interleavings.clock import EPOCH

    return round(wall - EPOCH, 6)


def _index(exe_state: Any) -> int:
    return exe_state.executable.index


@functools.cache
def _shape_of(timer_loop: Any) -> str:
    import ast
    import inspect
    import textwrap

    src = textwrap.dedent(inspect.getsource(timer_loop))
    lists: set[str] = set()
    arg_names: list[str] = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.List):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            lists.update(t.id for t in targets if isinstance(t, ast.Name))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "resubmit_callback"
            and node.args
            and isinstance(node.args[0], ast.Name)
        ):
            arg_names.append(node.args[0].id)
    return "wave" if any(a in lists for a in arg_names) else "single"


def callback_shape(sdk: Any) -> str:
    """ "wave" when the timer hands the callback a list, "single" when one branch: read from the
    code of `_timer_loop`, so a PR checkout is classified by what it does, not its version."""
    return _shape_of(sdk.executor.TimerScheduler._timer_loop)


def _status_name(value: Any) -> str:
    return getattr(value, "name", str(value))


@contextmanager
def instrumented(sdk: Any, recorder: Recorder, granularity: str = "sync") -> Iterator[Any]:
    """Patch the SDK's executor and models modules for one run; yields the recording
    TimerScheduler subclass. Everything is restored on exit."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}")
    executor, models = sdk.executor, sdk.models
    base_scheduler = executor.TimerScheduler

    class RecordingTimerScheduler(base_scheduler):  # type: ignore[misc, valid-type]
        def __init__(self, resubmit_callback: Callable[[Any], None]) -> None:
            def resubmit(arg: Any) -> None:
                wave = arg if isinstance(arg, list) else [arg]
                recorder.emit("resubmit", branches=[_index(e) for e in wave])
                resubmit_callback(arg)

            recorder.scheduler = self
            ex = active()
            assert ex is not None
            # The timer thread is created and started inside base __init__; name it as soon
            # as its state exists (it has not run a step yet: start only makes it runnable).
            super().__init__(resubmit)
            ex.label(self._lock, name="scheduler.lock")
            self._lock = RecordingLock(self._lock, recorder)
            heap = RecordingHeap(self._pending_resumes)
            heap.recorder = recorder
            self._pending_resumes = heap
            state = getattr(self._timer_thread, "_state", None)
            if state is not None:
                state.name = TIMER_THREAD
                self._timer_thread.name = TIMER_THREAD

    class RecordingPool(ControlledPool):
        def __init__(self, max_workers: int | None = None, *args: Any, **kwargs: Any) -> None:
            super().__init__(max_workers, thread_name_prefix="worker")

        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            executable = args[1] if len(args) > 1 else None
            branch = getattr(executable, "index", None)
            recorder.emit("submit", branch)
            return super().submit(fn, *args, **kwargs)

    def on_status(obj: Any, _attr: str, old: Any, new: Any) -> None:
        if old is None:
            return  # the initial PENDING set by __init__ is not a transition
        recorder.emit("status", _index(obj), old=_status_name(old), new=_status_name(new))

    def on_read(obj: Any, _attr: str, value: Any) -> None:
        ex = active()
        if ex is not None and ex.current is not None and ex.current.tid in recorder.reading:
            recorder.reading[ex.current.tid][_index(obj)] = _status_name(value)
            recorder.emit("status_read", _index(obj), value=_status_name(value))

    points = granularity in ("access", "line")
    with ExitStack() as stack:
        stack.enter_context(patched(executor, models))
        saved = {
            (executor, "heapq"): executor.heapq,
            (executor, "time"): executor.time,
            (models, "time"): models.time,
            (executor, "TimerScheduler"): base_scheduler,
            (executor, "ThreadPoolExecutor"): executor.ThreadPoolExecutor,
        }
        try:
            executor.heapq = _heapq_facade(recorder)
            executor.time = _time_facade(recorder, executor.time)
            models.time = executor.time
            executor.TimerScheduler = RecordingTimerScheduler
            executor.ThreadPoolExecutor = RecordingPool
            stack.enter_context(
                watched(
                    models.ExecutableWithState,
                    "_status",
                    reads=points,
                    writes=points,
                    observer=on_status,
                    read_observer=on_read,
                )
            )
            if granularity == "line":
                stack.enter_context(lines(executor, models))
            yield RecordingTimerScheduler
        finally:
            for (module, name), value in saved.items():
                setattr(module, name, value)


class CheckpointSubsystem:
    """The execution's checkpoint subsystem: it fails once, terminally, and stays failed.

    As in the real `ExecutionState` (see test_contract_refresh.py), after the failure every
    `create_checkpoint()` raises the same `BackgroundThreadError` instance, whether the caller
    is the timer's refresh or a branch checkpointing its own progress.
    """

    def __init__(self, sdk: Any) -> None:
        self.sdk = sdk
        self.failure: BaseException | None = None

    def fail(self) -> BaseException:
        if self.failure is None:
            self.failure = checkpoint_failure(self.sdk)
        return self.failure


class FakeExecutionState:
    """Only what `execute()` needs of `ExecutionState`: the refresh, with latency and faults."""

    def __init__(self, scenario: Scenario, checkpoints: CheckpointSubsystem, rec: Recorder) -> None:
        self.scenario = scenario
        self.checkpoints = checkpoints
        self.recorder = rec
        self.calls = 0

    def create_checkpoint(self, operation_update: Any = None, is_sync: bool = True) -> None:
        self.calls += 1
        call = self.calls
        self.recorder.emit("refresh_start", call=call)
        latency = self.scenario.latency(call)
        if latency > 0:
            timing.sleep(latency)
        if call in self.scenario.refresh_failures:
            self.checkpoints.fail()
        failure = self.checkpoints.failure
        if failure is not None:
            self.recorder.emit(
                "refresh_fail",
                call=call,
                error=type(failure).__name__,
                base_exception=not isinstance(failure, Exception),
            )
            raise failure
        self.recorder.emit("refresh_end", call=call)


def _executor_class(sdk: Any) -> type:
    base = sdk.executor.ConcurrentExecutor

    class ScriptedExecutor(base):  # type: ignore[misc, valid-type]
        """A map whose branch bodies are scripts; the scheduling code is the SDK's own."""

        run: ExecutorRun

        def execute_item(self, child_context: Any, executable: Any) -> Any:
            raise NotImplementedError("scripted branches run in _execute_item_in_child_context")

        def _execute_item_in_child_context(self, executor_context: Any, executable: Any) -> Any:
            return self.run.play(executable.index)

        def _on_task_complete(self, exe_state: Any, future: Any, *rest: Any) -> None:
            rec = self.run.recorder
            rec.emit("callback", exe_state.index, inline=bool(future.inline_callback))
            try:
                super()._on_task_complete(exe_state, future, *rest)
            except BaseException as err:
                # The future logs and drops an Exception, a BaseException kills the thread.
                rec.emit("callback_error", exe_state.index, error=type(err).__name__)
                raise
            finally:
                rec.emit("callback_end", exe_state.index)

        def should_execution_suspend(self) -> Any:
            rec = self.run.recorder
            ex = active()
            tid = ex.current.tid if ex is not None and ex.current is not None else -1
            rec.reading[tid] = {}
            try:
                result = super().should_execution_suspend()
            finally:
                statuses = rec.reading.pop(tid, {})
            rec.emit("suspend_check", statuses=statuses, suspend=bool(result.should_suspend))
            return result

    return ScriptedExecutor


def attempt_outcome(
    sdk: Any, attempt: Attempt, branch: int, number: int, *, exited: bool, due: float
) -> Any:
    """What attempt `number` of `branch` ends with, as the target's own exceptions: its return
    value, or the raise of its kind. `exited`: `execute()` has returned (an "orphan" attempt
    then raises). `due`: the wall-clock resume time of a "timed" attempt. Shared by the model
    and the real-thread baseline (`stateful_tests.stress`), so both play the same scripts."""
    exc = sdk.exceptions
    where = f"branch {branch} attempt {number}"
    if attempt.kind == "value" or (attempt.kind == "orphan" and not exited):
        return f"result-{branch}"
    if attempt.kind == "error":
        raise ValueError(f"{where} failed")
    if attempt.kind == "timed":
        raise exc.TimedSuspendExecution(f"{where} waits", due)
    if attempt.kind == "suspend":
        raise exc.SuspendExecution(f"{where} waits for a callback")
    if attempt.kind == "orphan":
        raise exc.OrphanedChildException(f"{where} orphaned", operation_id=f"op-{branch}")
    raise AssertionError(f"unhandled attempt kind {attempt.kind}")


class ExecutorRun:
    """One `ConcurrentExecutor.execute()` of the target on a scenario, fully recorded."""

    def __init__(self, sdk: Any, scenario: Scenario, granularity: str = "sync") -> None:
        self.sdk = sdk
        self.scenario = scenario
        self.granularity = granularity
        self.recorder = Recorder(
            len(scenario.branches),
            meta={
                "min_successful": scenario.min_successful,
                "tolerated_failure_count": scenario.tolerated_failure_count,
                "tolerated_failure_percentage": scenario.tolerated_failure_percentage,
                "shape": callback_shape(sdk),
                "max_refresh_latency": max(scenario.refresh_latency or (0.0,)),
                "clock_steps": len(scenario.clock_steps),
                "eager_time": scenario.eager_time,
            },
        )
        self.attempts = [0] * len(scenario.branches)
        self.checkpoints = CheckpointSubsystem(sdk)
        self.exited = False  # execute() has returned or raised: children are orphans now
        self.result: Any = None
        self.error: BaseException | None = None

    @property
    def record(self) -> Record:
        return self.recorder.record

    def play(self, branch: int) -> Any:
        """The body of one attempt of `branch`, run on a pool worker."""
        self.attempts[branch] += 1
        number = self.attempts[branch]
        attempt = self.scenario.attempt(branch, number)
        ex = active()
        assert ex is not None
        self.recorder.emit("attempt_start", branch, attempt=number)
        end: dict[str, Any] = {}
        try:
            for _ in range(attempt.points):
                ex.point("work", f"branch {branch}")
            if attempt.duration > 0:
                timing.sleep(attempt.duration)
            if attempt.kind == "checkpoint_failure":
                self.checkpoints.fail()
            if self.checkpoints.failure is not None:
                raise self.checkpoints.failure  # this attempt's checkpoint hits the failure
            due = ex.clock.wall() + attempt.delay
            if attempt.kind == "timed":
                end["resume_time"] = _rel(due)
            return attempt_outcome(self.sdk, attempt, branch, number, exited=self.exited, due=due)
        finally:
            self.recorder.emit("attempt_end", branch, attempt=number, outcome=attempt.kind, **end)

    def body(self) -> None:
        """The main thread: build the executor and call the REAL `execute()`."""
        models, config, ls = self.sdk.models, self.sdk.config, self.sdk.lambda_service
        sc = self.scenario
        executables = [models.Executable(index=i, func=None) for i in range(len(sc.branches))]
        completion = config.CompletionConfig(
            min_successful=sc.min_successful,
            tolerated_failure_count=sc.tolerated_failure_count,
            tolerated_failure_percentage=sc.tolerated_failure_percentage,
        )
        executor = _executor_class(self.sdk)(
            executables,
            sc.max_concurrency,
            completion,
            ls.OperationSubType.MAP,
            ls.OperationSubType.MAP_ITERATION,
            "map-",
            None,
        )
        executor.run = self
        self.executor = executor
        state = FakeExecutionState(sc, self.checkpoints, self.recorder)
        for at, delta in sc.clock_steps:
            _start_clock_fault(at, delta, self.recorder)
        self.recorder.emit("execute_start")
        try:
            result = executor.execute(state, SimpleNamespace(_parent_id=None))
        except BaseException as err:
            self.exited = True
            self.error = err
            suspend = isinstance(err, self.sdk.exceptions.SuspendExecution)
            self.recorder.emit("execute_raise", error=type(err).__name__, suspend=suspend)
            return
        self.exited = True
        self.result = result
        items = {item.index: item.status.name for item in result.all}
        self.recorder.emit("execute_return", items=items, reason=result.completion_reason.name)


def _start_clock_fault(at: float, delta: float, recorder: Recorder) -> None:
    """A daemon thread that steps the wall clock by `delta` at virtual time `at`."""
    from interleavings.thread import Thread

    def fault() -> None:
        ex = active()
        assert ex is not None
        if at > ex.clock.now:
            timing.sleep(at - ex.clock.now)
        ex.clock.step_wall(delta)
        ex.point("clock_step", "", f"{delta:+g}s")
        recorder.emit("clock_step", delta=delta)

    Thread(target=fault, name=f"clock{at:g}", daemon=True).start()


def run_executor(
    sdk: Any,
    scenario: Scenario,
    strategy: Any,
    *,
    granularity: str = "sync",
    max_steps: int = 20_000,
    eager_time: bool | None = None,
    observe: Callable[[Execution, Recorder], None] | None = None,
    record_locations: bool = True,
) -> tuple[Outcome, ExecutorRun]:
    """Play `scenario` on the target's real executor under `strategy`; record everything."""
    run = ExecutorRun(sdk, scenario, granularity)
    eager = scenario.eager_time if eager_time is None else eager_time
    run.recorder.record.meta["eager_time"] = eager
    ex = Execution(
        strategy,
        max_steps=max_steps,
        horizon=scenario.horizon(),
        idle_limit=scenario.idle_limit(),
        eager_time=eager,
        record_locations=record_locations,
    )

    def on_step(step: Any) -> None:
        if step.op == "crash":
            run.recorder.emit("thread_crash", error=step.detail.split(":")[0], message=step.detail)

    ex.observe(on_step)
    if observe is not None:
        observe(ex, run.recorder)
    with instrumented(sdk, run.recorder, granularity):
        outcome = ex.run(run.body, main_name="main")
    run.recorder.end(ex, outcome)
    return outcome, run
