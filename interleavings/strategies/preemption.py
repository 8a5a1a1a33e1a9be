"""A wrapper that caps the preemptions of each execution (CHESS's context bound)."""

from __future__ import annotations

from typing import Any

from interleavings.execution import Decision


class PreemptionBound:
    def __init__(self, inner: Any, bound: int) -> None:
        self.inner = inner
        self.bound = bound
        self._used = 0

    def begin(self) -> bool:
        self._used = 0
        return self.inner.begin()

    def choose(self, decision: Decision) -> int:
        if decision.current_runnable and self._used >= self.bound:
            return 0
        choice = self.inner.choose(decision)
        if decision.current_runnable and choice != 0:
            self._used += 1
        return choice

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class DelayBound(PreemptionBound):
    """Delay bounding (Emmi, Qadeer, Rakamaric, POPL'11): every deviation from the default
    schedule counts, preemptive or not, so bounded DFS stays polynomial in the run length."""

    def choose(self, decision: Decision) -> int:
        if self._used >= self.bound:
            return 0
        choice = self.inner.choose(decision)
        if choice != 0:
            self._used += 1
        return choice
