"""One controlled execution: logical threads as greenlets, one running at a time.

Every primitive in this package calls `Execution.point()` (its inlined twin `_point`) before
it acts. The running thread then asks the strategy which runnable thread goes next; choice 0
always means "no preemption" (keep the current thread, or the lowest-numbered runnable one when
the current cannot run), so a shrinker that minimises choices minimises preemptions.

Greenlets were chosen by measurement (docs/benchmarks.md): a greenlet switch costs about 1 us
here against about 37 us for a handoff between two OS threads, and a greenlet never runs
unless we switch to it, so no real thread can ever race the model.
"""

from __future__ import annotations

import functools
import os
import sys
import types
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import greenlet

from interleavings.clock import VirtualClock
from interleavings.trace import Step, Trace

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# Operations that change nothing another thread could observe: an execution whose threads do
# only these for `idle_limit` virtual seconds is idling, not working.
IDLE_OPS = frozenset(
    {"time", "sleep", "wait_timeout", "acquire", "release", "is_set", "wait", "clock", "line"}
)


class Abort(BaseException):
    """Thrown into a thread to unwind it when the execution is over; never caught by SDK code
    that catches Exception, so `finally` blocks run and nothing else does."""


class DecisionError(RuntimeError):
    """A strategy returned a choice outside the offered range."""


@dataclass
class Wait:
    """What a blocked thread waits for: a condition, an optional deadline, and a description.

    `ready` must be a pure function of program state (it is asked at scheduling points, as
    often as the runtime likes) over the objects its closure holds, and those bindings must not
    change while the thread waits: the runtime asks one predicate for all waits whose `ready`
    has the same code over the same objects (`Execution._runnable`).
    """

    on: str
    ready: Callable[[], bool]
    deadline: float | None = None
    lock: Any = None  # the lock object, when waiting to acquire one (for cycle detection)
    external: bool = False  # a session's main thread awaiting its next command


@dataclass(eq=False)  # a thread is itself: `in` and `is` must not compare every field
class ThreadState:
    tid: int
    name: str
    daemon: bool
    glet: greenlet.greenlet | None = None
    started: bool = False
    done: bool = False
    wait: Wait | None = None
    error: BaseException | None = None
    handle: Any = None  # the user-visible Thread object

    def runnable(self, now: float) -> bool:
        if self.done:
            return False
        w = self.wait
        if w is None:
            return True
        return w.ready() or (w.deadline is not None and now >= w.deadline)

    def describe(self, now: float) -> str:
        if self.done:
            return "finished" + (f" with {type(self.error).__name__}" if self.error else "")
        if self.wait is None:
            return "runnable"
        w = self.wait
        until = "" if w.deadline is None else f" until t={w.deadline:.3f}"
        return f"blocked on {w.on}{until}"


class Decision(NamedTuple):
    """What a strategy sees at a scheduling point (a tuple: built once per decision, cheaply)."""

    step: int
    options: tuple[int, ...]  # thread ids in choice order; -1 stands for "advance the clock"
    current: int  # tid of the thread that reached the point
    current_runnable: bool


@dataclass
class Outcome:
    """How an execution ended, and everything needed to explain or replay it."""

    status: str  # "ok", "deadlock", "hang", "budget"
    reason: str
    main_done: bool
    main_result: Any
    main_error: BaseException | None
    crashes: list[tuple[str, BaseException]]
    choices: list[int]
    trace: Trace
    threads: list[str] = field(default_factory=list)  # each thread's final state, one line each

    @property
    def steps(self) -> int:
        return len(self.trace.steps)

    @property
    def preemptions(self) -> int:
        return sum(1 for s in self.trace.steps if s.preempted)


_active: Execution | None = None


def active() -> Execution | None:
    return _active


def require() -> Execution:
    if _active is None:
        raise RuntimeError("an interleavings primitive was used outside a controlled execution")
    return _active


class Execution:
    """Runs one body under full control. Create one per run; `run()` may be called once."""

    def __init__(
        self,
        strategy: Any,
        *,
        max_steps: int = 20_000,
        horizon: float | None = None,
        idle_limit: float | None = None,
        eager_time: bool = False,
        record_locations: bool = True,
        drain: float = 5.0,
    ) -> None:
        self.strategy = strategy
        self.max_steps = max_steps
        self.horizon = horizon
        self.idle_limit = idle_limit
        self.eager_time = eager_time
        self.record_locations = record_locations
        self.clock = VirtualClock()
        self.threads: list[ThreadState] = []
        self.current: ThreadState | None = None
        self.trace = Trace()
        self.choices: list[int] = []
        self.crashes: list[tuple[str, BaseException]] = []
        self._labels: dict[int, str] = {}
        self._label_counts: dict[str, int] = {}
        self._keep: list[Any] = []  # labelled objects stay alive so their id() is never reused
        self._root: greenlet.greenlet | None = None
        self._stop: tuple[str, str] | None = None
        self._last_progress = 0.0
        self._observers: list[Callable[[Step], None]] = []
        self.finishing = False
        self.thread_names = 0
        self._session_limit: float | None = None
        self.drain = drain
        self._main_done_at: float | None = None
        # The started, unfinished threads, indexed by what they wait for (`_runnable`): those
        # not waiting; waits only their deadline ends, as (deadline, tid) in order; untimed
        # waits by predicate (`_predicate_key`), one question for all waiters; the other waits.
        self._free: dict[int, ThreadState] = {}
        self._sleep_keys: list[tuple[float, int]] = []
        self._shared: dict[tuple[Any, ...], dict[int, Callable[[], bool]]] = {}  # tid: ready
        self._asked: dict[int, Wait] = {}
        self._indexed = type(self)._runnable is Execution._runnable
        # An exception from the strategy or an observer: the checker's own failure, not the
        # program's. It ends the run and `run()` re-raises it (Hypothesis's StopTest included).
        self._error: BaseException | None = None

    # ----------------------------------------------------------------- naming and observing
    def label(self, obj: Any, kind: str | None = None, name: str | None = None) -> str:
        """A stable, deterministic name for a primitive: `Lock#2`, or a name the caller gives."""
        key = id(obj)
        if name is not None:
            self._labels[key] = name
            self._keep.append(obj)
            return name
        existing = self._labels.get(key)
        if existing is not None:
            return existing
        kind = kind or type(obj).__name__
        n = self._label_counts.get(kind, 0) + 1
        self._label_counts[kind] = n
        self._labels[key] = f"{kind}#{n}"
        self._keep.append(obj)
        return self._labels[key]

    def observe(self, fn: Callable[[Step], None]) -> None:
        """Call `fn` after every recorded step (invariants checked at every scheduling point)."""
        self._observers.append(fn)

    def stop(self, status: str, reason: str) -> None:
        """End the execution at the next scheduling point (an observer found a violation)."""
        if self._stop is None:
            self._stop = (status, reason)

    # ----------------------------------------------------------------- threads
    def new_thread(self, name: str, daemon: bool, handle: Any = None) -> ThreadState:
        ts = ThreadState(tid=len(self.threads), name=name, daemon=daemon, handle=handle)
        self.threads.append(ts)
        return ts

    def start_thread(self, ts: ThreadState, target: Callable[[], Any]) -> None:
        def body() -> None:
            try:
                target()
            except Abort:
                pass
            except BaseException as exc:  # an exception escaping a thread is a finding
                if self.finishing:  # ... unless unwinding caused it (a release in a finally)
                    return
                ts.error = exc
                self.crashes.append((ts.name, exc))
                self._emit(ts, "crash", ts.name, f"{type(exc).__name__}: {exc}", progress=True)
            finally:
                ts.done = True
                ts.wait = None
                self._free.pop(ts.tid, None)

        ts.glet = greenlet.greenlet(body, parent=self._root)
        ts.started = True
        self._free[ts.tid] = ts

    # ----------------------------------------------------------------- the scheduling point
    def point(self, op: str, obj: str = "", detail: str = "") -> None:
        """Record one operation of the current thread, then let the strategy switch threads."""
        ts = self.current
        assert ts is not None
        self._emit(ts, op, obj, detail, progress=op not in IDLE_OPS)
        self._reschedule()

    def _point(self, op: str, obj: str = "", detail: str = "") -> None:
        """`point` for this package's primitives, inlined for speed: the same step and the
        same decision (test_indexed_decisions_match_asking_every_thread holds it to `point`).
        The caller is in this package, so the search for the caller's source location starts
        one frame further out without materialising the primitive's frame."""
        ts = self.current
        assert ts is not None
        if not self.finishing:
            file, line = "", 0
            if self.record_locations:
                try:
                    f: Any = sys._getframe(2)
                except ValueError:  # the primitive has no caller: no location, as in `_emit`
                    f = None
                while f is not None:
                    code = f.f_code
                    if not code.co_filename.startswith(_PACKAGE_DIR):
                        file, line = code.co_filename, f.f_lineno
                        break
                    f = f.f_back
            steps = self.trace.steps
            now = self.clock.now
            step = Step(len(steps), ts.tid, ts.name, op, obj, detail, file, line, now)
            steps.append(step)
            if op not in IDLE_OPS:
                self._last_progress = now
            if self._observers:
                for fn in self._observers:
                    try:
                        fn(step)
                    except BaseException as exc:
                        self._fail(exc, "an observer")
                        break
            if self.finishing:
                raise Abort()
            threads = self.threads
            if (
                self._indexed
                and self._stop is None
                and len(steps) < self.max_steps
                and not self._sleep_keys
                and not self._asked
                and not threads[0].done
                and self.horizon is None
                and self.idle_limit is None
                and not self.eager_time
            ):
                # `_decide` inlined for its common case, with the same answer: no timed wait
                # and no wait asked alone (so no deadline), the main body still running, no
                # time limits and no eager time (so the strategy is offered only threads).
                runnable = [*self._free]
                shared = self._shared
                if shared:
                    for waiters in shared.values():
                        for ready in waiters.values():  # any waiter's predicate answers for all
                            if ready():
                                runnable += waiters
                            break
                if len(runnable) == 1:
                    nxt = threads[runnable[0]]
                elif not runnable:
                    if not self._paused(None):
                        self._stop = self._stuck()
                    nxt = None
                else:
                    mine = ts.tid
                    if len(runnable) == 2:  # the same options as below, without a sort
                        a, b = runnable
                        if a > b:
                            a, b = b, a
                        current_ok = True
                        if mine == a:
                            options = (a, b)
                        elif mine == b:
                            options = (b, a)
                        else:
                            current_ok = False
                            options = (a, b)
                    else:
                        runnable.sort()
                        if mine in runnable:
                            current_ok = True
                            runnable.remove(mine)
                            options = (mine, *runnable)
                        else:
                            current_ok = False
                            options = tuple(runnable)
                    try:
                        choice = self.strategy.choose(
                            _decision((len(steps), options, mine, current_ok))
                        )
                        if not 0 <= choice < len(options):
                            raise DecisionError(f"choice {choice} outside 0..{len(options) - 1}")
                    except BaseException as exc:  # not the program's fault: never a crash
                        self._fail(exc, "the strategy")
                        nxt = None
                    else:
                        self.choices.append(choice)
                        if choice and current_ok:
                            steps[-1].preempted = True
                        nxt = threads[options[choice]]
            else:
                nxt = self._decide_loop()
            if nxt is None:
                assert self._root is not None
                self._root.switch()  # the run ended (we are unwound) or a session paused
            elif nxt is not self.current:
                self.current = nxt
                nxt.glet.switch()  # type: ignore[union-attr]  # a started thread has a greenlet
            if self.finishing:
                raise Abort()
            return
        raise Abort()  # `_reschedule` while finishing

    def block(self, wait: Wait, op: str = "wait", obj: str = "") -> bool:
        """Block the current thread until `wait.ready()` or its deadline. True when ready."""
        ts = self.current
        assert ts is not None
        if wait.ready():
            return True
        ts.wait = wait
        filed = self._file_wait(ts.tid, wait)
        try:
            while True:
                self._reschedule()
                if wait.ready():
                    return True
                if wait.deadline is not None and self.clock.now >= wait.deadline:
                    self._emit(ts, "wait_timeout", obj or wait.on, "", progress=False)
                    return False
        finally:
            ts.wait = None
            self._unfile_wait(ts, filed)

    def _file_wait(self, tid: int, wait: Wait) -> tuple[str, Any]:
        """Index a thread that starts waiting where `_runnable` will look for it: with the
        sleepers when only its deadline can end the wait, with the waiters on the same
        predicate when it has no deadline, else with the waits asked one by one."""
        del self._free[tid]
        if wait.deadline is not None:
            if _never(wait.ready):
                key = (wait.deadline, tid)
                insort(self._sleep_keys, key)
                return ("sleep", key)
        else:
            shared = _predicate_key(wait.ready)
            if shared is not None:
                self._shared.setdefault(shared, {})[tid] = wait.ready
                return ("shared", shared)
        self._asked[tid] = wait
        return ("asked", tid)

    def _unfile_wait(self, ts: ThreadState, filed: tuple[str, Any]) -> None:
        """The wait is over (ready, timed out or unwound): the thread is free again."""
        kind, key = filed
        if kind == "sleep":
            del self._sleep_keys[bisect_left(self._sleep_keys, key)]
        elif kind == "shared":
            waiters = self._shared[key]
            del waiters[ts.tid]
            if not waiters:
                del self._shared[key]
        else:
            del self._asked[ts.tid]
        if not ts.done:
            self._free[ts.tid] = ts

    def _emit(self, ts: ThreadState, op: str, obj: str, detail: str, *, progress: bool) -> None:
        if self.finishing:
            return
        file, line = "", 0
        if self.record_locations:
            # Where the code under test made the call: the first frame outside this package.
            # Frame 1 is `point`, `block` or a thread's body, all in this module; skipping it
            # saves materialising its frame object, the dearest part of this method.
            try:
                f: Any = sys._getframe(2)
            except ValueError:  # a thread's body has no caller
                f = None
            while f is not None and f.f_code.co_filename.startswith(_PACKAGE_DIR):
                f = f.f_back
            if f is not None:
                file, line = f.f_code.co_filename, f.f_lineno
        steps = self.trace.steps
        now = self.clock.now
        step = Step(len(steps), ts.tid, ts.name, op, obj, detail, file, line, now)
        steps.append(step)
        if progress:
            self._last_progress = now
        for fn in self._observers:
            try:
                fn(step)
            except BaseException as exc:
                self._fail(exc, "an observer")
                return

    def _fail(self, exc: BaseException, who: str) -> None:
        """The checker itself failed: stop at the next point; `run()` re-raises `exc`."""
        if self._error is None:
            self._error = exc
        self._stop = ("error", f"{who} raised {type(exc).__name__}: {exc}")

    def _reschedule(self) -> None:
        """Pick the next thread and switch to it (or return at once if it is us)."""
        if self.finishing:
            raise Abort()
        nxt = self._decide()
        if nxt is None:
            assert self._root is not None
            self._root.switch()  # the run ended (we are unwound) or a session paused
        elif nxt is not self.current:
            self.current = nxt
            nxt.glet.switch()  # type: ignore[union-attr]  # a started thread has a greenlet
        if self.finishing:
            raise Abort()

    def _switch(self, nxt: ThreadState) -> None:
        self.current = nxt
        assert nxt.glet is not None
        nxt.glet.switch()

    def _decide(self) -> ThreadState | None:
        """The heart: advance time when nothing can run, detect the end, ask the strategy.

        Its common case first (the same as `_point`'s inlined copy), else `_decide_loop`."""
        steps = self.trace.steps
        threads = self.threads
        if (
            self._indexed
            and self._stop is None
            and len(steps) < self.max_steps
            and not self._sleep_keys
            and not self._asked
            and not threads[0].done
            and self.horizon is None
            and self.idle_limit is None
            and not self.eager_time
        ):
            runnable = [*self._free]
            shared = self._shared
            if shared:
                for waiters in shared.values():
                    for ready in waiters.values():  # any waiter's predicate answers for all
                        if ready():
                            runnable += waiters
                        break
            if len(runnable) == 1:
                return threads[runnable[0]]
            if not runnable:
                if not self._paused(None):
                    self._stop = self._stuck()
                return None
            me = self.current
            mine = -1 if me is None else me.tid
            if len(runnable) == 2:  # the same options as below, without a sort
                a, b = runnable
                if a > b:
                    a, b = b, a
                current_ok = True
                if mine == a:
                    options = (a, b)
                elif mine == b:
                    options = (b, a)
                else:
                    current_ok = False
                    options = (a, b)
            else:
                runnable.sort()
                if mine in runnable:
                    current_ok = True
                    runnable.remove(mine)
                    options = (mine, *runnable)
                else:
                    current_ok = False
                    options = tuple(runnable)
            try:
                choice = self.strategy.choose(_decision((len(steps), options, mine, current_ok)))
                if not 0 <= choice < len(options):
                    raise DecisionError(f"choice {choice} outside 0..{len(options) - 1}")
            except BaseException as exc:  # not the program's fault: never a thread crash
                self._fail(exc, "the strategy")
                return None
            self.choices.append(choice)
            if choice and current_ok and steps:
                steps[-1].preempted = True
            return threads[options[choice]]
        return self._decide_loop()

    def _decide_loop(self) -> ThreadState | None:
        """`_decide` in general: time limits, eager time, timed waits, the end of the body."""
        me = self.current
        mine = -1 if me is None else me.tid
        threads = self.threads
        steps = self.trace.steps
        timed = self.horizon is not None or self.idle_limit is not None
        eager = self.eager_time
        max_steps = self.max_steps
        clock = self.clock
        # `_runnable` inlined (the same answer, computed the same way) unless a subclass
        # redefines it, as the tests' reference `AskEveryThread` does.
        indexed = self._indexed
        free = self._free
        keys = self._sleep_keys
        shared = self._shared
        asked = self._asked
        while True:
            if self._stop is not None:
                return None
            if len(steps) >= max_steps:
                self._stop = ("budget", f"step budget of {max_steps} scheduling points spent")
                return None
            if indexed:
                now = clock.now
                runnable = [*free]
                soonest: float | None = None
                if keys:
                    due = bisect_right(keys, (now, _INF))
                    if due:
                        runnable += [tid for _, tid in keys[:due]]
                    if due < len(keys):
                        soonest = keys[due][0]
                if shared:
                    for waiters in shared.values():
                        for ready in waiters.values():  # any waiter's predicate answers for all
                            if ready():
                                runnable += waiters
                            break
                if asked:
                    for tid, wait in asked.items():
                        deadline = wait.deadline
                        if wait.ready() or (deadline is not None and now >= deadline):
                            runnable.append(tid)
                        if (
                            deadline is not None
                            and now < deadline
                            and (soonest is None or deadline < soonest)
                        ):
                            soonest = deadline
                if len(runnable) > 1:
                    runnable.sort()
            else:
                runnable, soonest = self._runnable(clock.now)
            if threads[0].done and self._drained():
                self._stop = ("ok", "main body finished")
                return None
            if not runnable:
                if self._paused(soonest):
                    return None
                if soonest is None:
                    self._stop = self._stuck()
                    return None
                self._advance(soonest)
                continue
            if timed and self._idle_or_past_horizon():
                return None
            if not eager and len(runnable) == 1:
                return threads[runnable[0]]
            # Choice 0 is "no preemption": the current thread first when it can go on.
            if mine in runnable:
                current_ok = True
                runnable.remove(mine)
                options = (mine, *runnable)
            else:
                current_ok = False
                options = tuple(runnable)
            if eager:  # the strategy may also let time pass, if a wait has a deadline
                if soonest is not None:
                    options += (-1,)
                elif len(options) == 1:
                    return threads[options[0]]
            decision = _decision((len(steps), options, mine, current_ok))
            try:
                choice = self.strategy.choose(decision)
                if not 0 <= choice < len(options):
                    raise DecisionError(f"choice {choice} outside 0..{len(options) - 1}")
            except BaseException as exc:  # not the program's fault: never a thread crash
                self._fail(exc, "the strategy")
                return None
            self.choices.append(choice)
            chosen = options[choice]
            if chosen == -1:
                assert soonest is not None
                self._advance(soonest)
                continue
            if choice and current_ok and steps:
                steps[-1].preempted = True
            return threads[chosen]

    def _runnable(self, now: float) -> tuple[list[int], float | None]:
        """The ids of the threads that can run at `now`, ascending, and the soonest deadline
        after `now` of any waiting thread (None when no wait has one).

        The same answer as asking every started, unfinished thread `runnable(now)` and reading
        every wait's deadline (the tests keep that definition and compare step by step), but a
        waiting thread is indexed when it blocks: waits only a deadline can end (`sleep`) sorted
        by deadline, so the due ones are a prefix; untimed waits grouped by predicate, so one
        question answers for every idle worker of a pool or every waiter on one lock; only the
        other waits are asked one by one. With hundreds of threads, nearly all asleep or idle,
        a scheduling point then costs what its few candidates cost.
        """
        runnable = [*self._free]
        soonest: float | None = None
        keys = self._sleep_keys
        if keys:
            due = bisect_right(keys, (now, _INF))
            if due:
                runnable += [tid for _, tid in keys[:due]]
            if due < len(keys):
                soonest = keys[due][0]
        shared = self._shared
        if shared:
            for waiters in shared.values():
                for ready in waiters.values():  # any waiter's predicate answers for all
                    if ready():
                        runnable += waiters
                    break
        if self._asked:
            for tid, wait in self._asked.items():
                deadline = wait.deadline
                if wait.ready() or (deadline is not None and now >= deadline):
                    runnable.append(tid)
                if (
                    deadline is not None
                    and now < deadline
                    and (soonest is None or deadline < soonest)
                ):
                    soonest = deadline
        if len(runnable) > 1:
            runnable.sort()
        return runnable, soonest

    def _drained(self) -> bool:
        """After the body returns, daemon threads still run (a real process keeps them until it
        exits) for `drain` virtual seconds, so work they do after the exit is observed."""
        if not self.threads[0].done or any(not t.done and not t.daemon for t in self.threads):
            return False
        if self._main_done_at is None:
            self._main_done_at = self.clock.now
        if self.clock.now - self._main_done_at >= self.drain:
            return True
        now = self.clock.now
        return not any(
            t.runnable(now) or (t.wait is not None and t.wait.deadline is not None)
            for t in self.threads
            if t.started and not t.done
        )

    def _paused(self, soonest: float | None) -> bool:
        """In a session, stop when the main thread awaits its next command and nothing else can
        run before the session's time limit: that is a quiescent state the caller may inspect."""
        main = self.threads[0]
        if self._session_limit is None or main.wait is None or not main.wait.external:
            return False
        return soonest is None or soonest > self._session_limit

    def _advance(self, to: float) -> None:
        self.clock.advance_to(to)
        self.trace.clock_advances += 1

    def _idle_or_past_horizon(self) -> bool:
        if self.threads[0].done:
            return False
        now = self.clock.now
        if self.horizon is not None and now > self.horizon:
            self._stop = ("hang", f"the body is still running at t={now:.3f}, past the horizon")
            return True
        if self.idle_limit is not None and now - self._last_progress > self.idle_limit:
            self._stop = (
                "hang",
                f"only timed idle polling for {now - self._last_progress:.3f}s of virtual time "
                f"(since t={self._last_progress:.3f})",
            )
            return True
        return False

    def _stuck(self) -> tuple[str, str]:
        """Nothing can run and nothing will time out: a lock cycle is a deadlock, else a hang."""
        if self.threads[0].done:
            return ("ok", "main body finished; remaining threads are blocked")
        holders: dict[int, ThreadState] = {}
        for t in self.threads:
            if t.wait is not None and t.wait.lock is not None:
                owner = getattr(t.wait.lock, "owner_state", None)
                if owner is not None:
                    holders[t.tid] = owner
        for start in holders:
            seen: list[int] = []
            cur: int | None = start
            while cur is not None and cur in holders and cur not in seen:
                seen.append(cur)
                cur = holders[cur].tid
            if cur is not None and cur in seen:
                cycle = seen[seen.index(cur) :]
                names = " -> ".join(self.threads[i].name for i in [*cycle, cur])
                return ("deadlock", f"lock cycle: {names}")
        return ("hang", "nothing can run and no timed wait remains: every thread waits forever")

    # ----------------------------------------------------------------- running
    def run(self, body: Callable[[], Any], *, main_name: str = "MainThread") -> Outcome:
        global _active
        if _active is not None:
            raise RuntimeError("executions do not nest")
        result: dict[str, Any] = {}

        def main() -> None:
            try:
                value = body()
            except Abort:
                raise
            except BaseException as exc:
                if not self.finishing:  # unwinding is not the body failing
                    result["error"] = exc
            else:
                if not self.finishing:
                    result["value"] = value

        self._root = greenlet.getcurrent()
        _active = self
        try:
            ts = self.new_thread(main_name, daemon=False)
            self.start_thread(ts, main)
            self.current = ts
            assert ts.glet is not None
            ts.glet.switch()
            while self._stop is None:
                nxt = self._decide()
                if nxt is None:
                    break
                self._switch(nxt)
            status, reason = self._stop or ("ok", "")
            threads = [f"{t.name}: {t.describe(self.clock.now)}" for t in self.threads]
            crashes = list(self.crashes)
            main_done = "value" in result or "error" in result
            self._unwind()
        finally:
            _active = None
            self._root = None
        if self._error is not None:
            raise self._error
        return Outcome(
            status=status,
            reason=reason,
            main_done=main_done,
            main_result=result.get("value"),
            main_error=result.get("error"),
            crashes=crashes,
            choices=list(self.choices),
            trace=self.trace,
            threads=threads,
        )

    # ----------------------------------------------------------------- sessions
    def open(self, main_name: str = "MainThread") -> None:
        """Start a session: the main thread serves commands given by `do`, one at a time.

        This is how a rule-based state machine drives the runtime: between two commands every
        thread has run as far as it can without time passing beyond the session's limit, and
        the caller may inspect that quiescent state.
        """
        self._inbox: list[tuple[Callable[[], Any], dict[str, Any]]] = []
        self._session_limit = self.clock.now
        self._root = greenlet.getcurrent()
        ts = self.new_thread(main_name, daemon=False)
        self.start_thread(ts, self._serve)
        self.current = ts
        self._pump(first=ts)

    def _serve(self) -> None:
        while True:
            self.block(Wait("the next command", lambda: bool(self._inbox), external=True))
            fn, box = self._inbox.pop(0)
            try:
                box["value"] = fn()
            except Abort:
                raise
            except BaseException as exc:
                box["error"] = exc
            box["done"] = True

    def do(self, fn: Callable[[], Any]) -> dict[str, Any]:
        """Run `fn` on the main thread while the other threads interleave; returns its box:
        `value` or `error`, and `done` (absent when the execution ended first)."""
        box: dict[str, Any] = {}
        if self._stop is None:
            self._inbox.append((fn, box))
            self._pump()
        return box

    def advance(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass, waking timed waits in deadline order."""
        target = self.clock.now + max(seconds, 0.0)
        self._session_limit = target
        self._pump()
        if self._stop is None:
            self.clock.advance_to(target)
            self._pump()

    @property
    def ended(self) -> tuple[str, str] | None:
        return self._stop

    def _pump(self, first: ThreadState | None = None) -> None:
        global _active
        _active = self
        try:
            if first is not None:
                self._switch(first)
            while self._stop is None:
                nxt = self._decide()
                if nxt is None:
                    break
                self._switch(nxt)
            self._session_limit = max(self._session_limit or 0.0, self.clock.now)
            if self._error is not None:  # the checker failed: unwind now, then report it
                self._unwind()
                raise self._error
        finally:
            _active = None

    def close(self) -> Outcome:
        """End a session: unwind every thread and report like `run` does."""
        global _active
        status, reason = self._stop or ("ok", "session closed")
        threads = [f"{t.name}: {t.describe(self.clock.now)}" for t in self.threads]
        crashes = list(self.crashes)
        raised = self.finishing  # `_pump` already unwound and raised the checker's error
        _active = self
        try:
            self._unwind()
        finally:
            _active = None
            self._root = None
        if self._error is not None and not raised:
            raise self._error
        return Outcome(
            status=status,
            reason=reason,
            main_done=status == "ok",
            main_result=None,
            main_error=None,
            crashes=crashes,
            choices=list(self.choices),
            trace=self.trace,
            threads=threads,
        )

    def _unwind(self) -> None:
        """Throw Abort into every unfinished thread so no greenlet outlives the run."""
        self.finishing = True
        for t in self.threads:
            g = t.glet
            if g is not None and not g.dead and t.started:
                try:
                    g.throw(Abort())
                except Abort:
                    pass
            t.done = True


_INF = float("inf")
# `Decision(step, options, current, current_runnable)` without the Python-level `__new__` that
# NamedTuple generates: a decision is built at most scheduling points.
_decision = functools.partial(tuple.__new__, Decision)
_FALSE = (lambda: False).__code__


def _never(ready: Callable[[], bool]) -> bool:
    """True when `ready` is a closure-free `lambda: False`: only a deadline ends the wait."""
    code = getattr(ready, "__code__", None)
    return (
        code is not None
        and code.co_code == _FALSE.co_code
        and code.co_consts == _FALSE.co_consts
        and getattr(ready, "__closure__", None) is None
    )


def _predicate_key(ready: Callable[[], bool]) -> tuple[Any, ...] | None:
    """What `ready` computes, as a key: its code and the objects it reads through its closure
    (or the object a bound method is bound to). Two predicates with the same key answer alike
    (`Wait` says why), so waiters with one key are asked once. None: ask this one alone. The
    ids stay unique while a group of waiters exists: their predicates keep the objects alive."""
    if type(ready) is types.MethodType:
        return (id(ready.__func__), id(ready.__self__))
    if type(ready) is not types.FunctionType or ready.__defaults__ or ready.__kwdefaults__:
        return None
    closure = ready.__closure__
    if closure is None:
        return (id(ready.__code__),)
    try:
        return (id(ready.__code__), *[id(cell.cell_contents) for cell in closure])
    except ValueError:  # an empty cell: a variable not bound yet
        return None
