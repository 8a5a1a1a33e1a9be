"""Bounded exhaustive depth-first search over choice sequences (stateless, by re-execution).

Wrapped in `PreemptionBound(DFS(), k)` it is iterative context bounding as in CHESS: every
schedule with at most k preemptions, each exactly once.
"""

from __future__ import annotations

from interleavings.execution import Decision


class DivergenceError(RuntimeError):
    """A replayed prefix offered different options: the body is not deterministic."""


class DFS:
    def __init__(self) -> None:
        self._stack: list[list[int]] = []  # [choice, options] per consulted decision
        self._pos = 0
        self._started = False
        self.executions = 0

    def begin(self) -> bool:
        if self._started and not self._backtrack():
            return False
        self._started = True
        self._pos = 0
        self.executions += 1
        return True

    def _backtrack(self) -> bool:
        del self._stack[self._pos :]
        while self._stack and self._stack[-1][0] + 1 >= self._stack[-1][1]:
            self._stack.pop()
        if not self._stack:
            return False
        self._stack[-1][0] += 1
        return True

    def choose(self, decision: Decision) -> int:
        n = len(decision.options)
        if self._pos < len(self._stack):
            choice, options = self._stack[self._pos]
            if options != n:
                raise DivergenceError(f"decision {self._pos} had {options} options before, {n} now")
        else:
            choice = 0
            self._stack.append([0, n])
        self._pos += 1
        return choice
