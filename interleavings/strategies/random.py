"""Uniform random walk over runnable threads, from a seed (same seed, same run)."""

from __future__ import annotations

import random as _random

from interleavings.execution import Decision


class RandomWalk:
    def __init__(self, seed: int = 0, preempt_probability: float | None = None) -> None:
        self._rng = _random.Random(seed)
        self.p = preempt_probability

    def begin(self) -> bool:
        return True

    def choose(self, decision: Decision) -> int:
        n = len(decision.options)
        if self.p is not None and decision.current_runnable:
            return 0 if self._rng.random() >= self.p else self._rng.randrange(1, n)
        return self._rng.randrange(n)
