"""Classic concurrency bugs, each as a buggy and a corrected program, plus small behaviours.

Everything here is written against the REAL stdlib (`threading`, `time`,
`concurrent.futures`): it runs under the runtime only because a test wraps it in
`patched(classic)`, which is the point: the checker must find bugs in unmodified threaded code.
Each program builds its own state when called (controlled primitives exist only inside an
execution) and raises, crashes a thread, deadlocks or hangs exactly when its bug shows.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


def _run_all(*targets: Callable[[], Any]) -> None:
    """Start one thread per target, then join them all: the shape of every program here."""
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# ----------------------------------------------------------------------------- lost update
class Counter:
    """Unsynchronized: `+=` reads, then writes, and another thread may write in between."""

    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        self.value += 1

    def increment_in_steps(self) -> None:
        """The same update on two lines, so that line granularity can split it."""
        current = self.value
        self.value = current + 1


class LockedCounter(Counter):
    """The fix: the read and the write happen under one lock."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def increment(self) -> None:
        with self._lock:
            self.value += 1

    def increment_in_steps(self) -> None:
        with self._lock:
            current = self.value
            self.value = current + 1


def _count_twice(counter: Counter, in_steps: bool) -> None:
    work = counter.increment_in_steps if in_steps else counter.increment
    _run_all(work, work)
    assert counter.value == 2, f"lost update: two increments left value={counter.value}"


def lost_update(*, in_steps: bool = False) -> None:
    _count_twice(Counter(), in_steps)


def lost_update_fixed(*, in_steps: bool = False) -> None:
    _count_twice(LockedCounter(), in_steps)


# ----------------------------------------------------------------------------- lock order
class Bank:
    """Two accounts, one lock each; a transfer holds both locks."""

    def __init__(self) -> None:
        self.a_lock = threading.Lock()
        self.b_lock = threading.Lock()
        self.a = 100
        self.b = 100

    def a_to_b(self, amount: int) -> None:
        with self.a_lock, self.b_lock:
            self.a -= amount
            self.b += amount

    def b_to_a_wrong_order(self, amount: int) -> None:
        """Takes B then A while `a_to_b` takes A then B: the AB/BA deadlock."""
        with self.b_lock, self.a_lock:
            self.b -= amount
            self.a += amount

    def b_to_a(self, amount: int) -> None:
        """The fix: every transfer takes the locks in one global order."""
        with self.a_lock, self.b_lock:
            self.b -= amount
            self.a += amount


def lock_order_deadlock() -> None:
    bank = Bank()
    _run_all(lambda: bank.a_to_b(10), lambda: bank.b_to_a_wrong_order(20))
    assert bank.a + bank.b == 200


def lock_order_fixed() -> None:
    bank = Bank()
    _run_all(lambda: bank.a_to_b(10), lambda: bank.b_to_a(20))
    assert bank.a + bank.b == 200


# ----------------------------------------------------------------------------- missed wakeup
class Mailbox:
    """One message handed from a producer to a consumer through a Condition."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.ready = False
        self.message: str | None = None

    def post(self, message: str) -> None:
        with self.cond:
            self.message = message
            self.ready = True
            self.cond.notify_all()

    def receive_racy(self) -> str | None:
        """Checks the flag without the lock: a post right after the check notifies nobody,
        and the wait that follows never ends."""
        if not self.ready:
            with self.cond:
                self.cond.wait()
        return self.message

    def receive(self) -> str | None:
        """The fix: check and wait under the lock, in a loop."""
        with self.cond:
            while not self.ready:
                self.cond.wait()
            return self.message


def _hand_over(receive: Callable[[Mailbox], str | None]) -> None:
    box = Mailbox()
    got: list[str | None] = []
    _run_all(lambda: got.append(receive(box)), lambda: box.post("hello"))
    assert got == ["hello"], f"received {got}"


def missed_wakeup() -> None:
    _hand_over(Mailbox.receive_racy)


def missed_wakeup_fixed() -> None:
    _hand_over(Mailbox.receive)


# ----------------------------------------------------------------------------- check-then-act
class Registry:
    """A lazily filled cache that must create exactly one object per key."""

    def __init__(self) -> None:
        self.items: dict[str, list[str]] = {}
        self.created = 0
        self._stats_lock = threading.Lock()
        self._create_lock = threading.Lock()

    def _make(self, key: str) -> list[str]:
        with self._stats_lock:  # the work between the check and the act
            self.created += 1
        return [key]

    def get_racy(self, key: str) -> list[str]:
        if key not in self.items:  # the check, lock-free
            self.items[key] = self._make(key)  # the act, after other work
        return self.items[key]

    def get(self, key: str) -> list[str]:
        """The fix: the check and the act under one lock."""
        with self._create_lock:
            if key not in self.items:
                self.items[key] = self._make(key)
            return self.items[key]


def _get_twice(get: Callable[[Registry, str], list[str]]) -> None:
    registry = Registry()
    got: list[list[str]] = []
    _run_all(
        lambda: got.append(get(registry, "config")), lambda: got.append(get(registry, "config"))
    )
    assert registry.created == 1, f"check-then-act: {registry.created} objects created for one key"
    assert got[0] is got[1]


def check_then_act() -> None:
    _get_twice(Registry.get_racy)


def check_then_act_fixed() -> None:
    _get_twice(Registry.get)


# ----------------------------------------------------------------------------- double-checked init
class Connection:
    def __init__(self) -> None:
        self.open = False
        self._lock = threading.Lock()

    def connect(self) -> None:
        with self._lock:
            self.open = True

    def query(self) -> str:
        if not self.open:
            raise RuntimeError("query on a connection that is not open yet")
        return "row"


class LazyConnection:
    """One shared connection, created on first use behind a double-checked lock."""

    def __init__(self) -> None:
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def get_racy(self) -> Connection:
        """Publishes the connection before connecting it: the lock-free first check of
        another thread can return it half-initialised."""
        if self._conn is None:
            with self._lock:
                if self._conn is None:
                    self._conn = Connection()
                    self._conn.connect()
        return self._conn

    def get(self) -> Connection:
        """The fix: build completely, then publish."""
        if self._conn is None:
            with self._lock:
                if self._conn is None:
                    conn = Connection()
                    conn.connect()
                    self._conn = conn
        return self._conn


def _query_twice(get: Callable[[LazyConnection], Connection]) -> None:
    lazy = LazyConnection()
    _run_all(lambda: get(lazy).query(), lambda: get(lazy).query())


def double_checked_init() -> None:
    _query_twice(LazyConnection.get_racy)


def double_checked_init_fixed() -> None:
    _query_twice(LazyConnection.get)


# ----------------------------------------------------------------------------- done-callback
def square(x: int) -> int:
    return x * x


class Tracker:
    """Counts finished jobs under a plain, non-reentrant Lock."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self.pending = 0
        self.results: list[int] = []

    def _on_done(self, future: Future[int]) -> None:
        with self._lock:
            self.pending -= 1
            self.results.append(future.result())

    def start_racy(self, x: int) -> None:
        """Registers the callback under the lock. If the worker has already finished, the
        callback runs inline, on this thread, and re-acquires the lock this thread holds."""
        with self._lock:
            self.pending += 1
            future = self._pool.submit(square, x)
            future.add_done_callback(self._on_done)

    def start(self, x: int) -> None:
        """The fix: register the callback after releasing the lock."""
        with self._lock:
            self.pending += 1
            future = self._pool.submit(square, x)
        future.add_done_callback(self._on_done)


def _track(start: Callable[[Tracker, int], None]) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        tracker = Tracker(pool)
        start(tracker, 3)
    assert tracker.results == [9] and tracker.pending == 0


def done_callback_reentry() -> None:
    _track(Tracker.start_racy)


def done_callback_reentry_fixed() -> None:
    _track(Tracker.start)


# Every bug: name -> (buggy program, corrected program).
BUGS: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
    "lost_update": (lost_update, lost_update_fixed),
    "lock_order": (lock_order_deadlock, lock_order_fixed),
    "missed_wakeup": (missed_wakeup, missed_wakeup_fixed),
    "check_then_act": (check_then_act, check_then_act_fixed),
    "double_checked_init": (double_checked_init, double_checked_init_fixed),
    "done_callback": (done_callback_reentry, done_callback_reentry_fixed),
}


# ----------------------------------------------------------------------------- behaviours
def sleep_an_hour() -> float:
    """A thread sleeps for an hour; returns the clock reading once it has been joined."""
    sleeper = threading.Thread(target=time.sleep, args=(3600,), name="sleeper")
    sleeper.start()
    sleeper.join()
    return time.monotonic()


def timed_waits() -> dict[str, Any]:
    """A timed Event.wait and a Thread.join(timeout) that both give up in virtual time."""
    never = threading.Event()
    start = time.monotonic()
    flag = never.wait(2.5)
    waited = time.monotonic() - start
    sleeper = threading.Thread(target=time.sleep, args=(100,), name="sleeper")
    sleeper.start()
    sleeper.join(timeout=5)
    return {
        "flag": flag,
        "waited": waited,
        "joined_at": time.monotonic(),
        "alive_after_join": sleeper.is_alive(),
    }


def poll_forever() -> None:
    """Polls an event nobody sets: never blocked for good, never making progress."""
    stop = threading.Event()
    while not stop.wait(0.1):
        pass


def _fail() -> None:
    raise ValueError("boom in a worker thread")


def crash_in_thread() -> None:
    worker = threading.Thread(target=_fail, name="worker")
    worker.start()
    worker.join()


class Spinner:
    """Takes and drops a lock until told to stop, and nobody ever tells it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stop = False

    def spin(self) -> None:
        while not self.stop:
            with self.lock:
                pass


def livelock() -> None:
    spinner = Spinner()
    _run_all(spinner.spin, spinner.spin)


def callback_inline_when_done() -> None:
    """`add_done_callback` on a finished future runs the callback now, on this thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(square, 4)
        assert future.result() == 16
        seen: list[str] = []
        future.add_done_callback(lambda f: seen.append(threading.current_thread().name))
        assert seen == [threading.current_thread().name], seen


def cancel_on_shutdown() -> None:
    """`shutdown(wait=False, cancel_futures=True)` cancels queued work and returns at once."""
    started = threading.Event()
    release = threading.Event()

    def blocker() -> str:
        started.set()
        release.wait()
        return "done"

    pool = ThreadPoolExecutor(max_workers=1)
    first = pool.submit(blocker)
    started.wait()
    queued = [pool.submit(square, n) for n in range(3)]
    pool.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued), [f.done() for f in queued]
    assert not first.done()
    release.set()
    assert first.result() == "done"


def submit_after_shutdown() -> str:
    """`submit` after `shutdown` raises RuntimeError; returns its message."""
    pool = ThreadPoolExecutor(max_workers=2)
    pool.submit(square, 2)
    pool.shutdown(wait=True)
    try:
        pool.submit(square, 3)
    except RuntimeError as exc:
        return str(exc)
    raise AssertionError("submit after shutdown was accepted")


def _increment_many(counter: Counter, n: int) -> None:
    for _ in range(n):
        counter.increment()


def tight_loop(n: int = 200) -> None:
    """Two threads, `n` locked increments each: the benchmark's scheduling-point workload."""
    counter = LockedCounter()
    _run_all(lambda: _increment_many(counter, n), lambda: _increment_many(counter, n))
    assert counter.value == 2 * n


def self_deadlock() -> None:
    """Re-acquires a plain Lock it already holds: blocks forever, as CPython does."""
    lock = threading.Lock()
    with lock, lock:
        pass


class _Job:
    """A callable object: a thread target without a `__name__`."""

    def __call__(self) -> None:
        pass


def thread_names() -> list[str]:
    """The names of threads made the ways real code makes them (none is started)."""

    def work() -> None:
        pass

    threads = [
        threading.Thread(target=work),
        threading.Thread(target=functools.partial(square, 2)),
        threading.Thread(target=_Job()),
        threading.Thread(),
        threading.Thread(target=work, name="named"),
        threading.Thread(target=work, name=""),
    ]
    return [thread.name for thread in threads]
