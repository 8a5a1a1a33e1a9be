"""Hypothesis strategies for executor scenarios.

Weighted towards what the upstream issue is about (timed suspends coming due together while
another branch keeps the map in-process), but every attempt kind, completion configuration,
refresh fault and clock fault is reachable. Shrinking moves towards fewer branches, fewer
attempts, "value" outcomes, zero delays and no faults, so a counterexample reads simply.
"""

from __future__ import annotations

from hypothesis import strategies as st

from scheduler.scenario import Attempt, Scenario

DELAYS = (0.0, 1.0, 2.0, 0.05, -1.0)  # equal due times are the point; <= 0 is due at once
DURATIONS = (0.0, 0.5, 2.0, 18.0, 0.05)
LATENCIES = (0.0, 0.05, 1.5)  # 1.5 s is longer than the scheduler's 1 s shutdown join


@st.composite
def attempts(draw: st.DrawFn) -> Attempt:
    kind = draw(
        st.sampled_from(("value", "timed", "error", "suspend", "orphan", "checkpoint_failure"))
    )
    delay = draw(st.sampled_from(DELAYS)) if kind == "timed" else 0.0
    return Attempt(
        kind=kind,
        delay=delay,
        duration=draw(st.sampled_from(DURATIONS)),
        points=draw(st.integers(0, 2)),
    )


@st.composite
def scenarios(draw: st.DrawFn, max_branches: int = 4) -> Scenario:
    n = draw(st.integers(1, max_branches))
    branches = tuple(tuple(draw(st.lists(attempts(), min_size=1, max_size=3))) for _ in range(n))
    config = draw(st.integers(0, 3))
    min_successful = draw(st.integers(1, n)) if config == 1 else None
    tolerated_count = draw(st.integers(0, n)) if config == 2 else None
    tolerated_pct = draw(st.sampled_from((0.0, 50.0, 100.0))) if config == 3 else None
    failures = draw(st.sampled_from(((), (1,), (2,))))
    clock = draw(st.sampled_from(((), ((1.0, -2.0),), ((0.5, 5.0),), ((2.0, -0.5),))))
    return Scenario(
        branches=branches,
        min_successful=min_successful,
        tolerated_failure_count=tolerated_count,
        tolerated_failure_percentage=tolerated_pct,
        max_concurrency=draw(st.one_of(st.none(), st.integers(1, n))),
        refresh_latency=(draw(st.sampled_from(LATENCIES)),),
        refresh_failures=failures,
        clock_steps=clock,
        eager_time=draw(st.booleans()),
    )
