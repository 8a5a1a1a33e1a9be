"""The readable trace and the timeline picture, on a real counterexample of SDK 1.5.0.

The run is the known 1.5.0 deadlock: the timer thread holds the scheduler lock while it hands a
wave to resubmit, the branch's done-callback runs inline on the timer thread and calls
`schedule_resume`, which takes the same lock again. Found by exhaustive search with at most one
preemption, exactly as a reviewer would get it from `check`.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from interleavings.execution import Outcome
from interleavings.strategies import DFS, PreemptionBound, Replay
from invariants import Violation
from scheduler.adapter_v1 import ExecutorRun, run_executor
from scheduler.scenario import Attempt, Scenario
from scheduler.target import load, resolve
from stateful_tests.report import block, render_trace, violation_step
from stateful_tests.signoff import GRANULARITY, run_case
from stateful_tests.timeline import (
    SCHEDULER_LOCK,
    VIOLATION_COLOR,
    source_observer,
    story,
    timeline_html,
    write_timeline,
)

DEADLOCK = Scenario(
    branches=(
        (Attempt("value", duration=2.0),),
        (Attempt("timed", delay=1.0), Attempt("timed", delay=1.0)),
    )
)
MAX_STEPS = 10_000


@cache
def deadlock_case(version: str = "1.5.0") -> tuple[Outcome, ExecutorRun, Violation]:
    """The first schedule with <= 1 preemption in which `no_deadlock` breaks (and its run)."""
    sdk = load(resolve(version))
    strategy = PreemptionBound(DFS(), 1)
    while strategy.begin():
        outcome, run, violations = run_case(sdk, DEADLOCK, strategy, MAX_STEPS)
        for v in violations:
            if v.invariant == "no_deadlock":
                return outcome, run, v
    raise AssertionError(f"no_deadlock not found on {version} within one preemption")


@pytest.fixture(scope="module")
def deadlock() -> tuple[Outcome, ExecutorRun, Violation]:
    return deadlock_case()


def test_html_is_self_contained(deadlock, tmp_path: Path) -> None:
    outcome, run, violation = deadlock
    path = write_timeline(tmp_path / "no_deadlock.html", outcome, run, violation)
    page = path.read_text(encoding="utf-8")
    assert "<svg" in page and "</svg>" in page
    for reference in ("http://", "https://", "<script", "<link", " src=", "url("):
        assert reference not in page, reference
    names = [name for _, name in outcome.trace.threads()]
    assert names == ["main", "timer", "worker_0", "worker_1"]
    for name in names:  # one lane label per thread
        assert page.count(f'fill="#222">{name}</text>') == 1, name
    assert f"VIOLATION no_deadlock: {violation.summary}" in page
    assert violation.explanation.split(",")[0] in page
    assert VIOLATION_COLOR in page
    assert f">{SCHEDULER_LOCK}</text>" in page and ">refresh</text>" in page


def test_story_derives_lock_heap_and_waves_from_the_record(deadlock) -> None:
    outcome, run, _violation = deadlock
    st = story(outcome, run)
    last = len(outcome.trace.steps) - 1
    # the timer takes the lock for the wave and never gives it back
    final = st.lock_spans[-1]
    assert (final.thread, final.end) == ("timer", last + 1)
    assert st.lock[last] == "timer"
    # branch 1 waited on the heap for t=1 until the wave popped it and resubmitted it
    assert "b1@1" in {entry for contents in st.heap for entry in contents}
    assert [branches for _, branches in st.waves] == [[1]]
    # the re-entrant acquire: on the timer thread, in the SDK, while the timer holds the lock
    reentry = [
        i
        for i, s in enumerate(st.steps)
        if s.thread == "timer" and s.op == "acquire" and i > final.start
    ]
    assert reentry, "the timer never re-acquired the lock"
    i = reentry[0]
    assert st.place(i).startswith("executor.py:")
    assert st.code(i) == "with self._lock:"


def test_text_trace_shows_sdk_lines_state_and_the_violation(deadlock) -> None:
    outcome, run, violation = deadlock
    step = violation_step(run, outcome, violation)
    text = render_trace(outcome, step, "no_deadlock", run=run, explanation=violation.explanation)
    rows = text.splitlines()
    assert rows[0].split()[:3] == ["step", "t", "main"]
    assert "timer" in rows[0] and "sdk line" in rows[0] and "state" in rows[0]
    breaking = next(r for r in rows if re.match(rf"\s*{step}\s+\S+\s+!!", r))
    assert f"acquire {SCHEDULER_LOCK}" in breaking and "with self._lock:" in breaking
    assert any(" >> " in r for r in rows), "the preemption is not marked"
    assert any("waits: held by itself" in r for r in rows)
    assert any("lock: timer" in r for r in rows) and any("wave [1]" in r for r in rows)
    assert "!! no_deadlock breaks here" in text
    assert "In production the invocation would sit idle" in " ".join(text.split())
    assert len(rows) <= 60


def test_polling_folds_into_one_line() -> None:
    """A hang is hundreds of identical timer polls; the trace must still tell the story."""
    sdk = load(resolve("1.5.0"))
    scenario = Scenario(branches=((Attempt("checkpoint_failure"),),))
    outcome, run, violations = run_case(sdk, scenario, DFS(), MAX_STEPS)
    hang = next(v for v in violations if v.invariant == "no_hang")
    step = violation_step(run, outcome, hang)
    text = render_trace(outcome, step, "no_hang", run=run, explanation=hang.explanation)
    assert outcome.steps > 300
    assert re.search(r"steps \d+-\d+ repeat steps \d+-\d+ \d+ more times", text)
    assert "crash BackgroundThreadError" in text  # the start of the story is still shown
    assert len(text.splitlines()) < 50


def test_observer_lines_equal_replayed_lines(deadlock) -> None:
    """`replay` collects SDK lines while it runs; `check` gets them by replaying: same lines."""
    outcome, run, _ = deadlock
    again, rerun = run_executor(
        run.sdk,
        run.scenario,
        Replay(list(outcome.choices)),
        granularity=GRANULARITY,
        max_steps=MAX_STEPS,
        observe=source_observer(run.sdk),
    )
    assert again.trace.fingerprint() == outcome.trace.fingerprint()
    assert story(again, rerun).where == story(outcome, run).where


def test_block_keeps_its_interface_and_writes_the_picture(deadlock, tmp_path: Path) -> None:
    outcome, run, violation = deadlock
    replay_path = tmp_path / "1.5.0" / "no_deadlock.json"
    text = block(violation, DEADLOCK, run, outcome, replay_path)
    lines = text.splitlines()
    assert lines[0] == f"VIOLATION no_deadlock: {violation.summary}"
    assert lines[-1] == f"replay: {replay_path}"
    assert lines[-2] == f"timeline: {replay_path.with_suffix('.html')}"
    assert replay_path.with_suffix(".html").is_file()


def test_a_long_run_opens_at_the_violation(deadlock) -> None:
    """Beyond what fits the window the page scrolls, starting at its right end (no script)."""
    outcome, run, _violation = deadlock
    st = story(outcome, run)
    for name in ("steps", "where", "lock", "heap"):  # 20 times as long: only the layout counts
        setattr(st, name, getattr(st, name) * 20)
    page = timeline_html(st, highlight=len(st.steps) - 1, heading="VIOLATION x: y", explanation="")
    assert 'class="plot" style="direction: rtl"' in page
