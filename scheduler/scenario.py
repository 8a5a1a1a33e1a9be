"""A scenario: everything about one executor run that is not the interleaving.

Branch scripts, the completion configuration, `max_concurrency`, refresh latencies and faults,
and wall-clock faults. Scenarios are plain data so a replay file can carry one as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# What one attempt of a branch ends with.
ATTEMPT_KINDS = (
    "value",  # returns a value: the branch completes
    "error",  # raises an Exception: the branch fails
    "timed",  # raises TimedSuspendExecution(now + delay): resumes in-process
    "suspend",  # raises SuspendExecution: waits for an external callback
    "orphan",  # OrphanedChildException if the parent already returned, else a value
    "checkpoint_failure",  # the checkpoint subsystem fails here: BackgroundThreadError, sticky
)


@dataclass(frozen=True)
class Attempt:
    kind: str = "value"
    delay: float = 0.0  # for "timed": seconds from now until the resume is due (may be <= 0)
    duration: float = 0.0  # virtual seconds the attempt works before its outcome
    points: int = 0  # extra scheduling points inside the body (work between reads)

    def __post_init__(self) -> None:
        if self.kind not in ATTEMPT_KINDS:
            raise ValueError(f"unknown attempt kind {self.kind!r}")


@dataclass(frozen=True)
class Scenario:
    branches: tuple[tuple[Attempt, ...], ...]
    min_successful: int | None = None
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: float | None = None
    max_concurrency: int | None = None
    refresh_latency: tuple[float, ...] = (0.0,)  # per refresh call; the last value repeats
    refresh_failures: tuple[int, ...] = ()  # 1-based refresh calls that fail terminally
    clock_steps: tuple[tuple[float, float], ...] = ()  # (virtual time, wall-clock jump)
    eager_time: bool = False  # the interleaving may also choose when a timed wait comes due

    def attempt(self, branch: int, number: int) -> Attempt:
        """The script of attempt `number` (1-based); past the script a branch completes."""
        script = self.branches[branch]
        return script[number - 1] if number <= len(script) else Attempt("value")

    def latency(self, call: int) -> float:
        lat = self.refresh_latency or (0.0,)
        return lat[min(call, len(lat)) - 1]

    def idle_limit(self) -> float:
        """Virtual seconds without progress after which only timed polling is left: a hang.

        Longer than any single wait a correct run makes (a keeper's work, a resume delay, a
        refresh round trip, the time until a clock fault), so only a stuck run reaches it.
        """
        waits = [a.duration for s in self.branches for a in s]
        waits += [a.delay for s in self.branches for a in s]
        waits += list(self.refresh_latency) + [t for t, _ in self.clock_steps]
        return 10.0 + max(waits, default=0.0)

    def horizon(self) -> float:
        """A virtual time by which any correct run has long finished: past it is a hang."""
        work = sum(a.duration + max(a.delay, 0.0) for s in self.branches for a in s)
        refresh = sum(self.refresh_latency) + max(self.refresh_latency or (0.0,)) * 64
        clock = sum(abs(d) for _, d in self.clock_steps)
        return 120.0 + work + refresh + clock

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scenario:
        branches = tuple(tuple(Attempt(**a) for a in script) for script in data["branches"])
        return cls(
            branches=branches,
            min_successful=data.get("min_successful"),
            tolerated_failure_count=data.get("tolerated_failure_count"),
            tolerated_failure_percentage=data.get("tolerated_failure_percentage"),
            max_concurrency=data.get("max_concurrency"),
            refresh_latency=tuple(data.get("refresh_latency", (0.0,))),
            refresh_failures=tuple(data.get("refresh_failures", ())),
            clock_steps=tuple(tuple(s) for s in data.get("clock_steps", ())),  # type: ignore[misc]
            eager_time=bool(data.get("eager_time", False)),
        )


def keeper_and_pollers(
    pollers: int = 2, polls: int = 2, delay: float = 2.0, keeper: float = 18.0
) -> Scenario:
    """The upstream issue's map: branch 0 keeps the map in-process, the others poll on a timer."""
    keep = (Attempt("value", duration=keeper),)
    poll = (*(Attempt("timed", delay=delay) for _ in range(polls)), Attempt("value"))
    return Scenario(branches=(keep, *((poll,) * pollers)))


def describe(scenario: Scenario) -> str:
    """One line a reviewer reads: each branch's script, then the configuration and faults."""

    def attempt(a: Attempt) -> str:
        text = a.kind
        if a.kind == "timed":
            text += f"{a.delay:+g}s"
        if a.duration:
            text += f" after {a.duration:g}s"
        if a.points:
            text += f" ({a.points} pts)"
        return text

    parts = [f"b{i}=[{', '.join(attempt(a) for a in s)}]" for i, s in enumerate(scenario.branches)]
    config = {
        "min_successful": scenario.min_successful,
        "tolerated_failure_count": scenario.tolerated_failure_count,
        "tolerated_failure_percentage": scenario.tolerated_failure_percentage,
        "max_concurrency": scenario.max_concurrency,
    }
    parts += [f"{k}={v}" for k, v in config.items() if v is not None]
    if any(scenario.refresh_latency):
        parts.append(f"refresh latency {'/'.join(f'{x:g}s' for x in scenario.refresh_latency)}")
    if scenario.refresh_failures:
        parts.append(f"refresh call {','.join(map(str, scenario.refresh_failures))} fails")
    parts += [f"wall clock {d:+g}s at t={t:g}" for t, d in scenario.clock_steps]
    if scenario.eager_time:
        parts.append("eager time")
    return "; ".join(parts)
