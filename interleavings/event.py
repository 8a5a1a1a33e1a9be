"""`threading.Event`, with timed waits in virtual time."""

from __future__ import annotations

from interleavings.execution import Wait, require


class Event:
    def __init__(self) -> None:
        self._flag = False
        self._name = require().label(self, "Event")

    def is_set(self) -> bool:
        require()._point("is_set", self._name, str(self._flag))
        return self._flag

    isSet = is_set

    def set(self) -> None:
        require()._point("set", self._name)
        self._flag = True

    def clear(self) -> None:
        require()._point("clear", self._name)
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        ex = require()
        ex._point("wait", self._name, "" if timeout is None else f"timeout={timeout:g}")
        if self._flag:
            return True
        deadline = None if timeout is None else ex.clock.now + max(timeout, 0.0)
        ex.block(Wait(f"wait {self._name}", lambda: self._flag, deadline), obj=self._name)
        return self._flag
