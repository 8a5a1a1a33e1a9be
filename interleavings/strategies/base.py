"""The interface every strategy implements."""

from __future__ import annotations

from typing import Protocol

from interleavings.execution import Decision


class Strategy(Protocol):
    def begin(self) -> bool:
        """Prepare the next execution; False when the strategy has nothing left to try."""

    def choose(self, decision: Decision) -> int:
        """Index into `decision.options`; 0 keeps the current thread."""
