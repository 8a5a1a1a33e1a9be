"""`threading.Lock` and `RLock`. A non-reentrant lock re-acquired by its owner blocks forever,
exactly like CPython's, so a self-deadlock is a finding and not a crash."""

from __future__ import annotations

from typing import Any

from interleavings import execution as _execution
from interleavings.execution import ThreadState, Wait, require


class Lock:
    def __init__(self) -> None:
        self.owner_state: ThreadState | None = None
        self._name = require().label(self, "Lock")
        self._untimed: Wait | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        ex = _execution._active
        if ex is None:
            ex = require()  # raises
        ex._point("acquire", self._name)
        if self.owner_state is None:
            self.owner_state = ex.current
            return True
        if not blocking:
            return False
        got = ex.block(_acquire_wait(self, ex, timeout), obj=self._name)
        if got:
            self.owner_state = ex.current
        return got

    def release(self) -> None:
        ex = _execution._active
        if ex is None:
            ex = require()  # raises
        if ex.finishing:  # unwinding: a `finally` may release what an aborted wait never took
            self.owner_state = None
            return
        if self.owner_state is None:
            raise RuntimeError("release unlocked lock")
        ex._point("release", self._name)
        self.owner_state = None

    def locked(self) -> bool:
        return self.owner_state is not None

    def held_by_current(self) -> bool:
        ex = require()
        return self.owner_state is ex.current

    # `with lock:` runs `acquire` itself (as CPython's lock does), and `__exit__` is
    # `release` inlined: one Python frame less per call, and no frame of this module between
    # the caller and the scheduling point to step over when finding the caller's location.
    __enter__ = acquire

    def __exit__(self, *exc: Any) -> None:
        ex = _execution._active
        if ex is None:
            ex = require()  # raises
        if ex.finishing:  # as in `release`
            self.owner_state = None
            return
        if self.owner_state is None:
            raise RuntimeError("release unlocked lock")
        ex._point("release", self._name)
        self.owner_state = None


class RLock:
    def __init__(self) -> None:
        self.owner_state: ThreadState | None = None
        self._count = 0
        self._name = require().label(self, "RLock")
        self._untimed: Wait | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        ex = require()
        ex._point("acquire", self._name)
        if self.owner_state is ex.current:
            self._count += 1
            return True
        if self.owner_state is None:
            self.owner_state, self._count = ex.current, 1
            return True
        if not blocking:
            return False
        got = ex.block(_acquire_wait(self, ex, timeout), obj=self._name)
        if got:
            self.owner_state, self._count = ex.current, 1
        return got

    def release(self) -> None:
        ex = require()
        if self.owner_state is not ex.current:
            if ex.finishing:  # unwinding: as for Lock.release
                return
            raise RuntimeError("cannot release un-acquired lock")
        if not ex.finishing:
            ex._point("release", self._name)
        self._count -= 1
        if self._count == 0:
            self.owner_state = None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _acquire_wait(lock: Lock | RLock, ex: Any, timeout: float | None) -> Wait:
    """What a blocked `acquire` waits for. Without a timeout it is the same every time, so it
    is built once per lock (a `Wait` is never changed once made)."""
    if timeout is None or timeout < 0:
        wait = lock._untimed
        if wait is None:
            wait = lock._untimed = Wait(
                f"acquire {lock._name}", lambda: lock.owner_state is None, None, lock=lock
            )
        return wait
    return Wait(
        f"acquire {lock._name}", lambda: lock.owner_state is None, ex.clock.now + timeout, lock=lock
    )
