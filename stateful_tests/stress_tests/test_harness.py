"""The real-thread harness's own tests: its detectors fire when the defect is forced, stay quiet
when it is not, and a stuck run neither leaks threads after a rescue nor blocks process exit.

A real run only rarely completes a resubmitted future before `submit_task` adds its
done-callback, so these tests force it: the pool's `submit` waits for the future when the timer
thread submits. On 1.5.0 the inline done-callback then re-enters the scheduler lock the timer
holds (the self-deadlock); on 1.6.0 the timer has released the lock first.
"""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from scheduler.scenario import Attempt, Scenario
from stateful_tests import stress

pytestmark = pytest.mark.repeat(1)  # the harness is checked once, whatever --count says

ROOT = Path(__file__).resolve().parents[2]
KEEPER = (Attempt("value", duration=2.0),)
WAVE = Scenario(branches=(KEEPER, (Attempt("timed", delay=1.0), Attempt("timed", delay=1.0))))
SCALE = 0.2  # the keeper (0.4 s) outlives the timer's first poll (0.1 s) and the resume (0.2 s)


class FinishBeforeReturn(concurrent.futures.ThreadPoolExecutor):
    """A real pool whose `submit` from the timer thread returns an already finished future."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        future = super().submit(fn, *args, **kwargs)
        if not threading.current_thread().name.startswith("execute-"):
            concurrent.futures.wait([future], timeout=5)
        return future


def test_forced_inline_callback_deadlocks_1_5_0_and_is_rescued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deadlock detector fires on the real 1.5.0 code and the rescue frees every thread."""
    sdk = stress.sdk_for("1.5.0")
    monkeypatch.setattr(sdk.executor, "ThreadPoolExecutor", FinishBeforeReturn)
    with stress.crashes_recorded():
        result = stress.run_real(sdk, "forced-inline", SCALE, WAVE)
    assert result.outcome == "stuck"
    assert "no_deadlock" in result.detections
    assert "no_refresh_under_lock" in result.detections
    assert result.leaked_threads == 0


def test_forced_inline_callback_does_not_deadlock_1_6_0(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same forcing on 1.6.0 (resubmit outside the lock) trips no detector."""
    sdk = stress.sdk_for("1.6.0")
    monkeypatch.setattr(sdk.executor, "ThreadPoolExecutor", FinishBeforeReturn)
    with stress.crashes_recorded():
        result = stress.run_real(sdk, "forced-inline", SCALE, WAVE)
    assert result.outcome != "stuck", result
    assert not {"no_deadlock", "no_refresh_under_lock", "no_hang"} & set(result.detections)
    assert result.leaked_threads == 0


def test_refresh_failure_hangs_every_1x_and_is_rescued() -> None:
    """The real BackgroundThreadError kills the timer on every 1.x; the hang is seen and undone."""
    scenario = Scenario(branches=(KEEPER, (Attempt("timed", delay=1.0),)), refresh_failures=(1,))
    with stress.crashes_recorded():
        results = [
            stress.run_real(stress.sdk_for(v), "rf", SCALE, scenario) for v in stress.VERSIONS
        ]
    for result in results:
        assert result.outcome == "stuck", result
        assert "no_hang_on_refresh_failure" in result.detections
        assert any("BackgroundThreadError" in c for c in result.crashes), result.crashes
        assert result.leaked_threads == 0


def test_a_stuck_run_left_unrescued_does_not_block_process_exit() -> None:
    """Its threads are daemons, unhooked from concurrent.futures' exit-time join."""
    program = textwrap.dedent(
        f"""
        import concurrent.futures, threading, sys
        sys.path.insert(0, {str(ROOT)!r})
        from stateful_tests import stress
        from stateful_tests.stress_tests.test_harness import FinishBeforeReturn, WAVE
        sdk = stress.sdk_for("1.5.0")
        sdk.executor.ThreadPoolExecutor = FinishBeforeReturn
        with stress.crashes_recorded():
            result = stress.run_real(sdk, "forced-inline", {SCALE}, WAVE, rescue=False)
        assert result.outcome == "stuck" and "no_deadlock" in result.detections, result
        assert result.leaked_threads > 0, result
        print("leaked", result.leaked_threads, flush=True)
        """
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "leaked" in done.stdout
    assert time.perf_counter() - started < 30


def test_timeouts_cover_a_correct_run() -> None:
    """The timeout is longer than any correct run of each stressed scenario needs."""
    for name in stress.WEIGHTS:
        scenario = stress.canonical()[name]
        for scale in stress.DEFAULT_SCALE:
            assert stress.timeout_for(scenario, scale) > stress.expected_seconds(scenario, scale)


def test_scales_are_reproducible_and_in_range() -> None:
    """Run i's scale is a function of its seed and name, so the CLI and pytest agree."""
    lo, hi = stress.DEFAULT_SCALE
    first = [stress.draw_scale(stress.DEFAULT_SCALE, 0, "1.6.0", "wave", i) for i in range(50)]
    again = [stress.draw_scale(stress.DEFAULT_SCALE, 0, "1.6.0", "wave", i) for i in range(50)]
    assert first == again
    assert all(lo <= s <= hi for s in first)
