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
DURATIONS = (0.0, 0.5, 2.0, 0.05)
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
    # Half the time branch 0 is the keeper: it holds the map in-process while the
    # others' timers come due, which is when resumes happen in-process at all.
    keeper = n > 1 and draw(st.booleans())
    branches = tuple(
        (Attempt("value", duration=draw(st.sampled_from((2.0, 0.5)))),)
        if keeper and i == 0
        else tuple(draw(st.lists(attempts(), min_size=1, max_size=3)))
        for i in range(n)
    )
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


# Scenarios small enough to search one deviation deeper than the budget's bound.
EXTRA_DELAYS = {"lone-due-at-once": 1}


def canonical() -> dict[str, Scenario]:
    """Small scenarios shaped after the upstream issue and each claim of its safety argument.

    The sign-off explores each one exhaustively under a delay bound (CHESS-style systematic
    search), next to the Hypothesis search: a bug that needs one badly placed switch in a
    common shape is then found by construction rather than by luck.
    """
    keeper = (Attempt("value", duration=2.0),)
    poll = (Attempt("timed", delay=1.0), Attempt("timed", delay=1.0))
    return {
        "wave": Scenario(branches=(keeper, poll, (Attempt("timed", delay=1.0),))),
        "due-at-once": Scenario(branches=(keeper, (Attempt("timed", delay=0.0), Attempt()))),
        "lone-due-at-once": Scenario(branches=((Attempt("timed", delay=0.0), Attempt()),)),
        "refresh-fails": Scenario(branches=(keeper, poll), refresh_failures=(1,)),
        "slow-refresh-fail-fast": Scenario(
            branches=((Attempt("error", duration=1.2),), (Attempt("timed", delay=1.0),)),
            refresh_latency=(1.5,),
        ),
        "min-successful": Scenario(branches=(keeper, poll), min_successful=1),
        "clock-back": Scenario(branches=(keeper, poll), clock_steps=((1.0, -2.0),)),
        "callback-and-timer": Scenario(
            branches=(keeper, (Attempt("suspend"),), (Attempt("timed", delay=1.0),))
        ),
        "one-worker": Scenario(branches=(keeper, poll), max_concurrency=1),
        "branch-checkpoint-fails": Scenario(
            branches=(keeper, (Attempt("timed", delay=1.0), Attempt("checkpoint_failure")))
        ),
        # Two timers pending with different due times: a drain must stop at the first not due.
        "staggered-due": Scenario(
            branches=(keeper, (Attempt("timed", delay=0.0),), (Attempt("timed", delay=1.0),))
        ),
        # The shape at small scale: three timers due together, a 0.5 s refresh round
        # trip. One refresh per wave resumes all three at once; one per resume makes them late.
        "slow-refresh-wave": Scenario(
            branches=(keeper, *(((Attempt("timed", delay=1.0),),) * 3)),
            refresh_latency=(0.5,),
        ),
        # No keeper: branch 1 is PENDING behind a slow wave refresh while branch 0's
        # done-callback decides whether the parent suspends.
        "suspend-during-refresh": Scenario(
            branches=(
                (Attempt("timed", delay=0.0),),
                (Attempt("timed", delay=0.0, duration=0.5),),
            ),
            refresh_latency=(1.5,),
        ),
    }
