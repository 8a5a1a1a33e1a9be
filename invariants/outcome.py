"""The outcome `execute()` reports agrees with the branch statuses and the completion config.

The completion rules below restate, in our own terms, how the SDK (1.x) decides that a map or
parallel is finished (`ExecutionCounters`) and which reason its result carries
(`BatchResult` completion reason), so that a returned result can be judged from the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from invariants.base import Violation, invariant
from invariants.scheduler_view import SchedulerView, branch_map, walk
from scheduler.record import ACTIVE_STATES, SUSPENDED_STATES, Event, Record

ITEM_FOR_STATUS = {"COMPLETED": "SUCCEEDED", "FAILED": "FAILED"}
"""Item status a branch reports by final status; every other status reports STARTED."""


@dataclass(frozen=True)
class CompletionConfig:
    """The map/parallel completion criteria, as recorded in `record.meta` (missing = None)."""

    min_successful: int | None = None
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: float | None = None

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> CompletionConfig:
        return cls(
            meta.get("min_successful"),
            meta.get("tolerated_failure_count"),
            meta.get("tolerated_failure_percentage"),
        )

    @property
    def has_tolerance(self) -> bool:
        return self.tolerated_failure_count is not None or (
            self.tolerated_failure_percentage is not None
        )

    def failures_exceed_tolerance(self, failed: int, total: int) -> bool:
        """More failures than a set count or percentage allows (False when neither is set)."""
        if self.tolerated_failure_count is not None and failed > self.tolerated_failure_count:
            return True
        if self.tolerated_failure_percentage is None or total <= 0:
            return False
        return (failed / total) * 100 > self.tolerated_failure_percentage


def is_finished(succeeded: int, failed: int, total: int, config: CompletionConfig) -> bool:
    """Whether the executor may stop waiting and return a result.

    It is done when every branch has completed or failed, when enough branches succeeded (the
    minimum defaults to all of them; 0 also means all), or when failures are no longer
    tolerated. With no tolerance configured, the first failure ends it (fail fast).
    """
    needed = config.min_successful or total
    if succeeded + failed == total or succeeded >= needed:
        return True
    if not config.has_tolerance:
        return failed > 0
    return config.failures_exceed_tolerance(failed, total)


def completion_reason(succeeded: int, failed: int, total: int, config: CompletionConfig) -> str:
    """The reason a result built from these counts carries.

    Exceeding the failure tolerance wins first. When no criterion at all is configured (not
    even a minimum), any failure counts as exceeding it. Otherwise the reason is ALL_COMPLETED
    when every branch finished, MIN_SUCCESSFUL_REACHED when a configured minimum was met, and
    ALL_COMPLETED by default.
    """
    if config.min_successful is None and not config.has_tolerance:
        if failed > 0:
            return "FAILURE_TOLERANCE_EXCEEDED"
    elif config.failures_exceed_tolerance(failed, total):
        return "FAILURE_TOLERANCE_EXCEEDED"
    if succeeded + failed == total:
        return "ALL_COMPLETED"
    if config.min_successful is not None and succeeded >= config.min_successful:
        return "MIN_SUCCESSFUL_REACHED"
    return "ALL_COMPLETED"


def _reason_name(reason: Any) -> str:
    """`CompletionReason.ALL_COMPLETED`, `ALL_COMPLETED` and `all_completed` name one reason."""
    return str(reason).rsplit(".", 1)[-1].upper()


@invariant
def outcome_matches_completion(record: Record) -> Violation | None:
    """What `execute()` reports at its exit agrees with the branches' statuses at that moment.

    The *exit* is the first `execute_return` or `execute_raise`; only it is judged. A branch's
    status there is the `new` of its latest `status` event (PENDING if none). Violated at the
    exit when:
    - `execute_return`: an item's status (`items`) is not its branch's status mapped COMPLETED ->
      SUCCEEDED, FAILED -> FAILED, anything else -> STARTED (a branch missing from `items`
      counts as a mismatch); or, by those statuses, the completion criteria in `record.meta`
      were not met (execute() returned with work still required); or a recorded `reason`
      differs from the reason those counts and criteria give;
    - `execute_raise` with `suspend` True: no branch is SUSPENDED or SUSPENDED_WITH_TIMEOUT, or
      some branch is PENDING or RUNNING.
    """
    config = CompletionConfig.from_meta(record.meta)
    for event, view in walk(record):
        if event.kind == "execute_return":
            return _judge_return(event, view, config, record.branches)
        if event.kind == "execute_raise":
            if event.get("suspend") is True:
                return _judge_suspend(event, view)
            return None
    return None


def _judge_return(
    event: Event, view: SchedulerView, config: CompletionConfig, branches: int
) -> Violation | None:
    items = branch_map(event.get("items"))
    indexes = sorted(set(range(branches)) | set(view.status))
    for b in indexes:
        expected = ITEM_FOR_STATUS.get(view.status_of(b), "STARTED")
        if items.get(b) != expected:
            return Violation(
                "outcome_matches_completion",
                f"branch {b} reported {items.get(b)} but its status at return was "
                f"{view.status_of(b)} (expected {expected})",
                event.seq,
                f"The result must describe each branch as it stood when execute() returned. "
                f"Branch {b} was {view.status_of(b)}, which reports as {expected}, so the "
                "result misstates the branch's outcome to the caller and to the checkpoint.",
            )
    statuses = [view.status_of(b) for b in range(branches)]
    succeeded, failed = statuses.count("COMPLETED"), statuses.count("FAILED")
    if not is_finished(succeeded, failed, branches, config):
        return Violation(
            "outcome_matches_completion",
            f"execute() returned with {succeeded} succeeded, {failed} failed of {branches}: "
            "completion criteria not met",
            event.seq,
            f"With {config} the operation is only finished when enough branches succeeded, all "
            "finished, or failures exceed the tolerance. None held when execute() returned, "
            "so it reported a result while work it was required to finish was still "
            "outstanding.",
        )
    reason = event.get("reason")
    expected_reason = completion_reason(succeeded, failed, branches, config)
    if reason is not None and _reason_name(reason) != expected_reason:
        return Violation(
            "outcome_matches_completion",
            f"completion reason {_reason_name(reason)} but the counts give {expected_reason}",
            event.seq,
            f"{succeeded} succeeded and {failed} failed of {branches} with {config} give the "
            f"completion reason {expected_reason}, yet the result carries "
            f"{_reason_name(reason)}. Callers branch on this reason.",
        )
    return None


def _judge_suspend(event: Event, view: SchedulerView) -> Violation | None:
    suspended = sorted(b for b, s in view.status.items() if s in SUSPENDED_STATES)
    active = sorted(b for b, s in view.status.items() if s in ACTIVE_STATES)
    if active:
        shown = ", ".join(f"{b}={view.status_of(b)}" for b in active)
        return Violation(
            "outcome_matches_completion",
            f"execute() raised {event.get('error')} (suspend) while branch(es) {shown}",
            event.seq,
            "A suspend tells the backend that nothing can progress in this invocation. At the "
            f"moment execute() raised it, branch(es) {shown} were still able to run here, so "
            "their in-process work is abandoned and redone after reinvocation.",
        )
    if not suspended:
        return Violation(
            "outcome_matches_completion",
            f"execute() raised {event.get('error')} (suspend) but no branch was suspended",
            event.seq,
            "A suspend is only justified by a branch waiting on a timer or an external "
            "callback. Every branch had completed or failed when execute() raised it, so the "
            "operation should have returned its result instead.",
        )
    return None
