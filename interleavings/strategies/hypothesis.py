"""Hypothesis chooses: every decision is a draw, 0 = keep the current thread.

Draws come from the same test case as the rules and the scenario, so one shrinker minimises the
program and the preemptions together. Use `draw` from `st.composite` or `st.data().draw`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from interleavings.execution import Decision

# Out of 16, how many draw values preempt a runnable thread. Shrinking moves towards 0.
_PREEMPT_GATE = st.integers(0, 15)


class HypothesisStrategy:
    def __init__(self, draw: Callable[[Any], Any], preempt_weight: int = 2) -> None:
        self._draw = draw
        self.preempt_weight = preempt_weight

    def begin(self) -> bool:
        return True

    def choose(self, decision: Decision) -> int:
        n = len(decision.options)
        if decision.current_runnable:
            if self._draw(_PREEMPT_GATE) < 16 - self.preempt_weight:
                return 0
            return self._draw(st.integers(1, n - 1))
        return self._draw(st.integers(0, n - 1))
