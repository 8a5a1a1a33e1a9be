"""`threading.Condition` over a controlled lock; notify wakes waiters in FIFO order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from interleavings.execution import Wait, require
from interleavings.lock import RLock


class Condition:
    def __init__(self, lock: Any = None) -> None:
        self._lock = lock if lock is not None else RLock()
        self._waiters: list[list[bool]] = []
        self._name = require().label(self, "Condition")

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def acquire(self, *args: Any) -> bool:
        return self._lock.acquire(*args)

    def release(self) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        ex = require()
        token = [False]
        self._waiters.append(token)
        ex._point("wait", self._name, "" if timeout is None else f"timeout={timeout:g}")
        saved = _release_all(self._lock)
        deadline = None if timeout is None else ex.clock.now + max(timeout, 0.0)
        try:
            notified = ex.block(Wait(f"wait {self._name}", lambda: token[0], deadline))
        finally:
            if token in self._waiters:
                self._waiters.remove(token)
            _reacquire(self._lock, saved)
        return notified

    def wait_for(self, predicate: Callable[[], Any], timeout: float | None = None) -> Any:
        ex = require()
        deadline = None if timeout is None else ex.clock.now + timeout
        result = predicate()
        while not result:
            remaining = None if deadline is None else deadline - ex.clock.now
            if remaining is not None and remaining <= 0:
                break
            self.wait(remaining)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        require()._point("notify", self._name, f"n={n}")
        for token in self._waiters[:n]:
            token[0] = True
        del self._waiters[:n]

    def notify_all(self) -> None:
        self.notify(len(self._waiters))

    notifyAll = notify_all


def _release_all(lock: Any) -> int:
    count = getattr(lock, "_count", 1)
    if hasattr(lock, "_count"):
        lock._count = 1
    lock.release()
    return count


def _reacquire(lock: Any, count: int) -> None:
    lock.acquire()
    if hasattr(lock, "_count"):
        lock._count = count
