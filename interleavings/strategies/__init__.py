"""Scheduling strategies, one per file (as in Shuttle): each answers `choose(decision)`.

Choice 0 always means "no preemption". Features such as a preemption bound are wrappers
(`preemption.PreemptionBound`), not flags inside a strategy.
"""

from interleavings.strategies.dfs import DFS
from interleavings.strategies.hypothesis import HypothesisStrategy
from interleavings.strategies.pct import PCT
from interleavings.strategies.preemption import DelayBound, PreemptionBound
from interleavings.strategies.random import RandomWalk
from interleavings.strategies.replay import Replay

__all__ = [
    "DFS",
    "PCT",
    "DelayBound",
    "HypothesisStrategy",
    "PreemptionBound",
    "RandomWalk",
    "Replay",
]
