"""The 1.x adapter drives the real executor of every supported version, and leaves no trace."""

from __future__ import annotations

import threading
import time

import pytest

from interleavings.strategies import Replay
from scheduler.adapter_v1 import callback_shape, run_executor
from scheduler.refresh import checkpoint_failure
from scheduler.scenario import Attempt, Scenario, keeper_and_pollers
from scheduler.target import load, resolve

VERSIONS = ("1.5.0", "1.6.0", "1.7.0")


@pytest.fixture(scope="module", params=VERSIONS)
def sdk(request: pytest.FixtureRequest):
    return load(resolve(request.param))


def default_run(sdk, scenario: Scenario, **kw):
    """The schedule that never preempts: choice 0 at every decision."""
    return run_executor(sdk, scenario, Replay([]), **kw)


def test_three_branch_map_runs_to_its_end_identically(sdk) -> None:
    first, run = default_run(sdk, keeper_and_pollers())
    second, _ = default_run(sdk, keeper_and_pollers())
    assert first.status == "ok", first.reason
    assert run.error is None
    assert run.result.completion_reason.name == "ALL_COMPLETED"
    assert [i.status.name for i in run.result.all] == ["SUCCEEDED"] * 3
    assert first.trace.render() == second.trace.render()
    assert first.trace.fingerprint() == second.trace.fingerprint()
    # The keeper's 18 s of work passed in virtual time only.
    assert first.trace.steps[-1].time >= 18.0


@pytest.mark.parametrize("granularity", ["access", "line"])
def test_finer_granularities_run_the_same_map(sdk, granularity: str) -> None:
    sync, _ = default_run(sdk, keeper_and_pollers())
    finer, run = default_run(sdk, keeper_and_pollers(), granularity=granularity)
    assert finer.status == "ok"
    assert run.result.completion_reason.name == "ALL_COMPLETED"
    assert finer.steps > sync.steps  # more scheduling points, same outcome


def test_callback_shape_is_read_from_the_code(sdk) -> None:
    expected = "single" if sdk.target.version == "1.5.0" else "wave"
    assert callback_shape(sdk) == expected
    _, run = default_run(sdk, keeper_and_pollers())
    waves = [e["branches"] for e in run.record.of("resubmit")]
    assert waves and all(len(w) >= 1 for w in waves)
    if expected == "single":
        assert all(len(w) == 1 for w in waves)


def test_record_names_the_scheduler_events(sdk) -> None:
    _, run = default_run(sdk, keeper_and_pollers())
    kinds = {e.kind for e in run.record}
    assert {
        "execute_start",
        "submit",
        "attempt_start",
        "callback",
        "heap_push",
        "heap_pop",
        "status",
        "resubmit",
        "refresh_start",
        "refresh_end",
        "lock_acquire",
        "lock_release",
        "suspend_check",
        "execute_return",
        "run_end",
    } <= kinds
    pops = run.record.of("heap_pop")
    assert pops and all(e.thread == "timer" and e.lock_held for e in pops)


def test_instrumentation_is_undone(sdk) -> None:
    executor, models = sdk.executor, sdk.models
    before = (
        executor.threading,
        executor.time,
        executor.heapq,
        executor.TimerScheduler,
        executor.ThreadPoolExecutor,
        models.time,
        dict(vars(models.ExecutableWithState)),
    )
    default_run(sdk, keeper_and_pollers(pollers=1, polls=1, keeper=1.0), granularity="line")
    after = (
        executor.threading,
        executor.time,
        executor.heapq,
        executor.TimerScheduler,
        executor.ThreadPoolExecutor,
        models.time,
        dict(vars(models.ExecutableWithState)),
    )
    assert before == after
    assert executor.threading is threading and models.time is time
    assert "__interleavings_line__" not in vars(executor)


def test_each_attempt_kind_reaches_the_executor(sdk) -> None:
    scenario = Scenario(
        branches=(
            (Attempt("value", duration=3.0),),
            (Attempt("error"),),
            (Attempt("timed", delay=1.0), Attempt("value")),
        ),
        tolerated_failure_count=1,
    )
    outcome, run = default_run(sdk, scenario)
    assert outcome.status == "ok"
    statuses = [i.status.name for i in run.result.all]
    assert statuses == ["SUCCEEDED", "FAILED", "SUCCEEDED"]


def test_all_branches_suspended_suspends_the_parent(sdk) -> None:
    scenario = Scenario(branches=((Attempt("timed", delay=5.0),), (Attempt("suspend"),)))
    outcome, run = default_run(sdk, scenario)
    assert outcome.status == "ok"
    assert type(run.error).__name__ == "TimedSuspendExecution"
    assert run.record.exit_event().kind == "execute_raise"


def test_min_successful_returns_early(sdk) -> None:
    scenario = Scenario(
        branches=((Attempt("value"),), (Attempt("value", duration=30.0),)), min_successful=1
    )
    outcome, run = default_run(sdk, scenario)
    assert run.result.completion_reason.name == "MIN_SUCCESSFUL_REACHED"
    # The slow branch is orphaned and keeps running after the return, as on real threads.
    assert outcome.status == "ok"


def test_refresh_fault_raises_the_real_exception(sdk) -> None:
    scenario = Scenario(
        branches=((Attempt("value", duration=2.0),), (Attempt("timed", delay=1.0),)),
        refresh_failures=(1,),
    )
    _, run = default_run(sdk, scenario)
    fail = run.record.first("refresh_fail")
    assert fail is not None
    assert fail["error"] == type(checkpoint_failure(sdk)).__name__ == "BackgroundThreadError"
    assert fail["base_exception"] is True


def test_wall_clock_fault_is_seen_by_the_sdk(sdk) -> None:
    scenario = Scenario(
        branches=((Attempt("value", duration=3.0),), (Attempt("timed", delay=1.0),)),
        clock_steps=((0.5, -10.0),),
    )
    _, run = default_run(sdk, scenario)
    steps = run.record.of("clock_step")
    assert [e["delta"] for e in steps] == [-10.0]
    reads = [e["value"] for e in run.record.of("time_read") if e.time > 0.5]
    assert reads and min(reads) < 0  # time.time() went back 10 s past the virtual epoch
