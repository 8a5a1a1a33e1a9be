"""PCT (Burckhardt et al., ASPLOS 2010): random thread priorities plus d-1 change points.

A bug of depth d is found with probability at least 1/(n * k^(d-1)) per run, n threads and k
steps; `k` is learnt from the longest run seen so far.
"""

from __future__ import annotations

import random as _random

from interleavings.execution import Decision


class PCT:
    def __init__(self, seed: int = 0, depth: int = 2, max_steps: int = 200) -> None:
        self._rng = _random.Random(seed)
        self.depth = depth
        self.k = max_steps
        self._priority: dict[int, float] = {}
        self._changes: list[int] = []
        self._decisions = 0

    def begin(self) -> bool:
        self.k = max(self.k, self._decisions)
        self._priority = {}
        self._decisions = 0
        self._changes = sorted(self._rng.randrange(1, self.k + 1) for _ in range(self.depth - 1))
        return True

    def _prio(self, tid: int) -> float:
        if tid not in self._priority:
            self._priority[tid] = self.depth + self._rng.random()
        return self._priority[tid]

    def choose(self, decision: Decision) -> int:
        self._decisions += 1
        if self._decisions in self._changes and decision.current_runnable:
            low = self._changes.index(self._decisions) / max(1, len(self._changes))
            self._priority[decision.current] = low
        best = max(
            range(len(decision.options)),
            key=lambda i: (
                self._prio(decision.options[i]) if decision.options[i] >= 0 else -1.0,
                -i,
            ),
        )
        return best
