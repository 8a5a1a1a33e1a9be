"""`concurrent.futures.Future` and `ThreadPoolExecutor` over logical threads.

Behaviour the SDK depends on is kept exactly: `add_done_callback` runs the callback inline on
the calling thread when the future is already done; `set_result` runs callbacks on the worker;
`shutdown(wait=False, cancel_futures=True)` cancels queued work and returns at once; `submit`
after shutdown raises RuntimeError.
"""

from __future__ import annotations

import concurrent.futures as _std
from collections import deque
from collections.abc import Callable
from typing import Any

from interleavings.execution import Wait, require
from interleavings.thread import Thread

CancelledError = _std.CancelledError
TimeoutError = _std.TimeoutError

PENDING, RUNNING, CANCELLED, FINISHED = "PENDING", "RUNNING", "CANCELLED", "FINISHED"


class Future:
    def __init__(self) -> None:
        self._state = PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[Future], Any]] = []
        self._name = require().label(self, "Future")
        self.inline_callback = False  # True while add_done_callback runs a callback inline

    def _done(self) -> bool:
        return self._state in (CANCELLED, FINISHED)

    def done(self) -> bool:
        return self._done()

    def running(self) -> bool:
        return self._state == RUNNING

    def cancelled(self) -> bool:
        return self._state == CANCELLED

    def cancel(self) -> bool:
        ex = require()
        ex._point("cancel", self._name, self._state)
        if self._state in (RUNNING, FINISHED):
            return False
        if self._state == CANCELLED:
            return True
        self._state = CANCELLED
        self._invoke_callbacks()
        return True

    def set_running_or_notify_cancel(self) -> bool:
        if self._state == CANCELLED:
            return False
        self._state = RUNNING
        return True

    def set_result(self, result: Any) -> None:
        require()._point("set_result", self._name)
        self._result, self._state = result, FINISHED
        self._invoke_callbacks()

    def set_exception(self, exception: BaseException) -> None:
        require()._point("set_exception", self._name, type(exception).__name__)
        self._exception, self._state = exception, FINISHED
        self._invoke_callbacks()

    def _invoke_callbacks(self) -> None:
        for fn in self._callbacks:
            try:
                fn(self)
            except Exception as exc:  # CPython logs and swallows callback errors; so do we
                _swallowed(exc)

    def add_done_callback(self, fn: Callable[[Future], Any]) -> None:
        ex = require()
        ex._point("add_done_callback", self._name, self._state)
        if not self._done():
            self._callbacks.append(fn)
            return
        self.inline_callback = True
        try:
            fn(self)
        except Exception as exc:
            _swallowed(exc)
        finally:
            self.inline_callback = False

    def _wait_done(self, timeout: float | None) -> None:
        ex = require()
        if self._done():
            return
        deadline = None if timeout is None else ex.clock.now + timeout
        if not ex.block(Wait(f"result {self._name}", self._done, deadline), obj=self._name):
            raise TimeoutError()

    def result(self, timeout: float | None = None) -> Any:
        require()._point("result", self._name, self._state)
        self._wait_done(timeout)
        if self._state == CANCELLED:
            raise CancelledError()
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        require()._point("exception", self._name, self._state)
        self._wait_done(timeout)
        if self._state == CANCELLED:
            raise CancelledError()
        return self._exception


def _swallowed(exc: Exception) -> None:
    """CPython logs a callback's exception and carries on; we put it in the trace."""
    require()._point("callback_error", type(exc).__name__, str(exc)[:60])


class ThreadPoolExecutor:
    """Workers start lazily, one per submit while none is idle, up to `max_workers`."""

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        ex = require()
        if max_workers is None:
            max_workers = 4
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        self._max_workers = max_workers
        self._name = ex.label(self, "Pool")
        self._prefix = thread_name_prefix or f"{self._name}-worker"
        self._queue: deque[tuple[Future, Callable[..., Any], tuple, dict]] = deque()
        self._workers: list[Thread] = []
        self._idle = 0
        self._shutdown = False
        self._initializer = initializer
        self._initargs = initargs

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        ex = require()
        ex._point("submit", self._name)
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future = Future()
        self._queue.append((future, fn, args, kwargs))
        if self._idle < len(self._queue) and len(self._workers) < self._max_workers:
            worker = Thread(
                target=self._work, name=f"{self._prefix}_{len(self._workers)}", daemon=False
            )
            self._workers.append(worker)
            worker.start()
        return future

    def _work(self) -> None:
        ex = require()
        if self._initializer is not None:
            self._initializer(*self._initargs)
        while True:
            if not self._queue:
                if self._shutdown:
                    return
                self._idle += 1
                try:
                    ex._point("idle", self._name)
                    ex.block(
                        Wait(f"work {self._name}", lambda: bool(self._queue) or self._shutdown)
                    )
                finally:
                    self._idle -= 1
                continue
            future, fn, args, kwargs = self._queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            ex._point("run", future._name)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        ex = require()
        ex._point("shutdown", self._name, f"wait={wait} cancel_futures={cancel_futures}")
        self._shutdown = True
        if cancel_futures:
            while self._queue:
                future, *_ = self._queue.popleft()
                future.cancel()
        if wait:
            for worker in self._workers:
                worker.join()

    def map(self, fn: Callable[..., Any], *iterables: Any, timeout: float | None = None) -> Any:
        futures = [self.submit(fn, *args) for args in zip(*iterables)]
        return (f.result(timeout) for f in futures)

    def __enter__(self) -> ThreadPoolExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown(wait=True)
