"""`threading.Thread` and friends, as logical threads of the active execution."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from interleavings.execution import ThreadState, Wait, require

_counter = itertools.count(1)


class Thread:
    """Mirrors `threading.Thread`: start, join(timeout), daemon, name, ident, is_alive."""

    def __init__(
        self,
        group: None = None,
        target: Callable[..., Any] | None = None,
        name: str | None = None,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        daemon: bool | None = None,
    ) -> None:
        ex = require()
        self._target = target
        self._args = args
        self._kwargs = kwargs or {}
        if name:
            name = str(name)
        else:  # as CPython names it; a partial or a callable object has no __name__
            ex.thread_names += 1
            name = f"Thread-{ex.thread_names}"
            target_name = getattr(target, "__name__", None)
            if target is not None and isinstance(target_name, str):
                name += f" ({target_name})"
        parent = ex.current
        self.daemon = bool(parent.daemon if daemon is None and parent else daemon)
        self.name = name
        self._state: ThreadState | None = None
        self._started = False

    def run(self) -> None:
        if self._target is not None:
            self._target(*self._args, **self._kwargs)

    def start(self) -> None:
        ex = require()
        if self._started:
            raise RuntimeError("threads can only be started once")
        self._started = True
        ex._point("start", self.name)
        self._state = ex.new_thread(self.name, self.daemon, handle=self)
        ex.start_thread(self._state, self.run)

    def join(self, timeout: float | None = None) -> None:
        ex = require()
        if not self._started:
            raise RuntimeError("cannot join thread before it is started")
        state = self._state
        assert state is not None
        ex._point("join", self.name, "" if timeout is None else f"timeout={timeout}")
        deadline = None if timeout is None else ex.clock.now + timeout
        ex.block(Wait(f"join {self.name}", lambda: state.done, deadline), obj=self.name)

    def is_alive(self) -> bool:
        return self._started and self._state is not None and not self._state.done

    @property
    def ident(self) -> int | None:
        return None if self._state is None else self._state.tid + 1

    native_id = ident

    def getName(self) -> str:
        return self.name

    def isDaemon(self) -> bool:
        return self.daemon


class _MainHandle(Thread):
    """What `current_thread()` returns for a logical thread not created through `Thread`."""

    def __init__(self, state: ThreadState) -> None:
        self.name = state.name
        self.daemon = state.daemon
        self._state = state
        self._started = True
        self._target = None
        self._args = ()
        self._kwargs = {}


def current_thread() -> Thread:
    ex = require()
    ts = ex.current
    assert ts is not None
    if ts.handle is None:
        ts.handle = _MainHandle(ts)
    return ts.handle


def get_ident() -> int:
    ex = require()
    assert ex.current is not None
    return ex.current.tid + 1


def main_thread() -> Thread:
    ex = require()
    ts = ex.threads[0]
    if ts.handle is None:
        ts.handle = _MainHandle(ts)
    return ts.handle
