"""A deterministic runtime for real threaded Python: it owns every thread switch and the clock.

Public front (mirrors the stdlib, as loom mirrors `std`): `threading`, `time`, `queue` and
`concurrent_futures` facades in `interleavings.patching`; `patched(*modules)` swaps them into
target modules. `Execution` runs one body under a strategy; `explore` drives many.
"""

from interleavings.execution import Execution, Outcome
from interleavings.explore import Exploration, default_check, explore, run_once
from interleavings.patching import patched

__all__ = [
    "Execution",
    "Exploration",
    "Outcome",
    "default_check",
    "explore",
    "patched",
    "run_once",
]
