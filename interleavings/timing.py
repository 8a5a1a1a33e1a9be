"""`time.time`, `monotonic`, `sleep` and `perf_counter` in virtual time.

Reading the clock is a scheduling point: code that reads the time and then acts on it is a
classic check-then-act window, and the timer thread of the SDK is exactly such code.
"""

from __future__ import annotations

from interleavings.execution import Wait, require


def time() -> float:
    ex = require()
    value = ex.clock.wall()
    ex._point("time", "", f"{value - 1_700_000_000.0:.3f}")
    return value


def time_ns() -> int:
    return int(time() * 1e9)


def monotonic() -> float:
    ex = require()
    ex._point("time", "monotonic")
    return ex.clock.now


perf_counter = monotonic


def sleep(seconds: float) -> None:
    ex = require()
    ex._point("sleep", "", f"{seconds:g}s")
    if seconds <= 0:
        return
    deadline = ex.clock.now + seconds
    ex.block(Wait(f"sleep {seconds:g}s", lambda: False, deadline), op="sleep")
