"""Replays a recorded choice sequence; past its end it never preempts."""

from __future__ import annotations

from interleavings.execution import Decision


class Replay:
    def __init__(self, choices: list[int]) -> None:
        self.choices = list(choices)
        self._pos = 0
        self.diverged: str | None = None

    def begin(self) -> bool:
        self._pos = 0
        return True

    def choose(self, decision: Decision) -> int:
        if self._pos >= len(self.choices):
            return 0
        choice = self.choices[self._pos]
        self._pos += 1
        if choice >= len(decision.options):
            self.diverged = (
                f"decision {self._pos - 1} offers {len(decision.options)} options, "
                f"the file chose {choice}"
            )
            return 0
        return choice
