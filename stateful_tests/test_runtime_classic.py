"""The runtime's own tests: classic bugs in unmodified threaded code, found and fixed.

The programs in `stateful_tests/programs/classic.py` import the real `threading`, `time` and
`concurrent.futures`; every test runs them inside `patched(classic)`. Each bug must be found
both by bounded exhaustive search (deterministically) and by Hypothesis (with a shrunk example
of few preemptions), and each corrected program must survive the same bounded search. The rest
pins down the runtime's contract: determinism, replay, virtual time, hang, crash and budget
reporting, ThreadPoolExecutor semantics and unwinding. No real thread, sleep or clock is used.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from interleavings import (
    Execution,
    Exploration,
    Outcome,
    default_check,
    explore,
    patched,
    run_once,
)
from interleavings.execution import Decision
from interleavings.points import lines, watched
from interleavings.strategies import (
    DFS,
    PCT,
    HypothesisStrategy,
    PreemptionBound,
    RandomWalk,
    Replay,
)
from interleavings.strategies.dfs import DivergenceError
from stateful_tests.programs import classic

Program = Callable[[], Any]


@contextmanager
def controlled(granularity: str = "sync") -> Iterator[None]:
    """Patch `classic` and open the requested scheduling-point granularity."""
    with ExitStack() as stack:
        stack.enter_context(patched(classic))
        if granularity == "access":
            stack.enter_context(watched(classic.Counter, "value"))
        elif granularity == "line":
            stack.enter_context(lines(classic))
        yield


def kind(outcome: Outcome) -> str:
    """What went wrong, in one word: the status, or which exception surfaced where."""
    if outcome.status != "ok":
        return outcome.status
    if outcome.crashes:
        return f"crash:{type(outcome.crashes[0][1]).__name__}"
    if outcome.main_error is not None:
        return f"error:{type(outcome.main_error).__name__}"
    return "ok"


def search(
    program: Program, bound: int, granularity: str = "sync", max_executions: int = 1000
) -> Exploration:
    """Every schedule with at most `bound` preemptions, until the first failure."""
    with controlled(granularity):
        return explore(
            lambda: program,
            PreemptionBound(DFS(), bound),
            default_check,
            max_executions=max_executions,
        )


# name -> (granularity, preemption bound that suffices, expected kind of failure)
EXPECTED = {
    "lost_update": ("access", 1, "error:AssertionError"),
    "lock_order": ("sync", 1, "deadlock"),
    "missed_wakeup": ("sync", 1, "hang"),
    "check_then_act": ("sync", 1, "error:AssertionError"),
    "double_checked_init": ("sync", 1, "crash:RuntimeError"),
    "done_callback": ("sync", 1, "deadlock"),
}
assert set(EXPECTED) == set(classic.BUGS)
NAMES = sorted(EXPECTED)


# ----------------------------------------------------------------------------- bounded search
@pytest.mark.parametrize("name", NAMES)
def test_bug_found_by_bounded_dfs(name: str) -> None:
    granularity, bound, expected = EXPECTED[name]
    buggy, _ = classic.BUGS[name]
    exploration = search(buggy, bound, granularity, max_executions=50)
    failure = exploration.failure
    assert failure is not None, f"{name}: not found in {exploration.executions} executions"
    assert kind(failure) == expected, failure.trace.render()
    assert 1 <= failure.preemptions <= bound
    if expected in ("deadlock", "hang"):
        assert not failure.main_done
        assert failure.crashes == [], "unwinding a stuck run must not look like a crash"


@pytest.mark.parametrize("name", NAMES)
def test_fix_survives_bounded_dfs(name: str) -> None:
    granularity, _, _ = EXPECTED[name]
    _, fixed = classic.BUGS[name]
    exploration = search(fixed, 2, granularity)
    assert exploration.failure is None, exploration.failure.trace.render()
    assert exploration.exhausted
    assert exploration.executions > 1


def test_lock_order_deadlock_names_the_cycle() -> None:
    failure = search(classic.lock_order_deadlock, 1).failure
    assert failure is not None
    assert failure.reason.startswith("lock cycle: Thread-")
    assert "blocked on acquire Lock#2" in "\n".join(failure.threads)


def test_self_deadlock_is_a_deadlock() -> None:
    """A thread re-acquiring its own Lock is a one-thread lock cycle, not a hang."""
    with controlled():
        outcome = run_once(classic.self_deadlock, DFS())
    assert outcome.status == "deadlock"
    assert outcome.reason == "lock cycle: MainThread -> MainThread"


def test_done_callback_deadlock_is_the_inline_callback() -> None:
    failure = search(classic.done_callback_reentry, 1).failure
    assert failure is not None
    assert failure.reason == "lock cycle: MainThread -> MainThread"
    steps = failure.trace.steps
    add = next(s for s in steps if s.op == "add_done_callback")
    done = next(s for s in steps if s.op == "set_result")
    # preempted at the point before registering; the worker finished; the callback ran inline
    assert add.preempted and add.index < done.index
    assert (steps[-1].thread, steps[-1].op, steps[-1].obj) == ("MainThread", "acquire", "Lock#1")


# ----------------------------------------------------------------------------- granularity
@pytest.mark.parametrize("in_steps", [False, True])
def test_lost_update_is_invisible_at_sync_granularity(in_steps: bool) -> None:
    """No scheduling point separates the read from the write: nothing to find, exhaustively."""
    exploration = search(functools.partial(classic.lost_update, in_steps=in_steps), 2)
    assert exploration.exhausted and exploration.failure is None


def test_lost_update_found_at_line_granularity() -> None:
    exploration = search(functools.partial(classic.lost_update, in_steps=True), 1, "line", 100)
    assert exploration.failure is not None
    assert kind(exploration.failure) == "error:AssertionError"
    assert {s.op for s in exploration.failure.trace.steps} >= {"line"}


def test_line_granularity_keeps_a_statement_atomic() -> None:
    """`self.value += 1` is one statement: line points cannot split it, only access points can."""
    exploration = search(classic.lost_update, 2, "line")
    assert exploration.exhausted and exploration.failure is None


def test_lost_update_fix_survives_line_granularity() -> None:
    exploration = search(functools.partial(classic.lost_update_fixed, in_steps=True), 1, "line")
    assert exploration.exhausted and exploration.failure is None


# ----------------------------------------------------------------------------- Hypothesis
def hypothesis_failure(program: Program, granularity: str, max_examples: int = 300) -> Outcome:
    """Run a @given search that must fail; return the outcome of the shrunk example.

    The preemption bound is the first draw, so shrinking lowers it before anything else: a
    preemption costs two draws (gate and target) and removing one shifts every later draw, so
    without the bound the shrinker can stop at a 3-preemption local minimum for a 1-preemption
    bug (3 of 360 seeded searches did, and so did the derandomized lock_order search here).
    Hypothesis replays the minimal failing example last, so the last failure is the shrunk one.
    """
    failures: list[Outcome] = []

    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        # no explain phase: it traces every line to say which draws mattered, which doubles
        # the cost and says less than the trace already does
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    )
    @given(st.data())
    def interleavings(data: st.DataObject) -> None:
        with controlled(granularity):
            bound = data.draw(st.integers(1, 4), label="preemption bound")
            strategy = PreemptionBound(HypothesisStrategy(data.draw), bound)
            outcome = run_once(program, strategy, max_steps=2_000)
        message = default_check(outcome)
        if message is not None:
            failures.append(outcome)
            raise AssertionError(message)

    with pytest.raises(AssertionError):
        interleavings()
    assert failures, "Hypothesis raised without a failing execution"
    return failures[-1]


@pytest.mark.parametrize("name", NAMES)
def test_bug_found_by_hypothesis(name: str) -> None:
    granularity, _, expected = EXPECTED[name]
    buggy, _ = classic.BUGS[name]
    shrunk = hypothesis_failure(buggy, granularity)
    assert kind(shrunk) == expected, shrunk.trace.render()
    assert shrunk.preemptions <= 2, shrunk.trace.render()


# ----------------------------------------------------------------------------- determinism
def _renders(strategy: Any, program: Program, granularity: str, runs: int = 3) -> list[Any]:
    out = []
    with controlled(granularity):
        for _ in range(runs):
            outcome = run_once(program, strategy)
            out.append((outcome.trace.render(), outcome.choices, outcome.status))
    return out


@pytest.mark.parametrize("make", [RandomWalk, PCT], ids=["random", "pct"])
@pytest.mark.parametrize(
    "program, granularity",
    [
        (classic.lost_update_fixed, "access"),
        (classic.done_callback_reentry_fixed, "sync"),
        (functools.partial(classic.tight_loop, 5), "line"),
    ],
    ids=["counter", "pool", "loop"],
)
def test_same_seed_same_run(make: Callable[[int], Any], program: Program, granularity: str) -> None:
    first = _renders(make(7), program, granularity)
    second = _renders(make(7), program, granularity)
    assert first == second
    assert any(choices for _, choices, _ in first)


class AskEveryThread(Execution):
    """The definition `Execution._runnable` must agree with: ask every started thread whether
    it can run now, and read every waiting thread's deadline. The runtime indexes waiting
    threads instead; the tests below hold it to this, decision by decision.

    It also takes the plain path everywhere: a primitive's `_point` is `point` (`_emit` finds
    the caller's location, `_decide_loop` decides), and a redefined `_runnable` turns off the
    fast paths the runtime inlines for speed. So the same comparison holds each inlined copy
    (the location search and decision of `_point`, `_decide`'s common case, the loop's
    `_runnable`) to the one general definition."""

    _point = Execution.point

    def _runnable(self, now: float) -> tuple[list[int], float | None]:
        runnable = [t.tid for t in self.threads if t.started and t.runnable(now)]
        deadlines = [
            t.wait.deadline
            for t in self.threads
            if t.wait is not None and t.wait.deadline is not None and t.wait.deadline > now
        ]
        return runnable, min(deadlines, default=None)


class Recording:
    """Passes every decision on to `inner` and keeps what the strategy was offered."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.offered: list[Decision] = []

    def begin(self) -> bool:
        return self.inner.begin()

    def choose(self, decision: Decision) -> int:
        self.offered.append(decision)
        return self.inner.choose(decision)


def _decided(execution: type[Execution], program: Program, granularity: str, seed: int, **options):
    strategy = Recording(RandomWalk(seed))
    with controlled(granularity):
        outcome = execution(strategy, **options).run(program)
    steps = [s.to_json() | {"file": s.file} for s in outcome.trace.steps]
    return strategy.offered, outcome.choices, outcome.status, outcome.reason, steps


@pytest.mark.parametrize("granularity", ["sync", "access", "line"])
@pytest.mark.parametrize(
    "program, options",
    [
        *[(variant, {}) for pair in classic.BUGS.values() for variant in pair],
        (classic.timed_waits, {}),
        (classic.timed_waits, {"eager_time": True}),
        (classic.cancel_on_shutdown, {"eager_time": True}),
        (classic.sleep_an_hour, {"eager_time": True}),
        (functools.partial(classic.tight_loop, 3), {"idle_limit": 10.0, "horizon": 60.0}),
        (classic.livelock, {"max_steps": 300}),
    ],
)
def test_indexed_decisions_match_asking_every_thread(
    program: Program, options: dict[str, Any], granularity: str
) -> None:
    """Same decisions offered in the same order, same choices, same trace to the byte."""
    for seed in range(2):
        indexed = _decided(Execution, program, granularity, seed, **options)
        reference = _decided(AskEveryThread, program, granularity, seed, **options)
        assert indexed == reference
        assert indexed[0], "no decision was offered: the comparison proved nothing"


def test_replay_reproduces_a_failure() -> None:
    failure = search(classic.lock_order_deadlock, 2).failure
    assert failure is not None
    with controlled():
        again = run_once(classic.lock_order_deadlock, Replay(failure.choices))
    assert again.trace.render() == failure.trace.render()
    assert again.trace.fingerprint() == failure.trace.fingerprint()
    assert (again.status, again.reason, again.choices) == (
        failure.status,
        failure.reason,
        failure.choices,
    )


def test_replay_reproduces_a_random_run() -> None:
    program = functools.partial(classic.tight_loop, 4)
    with controlled("access"):
        original = run_once(program, RandomWalk(3))
        replay = Replay(original.choices)
        again = run_once(program, replay)
    assert replay.diverged is None
    assert again.trace.render() == original.trace.render()
    assert again.choices == original.choices


def test_threads_are_named_like_cpython_in_every_execution() -> None:
    with controlled():
        names = [
            [n for _, n in run_once(classic.lost_update_fixed, RandomWalk(s)).trace.threads()]
            for s in (1, 2)
        ]
    assert names[0] == names[1] == ["MainThread", "Thread-1 (increment)", "Thread-2 (increment)"]


def test_thread_names_match_cpython() -> None:
    """Unstarted real threads give CPython's names; the runtime's match, numbered from 1."""
    real = [re.sub(r"Thread-\d+", "Thread-N", n) for n in classic.thread_names()]
    with controlled():
        outcome = run_once(classic.thread_names, DFS())
    assert outcome.main_error is None, outcome.main_error
    assert [re.sub(r"Thread-\d+", "Thread-N", n) for n in outcome.main_result] == real
    assert outcome.main_result[:4] == ["Thread-1 (work)", "Thread-2", "Thread-3", "Thread-4"]


# ----------------------------------------------------------------------------- virtual time
def test_an_hour_of_sleep_costs_a_few_steps() -> None:
    ex = Execution(DFS())
    with controlled():
        outcome = ex.run(classic.sleep_an_hour)
    assert outcome.status == "ok" and outcome.main_result == 3600.0
    assert ex.clock.now == 3600.0
    assert outcome.steps <= 6 and outcome.trace.clock_advances == 1


def test_timed_waits_wake_in_virtual_time() -> None:
    ex = Execution(DFS())
    with controlled():
        outcome = ex.run(classic.timed_waits)
    assert outcome.status == "ok", outcome.reason
    assert outcome.main_result == {
        "flag": False,
        "waited": 2.5,
        "joined_at": 7.5,
        "alive_after_join": True,
    }
    assert ex.clock.now == 102.5  # the process still waited for the non-daemon sleeper
    timeouts = [(s.thread, s.obj, s.time) for s in outcome.trace.steps if s.op == "wait_timeout"]
    assert timeouts == [
        ("MainThread", "Event#1", 2.5),
        ("MainThread", "sleeper", 7.5),
        ("sleeper", "sleep 100s", 102.5),
    ]


@pytest.mark.parametrize(
    "options, reason",
    [({"idle_limit": 10.0}, "only timed idle polling"), ({"horizon": 60.0}, "past the horizon")],
)
def test_polling_forever_is_a_hang(options: dict[str, float], reason: str) -> None:
    ex = Execution(DFS(), **options)
    with controlled():
        outcome = ex.run(classic.poll_forever)
    assert outcome.status == "hang" and reason in outcome.reason
    assert not outcome.main_done
    assert ex.clock.now <= 61.0 and outcome.steps < 2_000


def test_polling_forever_without_limits_spends_the_budget() -> None:
    with controlled():
        outcome = run_once(classic.poll_forever, DFS(), max_steps=300)
    # a timed-out wait is recorded without being a scheduling point, so the trace may hold one
    # step more than the budget of points
    assert outcome.status == "budget" and 300 <= outcome.steps <= 301
    assert outcome.reason == "step budget of 300 scheduling points spent"


# ----------------------------------------------------------------------------- crashes, budget
def test_exception_escaping_a_thread_is_a_crash() -> None:
    with controlled():
        outcome = run_once(classic.crash_in_thread, DFS())
    assert outcome.status == "ok" and outcome.main_done and outcome.main_error is None
    assert [(name, type(exc)) for name, exc in outcome.crashes] == [("worker", ValueError)]
    assert "boom" in str(outcome.crashes[0][1])
    assert any(s.op == "crash" and s.thread == "worker" for s in outcome.trace.steps)
    assert default_check(outcome) == "thread worker crashed: ValueError: boom in a worker thread"


@pytest.mark.parametrize("strategy", [DFS(), RandomWalk(5)], ids=["dfs", "random"])
def test_step_budget_ends_a_livelock(strategy: Any) -> None:
    ex = Execution(strategy, max_steps=500)
    with controlled():
        outcome = ex.run(classic.livelock)
    assert outcome.status == "budget" and outcome.steps == 500
    assert not outcome.main_done and outcome.crashes == []
    assert all(t.glet is None or t.glet.dead for t in ex.threads), "a greenlet outlived the run"


# ----------------------------------------------------------------------------- pool semantics
@pytest.mark.parametrize(
    "program",
    [classic.callback_inline_when_done, classic.cancel_on_shutdown, classic.submit_after_shutdown],
)
def test_pool_semantics_hold_in_every_schedule(program: Program) -> None:
    exploration = search(program, 2)
    assert exploration.failure is None, exploration.message
    assert exploration.exhausted


def test_submit_after_shutdown_raises_runtime_error() -> None:
    with controlled():
        outcome = run_once(classic.submit_after_shutdown, DFS())
    assert outcome.main_result == "cannot schedule new futures after shutdown"


# ----------------------------------------------------------------------------- unwinding
class _Exploding:
    """A strategy that fails at its third decision, as Hypothesis does when data runs out."""

    def __init__(self) -> None:
        self.calls = 0

    def begin(self) -> bool:
        return True

    def choose(self, decision: Decision) -> int:
        self.calls += 1
        if self.calls == 3:
            raise KeyError("strategy ran out")
        return 0


def test_strategy_errors_propagate_and_leave_no_greenlet() -> None:
    """A strategy's exception is the checker's, not the program's: never a thread crash."""
    ex = Execution(_Exploding())
    with controlled(), pytest.raises(KeyError, match="strategy ran out"):
        ex.run(classic.lock_order_fixed)
    assert ex.crashes == []
    assert all(t.glet is None or t.glet.dead for t in ex.threads)


def test_observer_errors_propagate() -> None:
    ex = Execution(DFS())

    def observer(step: Any) -> None:
        if step.op == "release":
            raise ZeroDivisionError("invariant code failed")

    ex.observe(observer)
    with controlled(), pytest.raises(ZeroDivisionError):
        ex.run(classic.lost_update_fixed)
    assert ex.crashes == []
    assert all(t.glet is None or t.glet.dead for t in ex.threads)


def test_nondeterministic_body_is_a_divergence_not_a_crash() -> None:
    """DFS re-executes prefixes; a body that changes between runs must be reported as such."""
    runs = itertools.count()

    def body() -> None:
        workers = 2 if next(runs) == 0 else 3
        classic._run_all(*[functools.partial(classic.square, n) for n in range(workers)])

    with controlled(), pytest.raises(DivergenceError):
        explore(lambda: body, DFS(), default_check, max_executions=10)
