"""The shared state refresh: never under the scheduler lock, and a failed one submits nothing."""

from __future__ import annotations

from invariants.base import Violation, invariant
from invariants.scheduler_view import branch_list, is_resume
from scheduler.record import Event, Record


@invariant
def no_refresh_under_lock(record: Record) -> Violation | None:
    """The blocking checkpoint refresh never runs while the scheduler lock is held.

    Violated at the first `refresh_start` whose thread holds the scheduler lock (`lock_held`).
    Under the lock, every `schedule_resume` from a done-callback queues behind a network round
    trip: the serialisation the issue measured in 1.5.0.
    """
    for event in record:
        if event.kind == "refresh_start" and event.lock_held:
            return Violation(
                "no_refresh_under_lock",
                f"refresh {event.get('call')} started on thread {event.thread} while holding "
                "the scheduler lock",
                event.seq,
                "The refresh is a blocking network call. Holding the scheduler lock across it "
                "makes every branch that wants to schedule its next wait queue behind the "
                "round trip, and lets only one resume happen per round trip: the throughput "
                "limit the issue describes.",
            )
    return None


@invariant
def no_submit_after_failed_refresh(record: Record) -> Violation | None:
    """A wave whose shared refresh failed is not submitted.

    The *failed wave* of a `refresh_fail` is the `branches` of the latest `resubmit` event
    before it. Violated at the first `submit` of a branch of a failed wave after that
    `refresh_fail`, unless the branch was *resumed* again in between (a `status` event from a
    suspended state to PENDING starts a new wave, judged by its own refresh).
    """
    wave: list[int] = []
    failed: dict[int, Event] = {}
    for event in record:
        if event.kind == "resubmit":
            wave = branch_list(event.get("branches"))
        elif event.kind == "refresh_fail":
            for branch in wave:
                failed[branch] = event
        elif is_resume(event) and event.branch is not None:
            failed.pop(event.branch, None)
        elif event.kind == "submit" and event.branch in failed:
            failure = failed[event.branch]
            return Violation(
                "no_submit_after_failed_refresh",
                f"branch {event.branch} submitted after the refresh for its wave failed at seq "
                f"{failure.seq} ({failure.get('error')})",
                event.seq,
                f"Branch {event.branch} belongs to the wave whose shared refresh failed, so its "
                "new attempt would run against state that was never refreshed. The fix's "
                "contract is to record the error, wake execute() and submit nothing from the "
                "failed wave.",
            )
    return None
