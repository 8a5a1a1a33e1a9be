"""Replace `threading`, `time`, `queue` and `concurrent.futures` names inside chosen modules.

Only the named target modules see the controlled versions; the rest of the process (pytest,
Hypothesis, the stdlib) keeps the real ones. Every replacement is undone on exit, even when
the body raises.
"""

from __future__ import annotations

import concurrent.futures
import queue as std_queue
import threading as std_threading
import time as std_time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from interleavings import condition, event, futures, lock, thread, timing
from interleavings import queue as ctl_queue


class _Facade(types.SimpleNamespace):
    """A module look-alike: controlled names first, the real module for everything else."""

    def __init__(self, real: types.ModuleType, **names: Any) -> None:
        super().__init__(**names)
        object.__setattr__(self, "_real", real)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_real"), name)


threading = _Facade(
    std_threading,
    Lock=lock.Lock,
    RLock=lock.RLock,
    Event=event.Event,
    Condition=condition.Condition,
    Thread=thread.Thread,
    current_thread=thread.current_thread,
    currentThread=thread.current_thread,
    main_thread=thread.main_thread,
    get_ident=thread.get_ident,
)
time = _Facade(
    std_time,
    time=timing.time,
    time_ns=timing.time_ns,
    monotonic=timing.monotonic,
    perf_counter=timing.perf_counter,
    sleep=timing.sleep,
)
queue = _Facade(std_queue, Queue=ctl_queue.Queue, SimpleQueue=ctl_queue.SimpleQueue)
concurrent_futures = _Facade(
    concurrent.futures, Future=futures.Future, ThreadPoolExecutor=futures.ThreadPoolExecutor
)

# Every real object a target module may hold, mapped to its controlled replacement.
REPLACEMENTS: dict[int, Any] = {
    id(std_threading): threading,
    id(std_time): time,
    id(std_queue): queue,
    id(concurrent.futures): concurrent_futures,
    id(std_threading.Lock): lock.Lock,
    id(std_threading.RLock): lock.RLock,
    id(std_threading.Event): event.Event,
    id(std_threading.Condition): condition.Condition,
    id(std_threading.Thread): thread.Thread,
    id(std_threading.current_thread): thread.current_thread,
    id(std_time.time): timing.time,
    id(std_time.monotonic): timing.monotonic,
    id(std_time.sleep): timing.sleep,
    id(std_time.perf_counter): timing.perf_counter,
    id(std_queue.Queue): ctl_queue.Queue,
    id(concurrent.futures.Future): futures.Future,
    id(concurrent.futures.ThreadPoolExecutor): futures.ThreadPoolExecutor,
}


@contextmanager
def patched(*modules: types.ModuleType) -> Iterator[list[tuple[str, str]]]:
    """Swap the concurrency names of `modules` for controlled ones; yields what was swapped."""
    saved: list[tuple[types.ModuleType, str, Any]] = []
    swapped: list[tuple[str, str]] = []
    try:
        for module in modules:
            for name, value in list(vars(module).items()):
                replacement = REPLACEMENTS.get(id(value))
                if replacement is not None:
                    saved.append((module, name, value))
                    setattr(module, name, replacement)
                    swapped.append((module.__name__, name))
        yield swapped
    finally:
        for module, name, value in reversed(saved):
            setattr(module, name, value)
