"""Uniform random walk over runnable threads, from a seed (same seed, same run)."""

from __future__ import annotations

import random as _random

from interleavings.execution import Decision


class RandomWalk:
    def __init__(self, seed: int = 0, preempt_probability: float | None = None) -> None:
        self._rng = _random.Random(seed)
        self.p = preempt_probability
        self._getrandbits = self._rng.getrandbits
        # `randrange(n)` draws with this method on every Python this project supports; the
        # inlined copy in `choose` is used only when that still holds.
        self._fast = type(self._rng)._randbelow is _random.Random._randbelow_with_getrandbits

    def begin(self) -> bool:
        return True

    def choose(self, decision: Decision) -> int:
        n = len(decision[1])  # decision.options
        if self.p is not None and decision[3]:  # decision.current_runnable
            return 0 if self._rng.random() >= self.p else self._rng.randrange(1, n)
        if n > 0 and self._fast:
            # `randrange(n)` for n > 0, inlined: `random.Random._randbelow_with_getrandbits`
            getrandbits = self._getrandbits
            k = n.bit_length()
            r = getrandbits(k)
            while r >= n:
                r = getrandbits(k)
            return r
        return self._rng.randrange(n)
