"""Virtual time: it moves only when the execution says so, so hours cost nothing."""

from __future__ import annotations

# time.time() starts here so the code under test sees realistic epoch timestamps.
EPOCH = 1_700_000_000.0


class VirtualClock:
    """Monotonic virtual seconds since the start, plus a wall-clock offset for clock faults.

    `now` is what timed waits use; `wall()` is what `time.time()` returns, and a fault may step
    it backwards or forwards without moving `now` (the SDK mixes both readings).
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.wall_offset = 0.0

    def advance_to(self, t: float) -> None:
        if t > self.now:
            self.now = t

    def wall(self) -> float:
        return EPOCH + self.now + self.wall_offset

    def step_wall(self, delta: float) -> None:
        """A wall-clock fault: NTP or a VM pause moves time.time() by `delta` seconds."""
        self.wall_offset += delta
