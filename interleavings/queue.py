"""`queue.Queue` and `queue.Empty`: the 2.x executor's event channel."""

from __future__ import annotations

import queue as _std_queue
from collections import deque
from typing import Any

from interleavings.execution import Wait, require

Empty = _std_queue.Empty
Full = _std_queue.Full


class Queue:
    def __init__(self, maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self._items: deque[Any] = deque()
        self._unfinished = 0
        self._name = require().label(self, "Queue")

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        ex = require()
        ex._point("put", self._name)
        if self.maxsize > 0 and len(self._items) >= self.maxsize:
            if not block:
                raise Full
            deadline = None if timeout is None else ex.clock.now + timeout
            ok = ex.block(
                Wait(f"put {self._name}", lambda: len(self._items) < self.maxsize, deadline)
            )
            if not ok:
                raise Full
        self._items.append(item)
        self._unfinished += 1

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        ex = require()
        ex._point("get", self._name, "" if timeout is None else f"timeout={timeout:g}")
        if not self._items:
            if not block:
                raise Empty
            deadline = None if timeout is None else ex.clock.now + max(timeout, 0.0)
            if not ex.block(Wait(f"get {self._name}", lambda: bool(self._items), deadline)):
                raise Empty
        return self._items.popleft()

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return self.maxsize > 0 and len(self._items) >= self.maxsize

    def task_done(self) -> None:
        self._unfinished -= 1

    def join(self) -> None:
        ex = require()
        ex._point("join", self._name)
        ex.block(Wait(f"join {self._name}", lambda: self._unfinished <= 0))


SimpleQueue = Queue
